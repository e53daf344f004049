import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { CancellationTokenSource } from "vscode-jsonrpc/node";
import { VERSION } from "../src/version.js";
import type { CompletionMetricsResult, StatusParams } from "../src/server/protocol.js";
import { INLINE_CLIENT, ITEMS_CLIENT, startStdioServer, waitForExit, type TestClient } from "./helpers/lspClient.js";
import { tempDir, tinyModel } from "./helpers/models.js";
import { binPath, nodeBinary } from "./helpers/paths.js";
import { frame, LspProcess } from "../src/devtools/fuzz/LspProcess.js";

const fast = { model: { threads: 1, batchSize: 32 }, completion: { debounceMs: 0, maxTokens: 12, maxMultilineTokens: 24 } };
const uri = "file:///work/demo/src/main.ts";
const source = "export function greet(name: string): string {\n  const message = \n  return message;\n}\n";
const cursor = { line: 1, character: "  const message = ".length };

let modelPath: string;
const clients: TestClient[] = [];
const dir = tempDir();
const start = (env: NodeJS.ProcessEnv = {}): TestClient => {
  const client = startStdioServer({ IFAI_CACHE_DIR: dir.path, ...env });
  clients.push(client);
  return client;
};

beforeAll(async () => {
  modelPath = await tinyModel();
});
afterEach(() => {
  for (const c of clients.splice(0)) c.kill();
});
afterAll(() => dir.cleanup());

describe("command line", () => {
  const run = (...args: string[]) => spawnSync(nodeBinary, [binPath, ...args], { encoding: "utf8" });

  it("prints its version and help, and refuses to start without a transport", () => {
    expect(run("--version").stdout.trim()).toBe(VERSION);
    expect(run("--help").stdout).toMatch(/--stdio[\s\S]*--socket=PORT[\s\S]*--node-ipc/);
    const none = run();
    expect(none.status).toBe(2);
    expect(none.stderr).toMatch(/no transport given/);
    expect(none.stdout).toBe("");
  });

  const systemNode = "/usr/bin/node";
  const systemMajor = fs.existsSync(systemNode) ? Number(spawnSync(systemNode, ["-p", "process.versions.node.split('.')[0]"], { encoding: "utf8" }).stdout) : 0;
  it.skipIf(!(systemMajor > 0 && systemMajor < 22))(
    "refuses Node versions older than 22 with a clear message where it cannot hand over to the clone's Node 24 (needs a system Node older than 22 at /usr/bin/node, as on the build machines; the handover: package.bin.test.ts)",
    () => {
      // --node-ipc is the one transport a second process cannot take over.
      const old = spawnSync(systemNode, [binPath, "--node-ipc"], { encoding: "utf8" });
      expect(old.stderr).toMatch(/needs Node\.js 22 or newer/);
      expect(old.status).toBe(1);
    },
  );
});

describe("lifecycle and capabilities", () => {
  it("offers inline completion only to clients that advertise it, items to everyone", async () => {
    const inline = start();
    const a = await inline.initialize(INLINE_CLIENT, { model: { path: modelPath } });
    expect(a.capabilities.inlineCompletionProvider).toBeTruthy();
    expect(a.capabilities.completionProvider).toBeTruthy();
    expect(a.capabilities.textDocumentSync).toMatchObject({ change: 2, openClose: true });
    expect(a.serverInfo).toEqual({ name: "ifai-lsp", version: VERSION });

    const plain = start();
    const b = await plain.initialize(ITEMS_CLIENT, { model: { path: modelPath } });
    expect(b.capabilities.inlineCompletionProvider).toBeUndefined();
    expect(b.capabilities.completionProvider).toBeTruthy();

    const optIn = start();
    const c = await optIn.initialize(ITEMS_CLIENT, { completion: { inline: "on" } });
    expect(c.capabilities.inlineCompletionProvider).toBeTruthy();
  });

  it("exits 0 after shutdown and exit, 1 on exit without shutdown", async () => {
    const polite = start();
    await polite.initialize(ITEMS_CLIENT);
    expect(await polite.shutdownAndExit()).toBe(0);

    const rude = start();
    await rude.initialize(ITEMS_CLIENT);
    const exited = waitForExit(rude.process!);
    await rude.connection.sendNotification("exit");
    expect(await exited).toBe(1);
  });

  it("exits when the client vanishes mid-request", async () => {
    const client = start();
    await client.initialize(INLINE_CLIENT, { ...fast, model: { ...fast.model, path: modelPath } });
    await client.open(uri, "typescript", source);
    void client.inline(uri, cursor).catch(() => undefined);
    const exited = waitForExit(client.process!);
    client.process!.stdin!.end();
    expect(await exited).toBe(1);
  });
});

