import { spawnSync } from "node:child_process";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { CopilotInlineEditResult, StatusParams } from "../src/server/protocol.js";
import { INLINE_CLIENT, startStdioServer, type TestClient } from "./helpers/lspClient.js";
import { tempDir, tinyModel } from "./helpers/models.js";
import { OpenAIFixture } from "./helpers/openaiFixture.js";
import { binPath, nodeBinary } from "./helpers/paths.js";

/**
 * Acceptance feedback on the real server over stdio: suggestions carry an id in their command,
 * the client's didShow / partial / dismiss notifications and the accept commands are counted in
 * the local file, and where next edits keep being dismissed the editor's automatic requests are
 * answered with none, without a model call. Next edits are served by the OpenAI-compatible
 * fixture on 127.0.0.1 with a scripted rewrite, so that there is an edit to give feedback on.
 */
const uri = "file:///work/demo/src/calc.ts";
const text = "export function add(a: number, b: number): number {\n  return a + b;\n}\n";
const renamed = text.replace("add(a:", "add(first:");
const rewrite = "```typescript\n" + renamed.replace("return a + b", "return first + b").trimEnd() + "\n```";

let modelPath: string;
let fixture: OpenAIFixture;
const clients: TestClient[] = [];
const dirs: Array<ReturnType<typeof tempDir>> = [];

beforeAll(async () => {
  modelPath = await tinyModel();
  fixture = new OpenAIFixture(modelPath);
  await fixture.start();
});
afterEach(() => {
  for (const c of clients.splice(0)) c.kill();
  for (const d of dirs.splice(0)) d.cleanup();
  fixture.clear();
});
afterAll(async () => {
  await fixture.stop();
});

async function start(feedback: Record<string, unknown>): Promise<{ client: TestClient; cache: string }> {
  const dir = tempDir("ifai-feedback-");
  dirs.push(dir);
  const client = startStdioServer({ IFAI_CACHE_DIR: dir.path });
  clients.push(client);
  await client.initialize(
    INLINE_CLIENT,
    {
      model: { path: modelPath, threads: 1, batchSize: 32 },
      completion: { debounceMs: 0, maxTokens: 6 },
      nextEdit: { maxTokens: 200 },
      feedback,
      cloud: { providers: { fx: { baseUrl: fixture.baseUrl, model: "tiny" } }, timeoutMs: 5000, maxRetries: 0, cooldownSeconds: 0 },
      router: { taskPreference: { nextEdit: "cloud" } },
    },
    "file:///work/demo",
  );
  return { client, cache: dir.path };
}

const isNextEdit = (body: any): boolean => JSON.stringify(body).includes("Editable region");

function inlineEdit(client: TestClient, version: number, triggerKind?: 1 | 2): Promise<CopilotInlineEditResult> {
  return client.connection.sendRequest("textDocument/copilotInlineEdit", {
    textDocument: { uri, version },
    position: { line: 0, character: 25 },
    ...(triggerKind ? { context: { triggerKind } } : {}),
  }) as Promise<CopilotInlineEditResult>;
}

/** What `ifai-lsp stats --json` prints for a cache folder. */
function stats(cache: string): any {
  const run = spawnSync(nodeBinary, [binPath, "stats", "--json"], { env: { ...process.env, IFAI_CACHE_DIR: cache }, encoding: "utf8" });
  expect(run.status).toBe(0);
  return JSON.parse(run.stdout);
}

