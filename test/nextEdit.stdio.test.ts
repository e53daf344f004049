import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { CancellationTokenSource } from "vscode-jsonrpc/node";
import type { CopilotInlineEditResult, RouteLogResult } from "../src/server/protocol.js";
import { ITEMS_CLIENT, startStdioServer, type TestClient } from "./helpers/lspClient.js";
import { tempDir, tinyModel } from "./helpers/models.js";
import { OpenAIFixture } from "./helpers/openaiFixture.js";

/**
 * textDocument/copilotInlineEdit on the real server over stdio with the generated tiny model
 * (random weights: the machinery is real, the suggestions are noise, so most answers carry no
 * edits; what an edit must look like is checked by the pure tests and golden fixtures).
 */
const uri = "file:///work/demo/src/calc.ts";
const other = "file:///work/demo/src/other.ts";
const text = "export function add(a: number, b: number): number {\n  return a + b;\n}\n\nexport const total = add(1, 2);\n";

let modelPath: string;
let fixture: OpenAIFixture;
const KEY = `sk-fixture-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
const dir = tempDir();
const clients: TestClient[] = [];

beforeAll(async () => {
  modelPath = await tinyModel();
  fixture = new OpenAIFixture(modelPath);
  await fixture.start();
  fixture.requiredKey = KEY;
});
afterEach(() => {
  for (const c of clients.splice(0)) c.kill();
});
afterAll(async () => {
  await fixture.stop();
  dir.cleanup();
});

async function start(nextEdit: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): Promise<TestClient> {
  const client = startStdioServer({ IFAI_CACHE_DIR: dir.path, IFAI_TEST_KEY: KEY });
  clients.push(client);
  await client.initialize(
    ITEMS_CLIENT,
    {
      model: { path: modelPath, threads: 1, batchSize: 32 },
      completion: { debounceMs: 0, maxTokens: 8 },
      nextEdit: { maxTokens: 24, contextSize: 2048, ...nextEdit },
      ...extra,
    },
    "file:///work/demo",
  );
  return client;
}

/** A cloud provider on 127.0.0.1 (the fixture) that next edits are routed to. */
const viaCloud = {
  cloud: { providers: { fx: { baseUrl: "", model: "tiny", apiKeyEnv: "IFAI_TEST_KEY" } }, timeoutMs: 5000, maxRetries: 0, cooldownSeconds: 0 },
  router: { taskPreference: { nextEdit: "cloud" } },
};
function cloudSettings(): Record<string, unknown> {
  return { ...viaCloud, cloud: { ...viaCloud.cloud, providers: { fx: { ...viaCloud.cloud.providers.fx, baseUrl: fixture.baseUrl } } } };
}

/** `text` with LSP edits applied (line/character positions into `text`, sorted, non-overlapping). */
function applyLspEdits(text: string, edits: CopilotInlineEditResult["edits"]): string {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === "\n") starts.push(i + 1);
  const offset = (p: { line: number; character: number }): number => starts[p.line]! + p.character;
  let out = text;
  for (const e of [...edits].reverse()) out = out.slice(0, offset(e.range.start)) + e.text + out.slice(offset(e.range.end));
  return out;
}

function inlineEdit(client: TestClient, params: unknown, token?: CancellationTokenSource): Promise<CopilotInlineEditResult> {
  return (token
    ? client.connection.sendRequest("textDocument/copilotInlineEdit", params, token.token)
    : client.connection.sendRequest("textDocument/copilotInlineEdit", params)) as Promise<CopilotInlineEditResult>;
}

/** The server's debug log lines (JSON) with this message, parsed. */
function logLines(client: TestClient, msg: string): Array<Record<string, any>> {
  return client.stderr.text
    .split("\n")
    .filter((l) => l.includes(`"msg":"${msg}"`))
    .map((l) => JSON.parse(l) as Record<string, any>);
}

function expectShape(result: CopilotInlineEditResult, version: number): void {
  expect(Array.isArray(result.edits)).toBe(true);
  for (const e of result.edits) {
    expect(e.textDocument).toEqual({ uri, version });
    expect(typeof e.text).toBe("string");
    expect(e.range.start.line).toBeGreaterThanOrEqual(0);
    expect(e.command?.command).toBe("ifai.nextEdit.accepted");
  }
}

describe("textDocument/copilotInlineEdit over stdio", () => {
  it("runs the model on the history of edits across files, routed as task nextEdit, and answers in Copilot's shape", async () => {
    const client = await start();
    await client.open(uri, "typescript", text);
    await client.open(other, "typescript", "const x = 1;\n");
    // Rename a parameter (typed as three keystrokes: one merged edit), then touch another file.
    await client.edit(uri, { start: { line: 0, character: 20 }, end: { line: 0, character: 21 } }, "l");
    await client.edit(uri, { start: { line: 0, character: 21 }, end: { line: 0, character: 21 } }, "h");
    await client.edit(uri, { start: { line: 0, character: 22 }, end: { line: 0, character: 22 } }, "s");
    await client.edit(other, { start: { line: 0, character: 11 }, end: { line: 0, character: 11 } }, "0");
    const result = await inlineEdit(client, { textDocument: { uri, version: 4 }, position: { line: 1, character: 9 } });
    expectShape(result, 4);
    const [ran] = [...logLines(client, "next edit: none"), ...logLines(client, "next edit suggested")];
    expect(ran).toBeDefined();
    expect(ran!.history).toBe(2);
    expect(ran!.promptTokens).toBeGreaterThan(50);
    expect(ran!.backend).toBe("local");
    const log = (await client.connection.sendRequest("ifai/routeLog", {})) as RouteLogResult;
    expect(log.decisions.some((d) => d.task === "nextEdit" && d.backend === "local")).toBe(true);
    // The accept command each edit carries is known to the server.
    expect(await client.connection.sendRequest("workspace/executeCommand", { command: "ifai.nextEdit.accepted", arguments: [{ uri, version: 4 }] })).toBeNull();
    expect(await client.shutdownAndExit()).toBe(0);
  });

  it("never answers for a version the document no longer has", async () => {
    const client = await start();
    await client.open(uri, "typescript", text);
    await client.edit(uri, { start: { line: 3, character: 0 }, end: { line: 3, character: 0 } }, "// note\n");
    const result = await inlineEdit(client, { textDocument: { uri, version: 1 }, position: { line: 1, character: 2 } });
    expect(result).toEqual({ edits: [] });
    // Nothing ran for it: a stale request never reaches the model.
    expect(logLines(client, "next edit suggested")).toEqual([]);
    expect(logLines(client, "next edit: none").every((l) => l.reason === "stale")).toBe(true);
    expect(await client.shutdownAndExit()).toBe(0);
  });

  it("is cancelled by typing and by a newer request (latest wins), and by $/cancelRequest", async () => {
    // A long answer budget, so the first request is still running when the others arrive.
    const client = await start({ maxTokens: 4000, maxTimeMs: 120000 });
    await client.open(uri, "typescript", text);
    const first = inlineEdit(client, { textDocument: { uri, version: 1 }, position: { line: 1, character: 2 } });
    const second = inlineEdit(client, { textDocument: { uri, version: 1 }, position: { line: 1, character: 3 } });
    await client.edit(uri, { start: { line: 1, character: 2 }, end: { line: 1, character: 2 } }, "x");
    expect(await first).toEqual({ edits: [] });
    expect(await second).toEqual({ edits: [] });
    const reasons = logLines(client, "next edit: none").map((l) => l.reason);
    expect(reasons).toEqual(["superseded", "typing"]);

    const token = new CancellationTokenSource();
    const third = inlineEdit(client, { textDocument: { uri, version: 2 }, position: { line: 1, character: 3 } }, token);
    token.cancel();
    const answer = await third.catch((error: { code?: number }) => error);
    // Cancelled before or while it ran: either no edits, or the RequestCancelled error vscode-jsonrpc may send.
    expect("edits" in (answer as object) ? (answer as CopilotInlineEditResult).edits : (answer as { code: number }).code).toEqual(
      "edits" in (answer as object) ? [] : -32800,
    );
    expect(await client.shutdownAndExit()).toBe(0);
  });

  it("answers hostile params with InvalidParams or no edits, and keeps serving", async () => {
    const client = await start();
    await client.open(uri, "typescript", text);
    const invalid = [
      {},
      { textDocument: { uri }, position: { line: 0, character: 0 } },
      { textDocument: { uri, version: "1" }, position: { line: 0, character: 0 } },
      { textDocument: { uri, version: 1 }, position: { line: -1, character: 0 } },
      { textDocument: { uri, version: 1 }, position: { line: 0, character: 1.5 } },
      { textDocument: "file:///x", position: { line: 0, character: 0 } },
      { textDocument: { uri, version: 1 } },
    ];
    for (const params of invalid) {
      await expect(inlineEdit(client, params)).rejects.toMatchObject({ code: -32602 });
    }
    // Not open, and positions far past the end (clamped): answers, not errors.
    expect(await inlineEdit(client, { textDocument: { uri: "file:///work/demo/src/closed.ts", version: 1 }, position: { line: 0, character: 0 } })).toEqual({ edits: [] });
    expectShape(await inlineEdit(client, { textDocument: { uri, version: 1 }, position: { line: 1e9, character: 1e9 } }), 1);
    // Still serving completions, and a clean exit: no crash.
    const list = await client.complete(uri, { line: 1, character: 9 });
    expect(list).not.toBeNull();
    expect(await client.shutdownAndExit()).toBe(0);
  });

  it("served by a cloud provider where the router allows: a rename at the cursor yields the edits of the other uses, and applying them gives exactly the expected text", async () => {
    const client = await start({}, cloudSettings());
    await client.open(uri, "typescript", text);
    // The user renames the parameter `a` to `first`; the cursor stays there (line 0).
    await client.edit(uri, { start: { line: 0, character: 20 }, end: { line: 0, character: 21 } }, "first");
    const now = text.replace("add(a:", "add(first:");
    const expected = now.replace("return a + b", "return first + b");
    fixture.when((body) => JSON.stringify(body).includes("Editable region"), { kind: "reply", text: "```typescript\n" + expected.trimEnd() + "\n```" });
    const before = fixture.requests.length;
    const result = await inlineEdit(client, { textDocument: { uri, version: 2 }, position: { line: 0, character: 25 } });
    expectShape(result, 2);
    // One minimal edit, on the line below the cursor: the use of the old name, nothing else.
    expect(result.edits).toHaveLength(1);
    expect(result.edits[0]!.range).toEqual({ start: { line: 1, character: 9 }, end: { line: 1, character: 10 } });
    expect(result.edits[0]!.text).toBe("first");
    expect(applyLspEdits(now, result.edits)).toBe(expected);
    // It went to the provider's chat API, with the recent edit and the cursor marker in it.
    const sent = fixture.requests.slice(before).find((r) => r.path.endsWith("/chat/completions"))!;
    const user = sent.body.messages.find((m: { role: string }) => m.role === "user").content as string;
    expect(user).toContain("+export function add(first: number");
    expect(user).toContain("<|cursor|>");
    const log = (await client.connection.sendRequest("ifai/routeLog", {})) as RouteLogResult;
    expect(log.decisions.at(-1)).toMatchObject({ task: "nextEdit", backend: "cloud" });
    fixture.clear();
    expect(await client.shutdownAndExit()).toBe(0);
  });

  it("reads an answer that leaves out the final line break of a region at the end of the file as the same lines (one small edit, not a rewrite to the end)", async () => {
    const client = await start({}, cloudSettings());
    const small = "export function area(w: number, h: number): number {\n  return w * h;\n}\n";
    await client.open(uri, "typescript", small);
    await client.edit(uri, { start: { line: 0, character: 21 }, end: { line: 0, character: 22 } }, "width");
    const now = small.replace("area(w:", "area(width:");
    const expected = now.replace("return w *", "return width *");
    // The code block ends right after "}": the region's final line break is not in it.
    fixture.when((body) => JSON.stringify(body).includes("Editable region"), { kind: "reply", text: "```typescript\n" + expected.trimEnd() + "\n```" });
    const result = await inlineEdit(client, { textDocument: { uri, version: 2 }, position: { line: 0, character: 26 } });
    expect(result.edits.map((e) => [e.range, e.text])).toEqual([[{ start: { line: 1, character: 9 }, end: { line: 1, character: 10 } }, "width"]]);
    expect(applyLspEdits(now, result.edits)).toBe(expected);
    fixture.clear();
    expect(await client.shutdownAndExit()).toBe(0);
  });

  it("keeps the request local when the history holds an edit of a secret file", async () => {
    const client = await start({}, cloudSettings());
    const secret = "file:///work/demo/.env";
    await client.open(secret, "plaintext", "API_TOKEN=abc\n");
    await client.open(uri, "typescript", text);
    await client.edit(secret, { start: { line: 0, character: 10 }, end: { line: 0, character: 13 } }, "xyz");
    const before = fixture.requests.length;
    expectShape(await inlineEdit(client, { textDocument: { uri, version: 1 }, position: { line: 1, character: 2 } }), 1);
    expect(fixture.requests.length).toBe(before);
    const log = (await client.connection.sendRequest("ifai/routeLog", {})) as RouteLogResult;
    const decision = log.decisions.at(-1)!;
    expect(decision).toMatchObject({ task: "nextEdit", backend: "local" });
    expect(decision.refused).toMatch(/\.env/);
    expect(await client.shutdownAndExit()).toBe(0);
  });
});
