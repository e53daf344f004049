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

describe("incremental edits outside the document", () => {
  it("clamps an edit a billion lines past the end, then serves ordinary edits and completion", async () => {
    const client = await start();
    const uri = "file:///work/demo/src/far.ts";
    await client.open(uri, "typescript", "const a = 1;\n");
    await client.edit(uri, { start: { line: 1e9, character: 0 }, end: { line: 1e9 + 1, character: 0 } }, "\n");
    await client.edit(uri, { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, "x");
    await client.edit(uri, { start: { line: 1, character: 0 }, end: { line: 1, character: 0 } }, "const b = ");
    const list = await client.complete(uri, { line: 1, character: 10 });
    expect(list).not.toBeNull();
    await expectStillServing(client);
    expect(await client.shutdownAndExit()).toBe(0);
  });

  it("survives negative, reversed, fractional, non-numeric and missing positions and malformed changes", async () => {
    const client = await start();
    const uri = "file:///work/demo/src/odd.ts";
    await client.open(uri, "typescript", "line one\nline two\n");
    const hostile: unknown[] = [
      { range: { start: { line: -5, character: -3 }, end: { line: -1, character: -1 } }, text: "a" },
      { range: { start: { line: 1, character: 4 }, end: { line: 0, character: 2 } }, text: "b" },
      { range: { start: { line: 0.5, character: 1.5 }, end: { line: 1e308, character: 1e308 } }, text: "c\n" },
      { range: { start: { line: "x", character: null }, end: { line: {}, character: [] } }, text: "d" },
      { range: { start: null, end: 3 }, text: "e" },
      { range: { start: { line: Number.MAX_SAFE_INTEGER, character: 0 }, end: { line: 0, character: Number.MAX_SAFE_INTEGER } }, text: "f" },
      { text: 42 },
      null,
      "text",
    ];
    let version = 1;
    for (const change of hostile) {
      await client.connection.sendNotification("textDocument/didChange", { textDocument: { uri, version: ++version }, contentChanges: [change] });
    }
    await client.connection.sendNotification("textDocument/didChange", { textDocument: { uri, version: ++version }, contentChanges: "not an array" });
    await client.edit(uri, { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, "const z = ");
    expect(await client.complete(uri, { line: 0, character: 10 })).not.toBeNull();
    await expectStillServing(client);
    expect(await client.shutdownAndExit()).toBe(0);
  });

  it("drops the text of a document that grows past the size cap, says so, and keeps serving", async () => {
    const client = await start();
    const uri = "file:///work/demo/src/huge.ts";
    const chunk = "x".repeat(9 * 1024 * 1024);
    await client.open(uri, "typescript", chunk);
    await client.edit(uri, { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, chunk);
    expect(await client.complete(uri, { line: 0, character: 5 })).not.toBeNull();
    expect(client.stderr.text).toMatch(/document exceeds the size cap/);
    // A full-text change that fits brings the document back.
    await client.connection.sendNotification("textDocument/didChange", { textDocument: { uri, version: 10 }, contentChanges: [{ text: "const small = " }] });
    expect(await client.complete(uri, { line: 0, character: 14 })).not.toBeNull();
    await expectStillServing(client);
    expect(await client.shutdownAndExit()).toBe(0);
  });
});