describe("acceptance feedback over stdio", () => {
  it("gives each ghost text an accept command with an id, and counts shown, partial and accepted once each", async () => {
    const { client, cache } = await start({});
    await client.open(uri, "typescript", text);
    // The tiny model's greedy text at the end of a line; asked at a few places until one is non-empty.
    let item: any;
    for (const character of [51, 14, 0]) {
      const list = await client.inline(uri, { line: character === 0 ? 2 : character === 14 ? 1 : 0, character });
      item = list?.items[0];
      if (item) break;
    }
    expect(item, "the tiny model suggested nothing at three places").toBeDefined();
    expect(item.command).toMatchObject({ command: "ifai.completion.accepted", arguments: [{ id: expect.any(String) }] });
    // Shown twice (a redraw), accepted in part, then fully: one shown, one accepted, no partial left.
    await client.connection.sendNotification("textDocument/didShowCompletion", { item });
    await client.connection.sendNotification("textDocument/didShowCompletion", { item });
    await client.connection.sendNotification("textDocument/didPartiallyAcceptCompletion", { item, acceptedLength: 1 });
    expect(await client.connection.sendRequest("workspace/executeCommand", item.command)).toBeNull();
    // Feedback on an id the server never gave out is ignored; bad arguments are InvalidParams.
    await client.connection.sendNotification("ifai/didDismissSuggestion", { item: { command: { command: "ifai.completion.accepted", arguments: [{ id: "made-up" }] } } });
    await expect(client.connection.sendRequest("workspace/executeCommand", { command: "ifai.completion.accepted", arguments: [42] })).rejects.toMatchObject({ code: -32602 });
    // Malformed notifications are dropped by the message gate; the server keeps serving.
    await client.connection.sendNotification("textDocument/didShowCompletion", { item: "nope" });
    await client.connection.sendNotification("textDocument/didPartiallyAcceptCompletion", { item, acceptedLength: -1 });
    expect(await client.shutdownAndExit()).toBe(0);
    const data = stats(cache);
    expect(data.kinds.completion.typescript).toMatchObject({ shown: 1, accepted: 1, partial: 0, dismissed: 0, recent: "a" });
    expect(data.totals.nextEdit.shown).toBe(0);
  });

  it("goes quiet for next edits in a language the user keeps dismissing them in: automatic requests get none without a model call, a request the user makes still runs", async () => {
    const { client, cache } = await start({ quietWindow: 2, quietBelow: 0.5, quietMinutes: 60 });
    await client.open(uri, "typescript", text);
    await client.edit(uri, { start: { line: 0, character: 20 }, end: { line: 0, character: 21 } }, "first");
    fixture.when(isNextEdit, { kind: "reply", text: rewrite }, { kind: "reply", text: rewrite }, { kind: "reply", text: rewrite });
    for (let i = 0; i < 2; i++) {
      const result = await inlineEdit(client, 2);
      expect(result.edits).toHaveLength(1);
      const edit = result.edits[0]!;
      expect(edit.command).toMatchObject({ command: "ifai.nextEdit.accepted", arguments: [{ uri, version: 2, id: expect.any(String) }] });
      await client.connection.sendNotification("textDocument/didShowCompletion", { item: edit });
      await client.connection.sendNotification("ifai/didDismissSuggestion", { item: edit });
    }
    // Two dismissed of two: quiet. The status says so.
    const status: StatusParams = await client.waitForNotification("ifai/status", (s: StatusParams) => (s.feedback?.quiet.length ?? 0) > 0);
    expect(status.feedback!.quiet).toEqual([{ kind: "nextEdit", languageId: "typescript", until: expect.any(String) }]);
    expect(status.feedback!.nextEdit).toEqual({ shown: 2, accepted: 0, partial: 0, dismissed: 2 });
    const asked = fixture.requests.filter((r) => isNextEdit(r.body)).length;
    expect(await inlineEdit(client, 2)).toEqual({ edits: [] });
    expect(await inlineEdit(client, 2, 2)).toEqual({ edits: [] });
    expect(fixture.requests.filter((r) => isNextEdit(r.body)).length).toBe(asked);
    // Ghost text in the same language is not quiet: only next edits were dismissed.
    const ghost = await client.inline(uri, { line: 1, character: 14 });
    expect(ghost).not.toBeNull();
    // The user's own request (triggerKind 1) is answered by the model.
    const invoked = await inlineEdit(client, 2, 1);
    expect(invoked.edits).toHaveLength(1);
    expect(fixture.requests.filter((r) => isNextEdit(r.body)).length).toBe(asked + 1);
    expect(await client.shutdownAndExit()).toBe(0);
    const data = stats(cache);
    expect(data.kinds.nextEdit.typescript).toMatchObject({ shown: 2, dismissed: 2, quietPeriods: 1, quietSkips: 2 });
    expect(data.kinds.nextEdit.typescript.quietUntil).toBeGreaterThan(Date.now());
  });

  it("with feedback.quiet off keeps answering, and with feedback.store off writes nothing", async () => {
    const { client, cache } = await start({ quiet: false, store: false, quietWindow: 2 });
    await client.open(uri, "typescript", text);
    await client.edit(uri, { start: { line: 0, character: 20 }, end: { line: 0, character: 21 } }, "first");
    fixture.when(isNextEdit, { kind: "reply", text: rewrite }, { kind: "reply", text: rewrite }, { kind: "reply", text: rewrite });
    for (let i = 0; i < 3; i++) {
      const result = await inlineEdit(client, 2);
      expect(result.edits).toHaveLength(1);
      await client.connection.sendNotification("ifai/didDismissSuggestion", { item: result.edits[0] });
    }
    expect(await client.shutdownAndExit()).toBe(0);
    expect(stats(cache).totals.nextEdit.shown).toBe(0);
  });
});