describe("completions from the generated model", () => {
  let client: TestClient;
  beforeAll(async () => {
    client = startStdioServer({ IFAI_CACHE_DIR: dir.path });
    await client.initialize(INLINE_CLIENT, { ...fast, model: { ...fast.model, path: modelPath } });
  });
  afterAll(async () => {
    expect(await client.shutdownAndExit()).toBe(0);
  });

  const metrics = async (): Promise<CompletionMetricsResult> => client.connection.sendRequest("ifai/completionMetrics", {});

  it("answers inline completion with items that insert at the cursor", async () => {
    await client.open(uri, "typescript", source);
    const list = await client.inline(uri, cursor);
    expect(list).not.toBeNull();
    for (const item of list!.items) {
      expect(item.range).toEqual({ start: cursor, end: cursor });
      expect(typeof item.insertText).toBe("string");
    }
    const last = (await metrics()).records.at(-1)!;
    expect(last.source).toBe("model");
    expect(last.promptTokens).toBeGreaterThan(0);
    expect(last.mode).toBe("single-line");
  });

  it("reuses the cache: the same context again is answered without the model", async () => {
    const before = await client.inline(uri, cursor);
    const again = await client.inline(uri, cursor);
    expect(again).toEqual(before);
    expect((await metrics()).records.at(-1)!.source).toBe("cache");
  });

  it("evaluates only the new tokens and the suffix after a keystroke", async () => {
    await client.edit(uri, { start: cursor, end: cursor }, "x");
    await client.inline(uri, { line: 1, character: cursor.character + 1 });
    const last = (await metrics()).records.at(-1)!;
    expect(last.source).toBe("model");
    expect(last.reusedTokens).toBeGreaterThan(last.promptTokens / 2);
    expect(last.evaluatedTokens).toBeLessThanOrEqual(40);
  });

  it("answers a superseded request empty at once: the latest request wins", async () => {
    await client.edit(uri, { start: { line: 1, character: cursor.character + 1 }, end: { line: 1, character: cursor.character + 1 } }, "y");
    const position = { line: 1, character: cursor.character + 2 };
    const first = client.inline(uri, position);
    await client.edit(uri, { start: position, end: position }, "z");
    const second = client.inline(uri, { line: 1, character: cursor.character + 3 });
    const [a] = await Promise.all([first, second]);
    expect(a!.items).toEqual([]);
    const sources = (await metrics()).records.slice(-2).map((r) => r.source);
    expect(sources).toEqual(["superseded", "model"]);
  });

  it("answers a cancelled request and goes on serving", async () => {
    const token = new CancellationTokenSource();
    const pending = client.inline(uri, { line: 2, character: 2 }, token);
    token.cancel();
    const answer = await pending.catch((e: unknown) => e);
    expect(answer === null || (answer as { items?: unknown[] }).items !== undefined || answer instanceof Error).toBe(true);
    const next = await client.inline(uri, { line: 2, character: 3 });
    expect(next).not.toBeNull();
  });

  it("gives ordinary completion items replacing the word typed so far, in UTF-16 units", async () => {
    const doc = "file:///work/demo/src/unicode.ts";
    const line = "const 😀é = naïveVal";
    await client.open(doc, "typescript", `${line}\n`);
    const list = await client.complete(doc, { line: 0, character: line.length });
    expect(list?.isIncomplete).toBe(true);
    for (const item of list!.items) {
      const edit = item.textEdit as { range: { start: { character: number }; end: { character: number } }; newText: string };
      expect(edit.range.start.character).toBe(line.indexOf("naïveVal"));
      expect(edit.range.end.character).toBe(line.length);
      expect(edit.newText.startsWith("naïveVal")).toBe(true);
      expect(item.filterText).toBe(edit.newText);
    }
  });

  it("survives bad input: unknown documents, positions past the end, huge and binary documents, unknown methods", async () => {
    expect(await client.inline("file:///nowhere.ts", { line: 0, character: 0 })).toEqual({ items: [] });
    expect((await client.complete("file:///nowhere.ts", { line: 0, character: 0 }))?.items).toEqual([]);
    const past = await client.inline(uri, { line: 999, character: 999 });
    expect(past).not.toBeNull();

    const big = "file:///work/demo/big.ts";
    const bigText = "let a = 1;\n".repeat(500_000);
    await client.open(big, "typescript", bigText);
    const inBig = await client.inline(big, { line: 250_000, character: 8 });
    expect(inBig).not.toBeNull();

    const binary = "file:///work/demo/blob.bin";
    await client.open(binary, "plaintext", "\u0000\u0001\u0002binary\u0000".repeat(100));
    expect(await client.inline(binary, { line: 0, character: 10 })).toEqual({ items: [] });
    expect((await metrics()).records.at(-1)!.source).toBe("skipped");

    await expect(client.connection.sendRequest("ifai/noSuchMethod", {})).rejects.toThrow(/Unhandled method/);
    const after = await client.inline(uri, cursor);
    expect(after).not.toBeNull();
  });

  it("never writes anything but protocol messages to stdout", () => {
    // The client's reader would have reported a parse error for any stray byte.
    expect(client.stderr.text).not.toMatch(/Header must provide a Content-Length/);
    expect(client.stderr.text).toMatch(/"msg":"initialize"/);
  });
});

