import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ITEMS_CLIENT, startStdioServer, type TestClient } from "./helpers/lspClient.js";
import { tempDir, tinyModel } from "./helpers/models.js";

/**
 * Document text and edits that used to hang or kill the real server, sent over stdio as a client
 * would. After each, an ordinary completion must still be answered.
 */
const fast = { model: { threads: 1, batchSize: 32 }, completion: { debounceMs: 0, maxTokens: 8, maxMultilineTokens: 8 } };
const normalUri = "file:///work/demo/src/normal.ts";
const normalText = "export function greet(name: string): string {\n  const message = \n  return message;\n}\n";
const normalCursor = { line: 1, character: "  const message = ".length };

let modelPath: string;
const dir = tempDir();
const clients: TestClient[] = [];

beforeAll(async () => {
  modelPath = await tinyModel();
});
afterEach(() => {
  for (const c of clients.splice(0)) c.kill();
});
afterAll(() => dir.cleanup());

async function start(): Promise<TestClient> {
  const client = startStdioServer({ IFAI_CACHE_DIR: dir.path });
  clients.push(client);
  await client.initialize(ITEMS_CLIENT, { ...fast, model: { ...fast.model, path: modelPath } });
  return client;
}

/** The server still serves: an ordinary completion in an ordinary document gets an answer. */
async function expectStillServing(client: TestClient): Promise<void> {
  await client.open(normalUri, "typescript", normalText);
  const list = await client.complete(normalUri, normalCursor);
  expect(list).not.toBeNull();
  expect(Array.isArray(list!.items)).toBe(true);
}

describe("documents that start with line breaks", () => {
  it("answers completion in a document whose first character is a newline (LF, CRLF, blank lines)", async () => {
    const client = await start();
    const cases = [
      { text: "\nconst a = ", position: { line: 1, character: 10 } },
      { text: "\r\nconst a = ", position: { line: 1, character: 10 } },
      { text: "\n\n\nconst a = ", position: { line: 3, character: 10 } },
      { text: "\n", position: { line: 1, character: 0 } },
      { text: "\n\n", position: { line: 1, character: 0 } },
    ];
    for (const [i, c] of cases.entries()) {
      const uri = `file:///work/demo/src/leading${i}.ts`;
      await client.open(uri, "typescript", c.text);
      const list = await client.complete(uri, c.position);
      expect(list).not.toBeNull();
    }
    await expectStillServing(client);
    expect(await client.shutdownAndExit()).toBe(0);
  });
});