describe("a missing or invalid model", () => {
  it("answers completions empty, tells the user once what to configure, and reports the error state", async () => {
    const client = start();
    const missing = path.join(dir.path, "no-such-model.gguf");
    await client.initialize(INLINE_CLIENT, { ...fast, model: { ...fast.model, path: missing } });
    await client.open(uri, "typescript", source);
    for (let i = 0; i < 3; i++) expect(await client.inline(uri, cursor)).toEqual({ items: [] });
    const shown = client.notifications.filter((n) => n.method === "window/showMessage");
    expect(shown).toHaveLength(1);
    expect((shown[0]!.params as { message: string }).message).toMatch(/no model file at .*no-such-model\.gguf.*model\.path/);
    const status = (await client.waitForNotification("ifai/status", (p: StatusParams) => p.model.state === "error")) as StatusParams;
    expect(status.model.message).toMatch(/model\.path/);
    const records = ((await client.connection.sendRequest("ifai/completionMetrics", {})) as CompletionMetricsResult).records;
    expect(records.every((r) => r.source === "unavailable" || r.source === "cache")).toBe(true);
  });

  it("uses the default model path in the cache folder when none is configured", async () => {
    const client = start();
    await client.initialize(INLINE_CLIENT, fast);
    await client.open(uri, "typescript", source);
    expect(await client.inline(uri, cursor)).toEqual({ items: [] });
    const message = (await client.waitForNotification("window/showMessage")) as { message: string };
    expect(message.message).toContain(path.join(dir.path, "models", "qwen2.5-coder-0.5b-q4_k_m.gguf"));
  });

  it("a non-GGUF file is named as such", async () => {
    const bogus = path.join(dir.path, "bogus.gguf");
    fs.writeFileSync(bogus, "<html>not a model</html>");
    const client = start();
    await client.initialize(INLINE_CLIENT, { ...fast, model: { ...fast.model, path: bogus } });
    await client.open(uri, "typescript", source);
    expect(await client.inline(uri, cursor)).toEqual({ items: [] });
    const message = (await client.waitForNotification("window/showMessage")) as { message: string };
    expect(message.message).toMatch(/is not a GGUF model file/);
  });
});

describe("configuration", () => {
  it("reports invalid initializationOptions naming the key and keeps the default", async () => {
    const client = start();
    await client.initialize(ITEMS_CLIENT, { completion: { debounceMs: "soon" } });
    const message = (await client.waitForNotification("window/showMessage")) as { message: string };
    expect(message.message).toMatch(/"completion\.debounceMs": expected a number, got "soon"; keeping 0/);
  });

  it("pulls workspace/configuration and applies didChangeConfiguration", async () => {
    const client = start();
    client.workspaceSettings = { model: { path: path.join(dir.path, "pulled.gguf") }, completion: { debounceMs: 0 } };
    await client.initialize(INLINE_CLIENT);
    await client.waitForNotification("ifai/status", (p: StatusParams) => p.model.path.endsWith("pulled.gguf"));
    expect(client.serverRequests.some((r) => r.method === "workspace/configuration")).toBe(true);

    client.workspaceSettings = { model: { path: modelPath }, completion: { debounceMs: 0, enabled: false } };
    await client.connection.sendNotification("workspace/didChangeConfiguration", { settings: null });
    const status = (await client.waitForNotification("ifai/status", (p: StatusParams) => p.model.path === modelPath)) as StatusParams;
    expect(status.completion.enabled).toBe(false);
    await client.open(uri, "typescript", source);
    expect(await client.inline(uri, cursor)).toEqual({ items: [] });
    const records = ((await client.connection.sendRequest("ifai/completionMetrics", {})) as CompletionMetricsResult).records;
    expect(records.at(-1)!.source).toBe("disabled");

    await client.connection.sendNotification("workspace/didChangeConfiguration", { settings: { ifai: { model: { threads: -3 } } } });
    const warning = (await client.waitForNotification("window/showMessage", (p: { message: string }) => /model\.threads/.test(p.message))) as {
      message: string;
    };
    expect(warning.message).toMatch(/expected at least 0/);
  });
});

describe("hostile protocol input (issue 10: defects 3 and 11)", () => {
  const raw = (env: NodeJS.ProcessEnv = {}): LspProcess => {
    const p = new LspProcess({ env: { IFAI_CACHE_DIR: dir.path, IFAI_LOG_LEVEL: "info", ...env } });
    raws.push(p);
    return p;
  };
  const raws: LspProcess[] = [];
  afterEach(() => {
    for (const p of raws.splice(0)) p.kill();
  });

  it("resynchronises after every kind of bad header and answers the next message", async () => {
    const server = raw();
    const bad = [
      "Content-Length: abc\r\n\r\n{}",
      "Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n{}",
      "this line has no colon\r\n\r\n{}",
      "Content-Length: -5\r\n\r\n{}",
      `Content-Length: 3\r\n\r\n${JSON.stringify({ jsonrpc: "2.0", id: 99, method: "shutdown" })}`,
      "Content-Length: 10000000000\r\n\r\n",
      `Content-Length: 500\r\n\r\n{"jsonrpc":"2.0","id":98,"method"`,
      "\u0000\u00ff garbage \r\n",
    ];
    for (const [i, header] of bad.entries()) {
      server.write(header);
      const answer = await server.request("ifai/completionMetrics", {}, 1000 + i);
      // Not initialized yet, but heard: the gate answers.
      expect(answer.error?.code, `after ${JSON.stringify(header)}`).toBe(-32002);
    }
    // LF-only line ends, header names in another case, extra headers.
    const body = JSON.stringify({ jsonrpc: "2.0", id: 7, method: "initialize", params: { processId: null, capabilities: {} } });
    const answered = server.response(7);
    server.write(`content-type: application/vscode-jsonrpc; charset=utf8\ncontent-LENGTH: ${Buffer.byteLength(body)}\nX-Extra: 1\n\n${body}`);
    expect((await answered).result).toHaveProperty("capabilities");
    // The log lines may reach this process after the responses (separate pipes): wait for them.
    await server.stderrMatching(/framing error: Content-Length is not a non-negative whole number/);
    await server.stderrMatching(/framing error: no Content-Length header/);
    await server.stderrMatching(/framing error: header line without a name and colon/);
    await server.stderrMatching(/Content-Length 10000000000 is above the limit/);
    expect(server.pollution).toEqual([]);
  });

  it("answers a body that is not JSON with ParseError and id null", async () => {
    const server = raw();
    const parseError = server.response(null);
    server.write("Content-Length: 9\r\n\r\n{not json");
    expect((await parseError).error?.code).toBe(-32700);
    expect((await server.initialize()).result).toHaveProperty("capabilities");
  });

  it("exits 1 with a log line when the input is endless garbage", async () => {
    const server = raw();
    const junk = Buffer.alloc(1024 * 1024, "x");
    for (let i = 0; i < 40 && server.process.exitCode === null; i++) server.write(junk);
    const { code } = await server.exited;
    expect(code).toBe(1);
    await server.stderrMatching(/giving up on the input stream/);
  });

  it("follows the lifecycle: ServerNotInitialized before initialize, one initialize, InvalidRequest after shutdown, exit 0", async () => {
    const server = raw();
    expect((await server.request("textDocument/completion", { textDocument: { uri: "file:///a.ts" }, position: { line: 0, character: 0 } })).error?.code).toBe(-32002);
    expect((await server.initialize()).result).toHaveProperty("capabilities");
    expect((await server.request("initialize", { processId: null, capabilities: {} })).error?.code).toBe(-32600);
    expect((await server.request("shutdown")).error).toBeUndefined();
    const after = await Promise.all(Array.from({ length: 200 }, () => server.request("ifai/completionMetrics", {})));
    expect(after.map((a) => a.error?.code)).toEqual(Array(200).fill(-32600));
    server.notify("exit");
    expect((await server.exited).code).toBe(0);
  });

  it("answers both requests of a duplicate id pair: the second with InvalidRequest", async () => {
    const server = raw();
    await server.initialize();
    const answers: unknown[] = [];
    const both = server.waitFor((m) => {
      if (m.id === 5 && m.method === undefined) answers.push(m);
      return answers.length === 2;
    });
    const body = JSON.stringify({ jsonrpc: "2.0", id: 5, method: "ifai/completionMetrics", params: {} });
    server.write(Buffer.concat([frame(body), frame(body)]));
    await both;
    const codes = answers.map((a) => (a as { error?: { code: number } }).error?.code ?? "ok").sort();
    expect(codes).toEqual([-32600, "ok"].sort());
  });

  it("refuses wrong param shapes with InvalidParams, ignores wrong notifications, and keeps serving", async () => {
    const server = raw();
    await server.initialize({ textDocument: { codeAction: { codeActionLiteralSupport: { codeActionKind: { valueSet: ["refactor"] } } } } });
    // codeAction/resolve with garbage used to be echoed back as the result.
    const resolved = await server.request("codeAction/resolve", { garbage: [1, 2, 3] });
    expect(resolved.error?.code).toBe(-32602);
    expect(resolved.result).toBeUndefined();
    // A didOpen with a numeric uri is logged and dropped; it must not break later code actions.
    server.notify("textDocument/didOpen", { textDocument: { uri: 42, languageId: "typescript", version: 1, text: "let a = 1;\n" } });
    server.notify("textDocument/didOpen", { textDocument: { uri: "file:///ok.ts", languageId: "typescript", version: 1, text: "let a = 1;\nlet b = 2;\n" } });
    const actions = await server.request("textDocument/codeAction", {
      textDocument: { uri: "file:///ok.ts" },
      range: { start: { line: 0, character: 0 }, end: { line: 1, character: 5 } },
      context: { diagnostics: [] },
    });
    expect(actions.error).toBeUndefined();
    expect((actions.result as unknown[]).length).toBeGreaterThan(0);
    await server.stderrMatching(/notification textDocument\/didOpen ignored: params.textDocument.uri must be a string/);
    const negative = await server.request("textDocument/completion", { textDocument: { uri: "file:///ok.ts" }, position: { line: -1, character: 0 } });
    expect(negative.error?.code).toBe(-32602);
    expect((await server.request("workspace/executeCommand", { command: 7 })).error?.code).toBe(-32602);
  });

  it("survives initializationOptions nested 20,000 deep: refused with InvalidParams, and a sane initialize then works", async () => {
    const server = raw();
    // Built as text: JSON.stringify itself cannot serialise 20,000 levels.
    const deep = `${'{"a":'.repeat(20_000)}1${"}".repeat(20_000)}`;
    const refused = server.response("deep");
    server.write(frame(`{"jsonrpc":"2.0","id":"deep","method":"initialize","params":{"processId":null,"capabilities":{},"initializationOptions":${deep}}}`));
    expect((await refused).error?.code).toBe(-32602);
    // Moderately deep settings pass the gate and are reported as a settings problem, not a crash.
    let nested: unknown = 1;
    for (let i = 0; i < 40; i++) nested = { completion: nested };
    const warned = server.waitFor((m) => m.method === "window/showMessage");
    expect((await server.initialize({}, nested)).result).toHaveProperty("capabilities");
    expect(JSON.stringify((await warned).params)).toMatch(/nested more than 16 levels/);
    expect((await server.request("ifai/completionMetrics", {})).result).toHaveProperty("records");
  });
});
