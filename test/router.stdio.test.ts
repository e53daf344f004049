import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CancellationTokenSource } from "vscode-jsonrpc/node";
import type { CompletionMetricsRecord, CompletionMetricsResult, RouteLogResult } from "../src/server/protocol.js";
import { INLINE_CLIENT, startStdioServer, type TestClient } from "./helpers/lspClient.js";
import { tempDir, tinyModel } from "./helpers/models.js";
import { OpenAIFixture } from "./helpers/openaiFixture.js";
import { binPath, nodeBinary, projectRoot } from "./helpers/paths.js";

const KEY = `sk-fixture-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
const uri = "file:///work/demo/src/main.ts";
const source = "export function greet(name: string): string {\n  const message = \n  return message;\n}\n";
const cursor = { line: 1, character: "  const message = ".length };
const netGuard = path.join(projectRoot, "test", "helpers", "netGuard.mjs");

let modelPath: string;
let fixture: OpenAIFixture;
const dir = tempDir();
const clients: TestClient[] = [];

/** Settings every server here starts from: the tiny local model and the fixture as provider "fx". */
function baseSettings(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    model: { path: modelPath, threads: 1, batchSize: 32 },
    completion: { debounceMs: 0, maxTokens: 6, maxMultilineTokens: 6 },
    cloud: {
      providers: { fx: { baseUrl: fixture.baseUrl, model: "tiny", apiKeyEnv: "IFAI_TEST_KEY", completionApi: "completions" } },
      timeoutMs: 2000,
      maxRetries: 2,
      retryBaseMs: 20,
      cooldownSeconds: 0,
    },
    ...extra,
  };
}

function start(env: NodeJS.ProcessEnv = {}): TestClient {
  const client = startStdioServer({ IFAI_CACHE_DIR: dir.path, IFAI_TEST_KEY: KEY, ...env });
  clients.push(client);
  return client;
}

/** Replaces the workspace settings layer; the router takes them before the next request. */
async function configure(client: TestClient, settings: Record<string, unknown>): Promise<void> {
  await client.connection.sendNotification("workspace/didChangeConfiguration", { settings: { ifai: settings } });
}

async function lastMetrics(client: TestClient): Promise<CompletionMetricsRecord> {
  const result = (await client.connection.sendRequest("ifai/completionMetrics", {})) as CompletionMetricsResult;
  return result.records.at(-1)!;
}

function routeLog(client: TestClient, last?: number): Promise<RouteLogResult> {
  return client.connection.sendRequest("ifai/routeLog", last ? { last } : {}) as Promise<RouteLogResult>;
}

/** Edits the document so the completion cache cannot answer, then asks for a completion. */
let edits = 0;
async function completeFresh(client: TestClient): Promise<CompletionMetricsRecord> {
  edits++;
  const col = cursor.character + edits - 1;
  await client.edit(uri, { start: { line: 1, character: col }, end: { line: 1, character: col } }, "x");
  await client.inline(uri, { line: 1, character: col + 1 });
  return lastMetrics(client);
}

beforeAll(async () => {
  modelPath = await tinyModel();
  fixture = new OpenAIFixture(modelPath);
  await fixture.start();
  fixture.requiredKey = KEY;
});
afterAll(async () => {
  for (const c of clients.splice(0)) c.kill();
  await fixture?.stop();
  dir.cleanup();
});

describe("routing completions between the local model and an OpenAI-compatible server", () => {
  let client: TestClient;
  beforeAll(async () => {
    edits = 0;
    client = start();
    await client.initialize(INLINE_CLIENT, baseSettings());
    await client.open(uri, "typescript", source);
  });

  it("auto keeps a small completion local, says why, and logs the decision with counts", async () => {
    const before = fixture.requests.length;
    const m = await completeFresh(client);
    expect(m.source).toBe("model");
    expect(m.backend).toBe("local");
    expect(m.reason).toMatch(/^completion, at most [\d,]+ tokens < 2,048 → local$/);
    expect(fixture.requests.length).toBe(before);
    const log = await routeLog(client);
    const last = log.decisions.at(-1)!;
    expect(last).toMatchObject({ task: "completion", backend: "local", rule: "rule:completion-local", fallback: "cloud", provider: "fx" });
    expect(last.outcome).toMatchObject({ servedBy: "local", status: "ok" });
    expect(log.counts.servedBy.local).toBeGreaterThanOrEqual(1);
    expect(log.counts.rule["rule:completion-local"]).toBeGreaterThanOrEqual(1);
    expect(log.summary).toContain("preference: auto");
  });

  it("a per-task cloud preference sends the raw prefix and suffix to /v1/completions with the key", async () => {
    await configure(client, { router: { taskPreference: { completion: "cloud" } } });
    const before = fixture.requests.length;
    const m = await completeFresh(client);
    expect(m.backend).toBe("cloud:fx");
    expect(m.reason).toBe("completion: router.taskPreference.completion is cloud → cloud (fx)");
    expect(fixture.requests.length).toBe(before + 1);
    const sent = fixture.requests.at(-1)!;
    expect(sent.path).toBe("/v1/completions");
    expect(sent.answer).toBe("model");
    expect(sent.authorization).toBe(`Bearer ${KEY}`);
    expect(sent.body).toMatchObject({ model: "tiny", stream: true, max_tokens: 6 });
    expect(sent.body.prompt).toMatch(/export function greet\(name: string\): string \{\n {2}const message = x+$/);
    expect(typeof sent.body.suffix).toBe("string");
    expect(sent.body.prompt).not.toContain("<|fim_prefix|>");
  });

  it("HTTP 500 once: a retry serves it from the cloud", async () => {
    await configure(client, { router: { taskPreference: { completion: "cloud" } } });
    fixture.failNext({ kind: "status", status: 500 });
    const before = fixture.requests.length;
    const m = await completeFresh(client);
    expect(m.backend).toBe("cloud:fx");
    expect(fixture.requests.length).toBe(before + 2);
    expect((await routeLog(client, 1)).decisions[0]!.outcome).toMatchObject({ servedBy: "cloud:fx", status: "ok", attempts: 2 });
  });

  it("HTTP 429 on every attempt: bounded retries, then the local model answers and says why", async () => {
    await configure(client, { router: { taskPreference: { completion: "cloud" } } });
    fixture.failNext({ kind: "status", status: 429 }, 3);
    const before = fixture.requests.length;
    const m = await completeFresh(client);
    expect(fixture.requests.length).toBe(before + 3);
    expect(m.backend).toBe("local");
    expect(m.reason).toMatch(/cloud provider fx failed after 3 attempts \(.*HTTP 429.*\) → fallback to local$/);
    expect((await routeLog(client, 1)).decisions[0]!.outcome).toMatchObject({ servedBy: "local", status: "fallback", attempts: 3 });
  });

  it("a provider that never answers times out (cloud.timeoutMs) and the local model answers", async () => {
    await configure(client, { router: { taskPreference: { completion: "cloud" } }, cloud: { ...(baseSettings().cloud as object), timeoutMs: 300, maxRetries: 1 } });
    fixture.failNext({ kind: "hang" }, 2);
    const before = fixture.requests.length;
    const m = await completeFresh(client);
    expect(m.backend).toBe("local");
    expect(m.reason).toMatch(/did not answer within 300 ms/);
    const hung = fixture.requests.slice(before);
    expect(hung.map((r) => r.answer)).toEqual(["hang", "hang"]);
    await Promise.all(hung.map((r) => r.closed));
    expect(hung.every((r) => r.aborted)).toBe(true);
  });

  it("cancelling the LSP request closes the connection to the provider", async () => {
    await configure(client, { router: { taskPreference: { completion: "cloud" } }, cloud: { ...(baseSettings().cloud as object), timeoutMs: 60000, maxRetries: 0 } });
    fixture.failNext({ kind: "hang" });
    const before = fixture.requests.length;
    edits++;
    const col = cursor.character + edits - 1;
    await client.edit(uri, { start: { line: 1, character: col }, end: { line: 1, character: col } }, "x");
    const token = new CancellationTokenSource();
    const answer = client.inline(uri, { line: 1, character: col + 1 }, token).catch((error: unknown) => error);
    await fixture.waitForRequests(before + 1);
    token.cancel();
    await answer;
    const request = fixture.requests[before]!;
    await request.closed;
    expect(request.aborted).toBe(true);
    const m = await lastMetrics(client);
    expect(m.source).toBe("cancelled");
  });

  it("a base URL that answers with a web page gets a message naming the fix, and the local model answers", async () => {
    await configure(client, { router: { taskPreference: { completion: "cloud" } } });
    fixture.failNext({ kind: "html" });
    const m = await completeFresh(client);
    expect(m.backend).toBe("local");
    const shown = await client.waitForNotification("window/showMessage", (p: { message: string }) => /HTML page/.test(p.message));
    expect(shown.message).toMatch(/answered with an HTML page, not an OpenAI-compatible API; check "baseUrl"/);
  });

  it("a bad provider URL is refused at configuration with a message naming the fix", async () => {
    await configure(client, { cloud: { providers: { broken: { baseUrl: "api.example.com/v1", model: "m" } } } });
    const shown = await client.waitForNotification("window/showMessage", (p: { message: string }) => /cloud\.providers/.test(p.message));
    expect(shown.message).toMatch(/"cloud\.providers": provider "broken": baseUrl "api\.example\.com\/v1" is not a URL; write it in full/);
  });

  it("never writes the API key to the logs", () => {
    expect(fixture.requests.some((r) => r.authorization === `Bearer ${KEY}`)).toBe(true);
    expect(client.stderr.text.length).toBeGreaterThan(0);
    expect(client.stderr.text).not.toContain(KEY);
  });
});

describe("what may go to the cloud", () => {
  it("auto sends a completion with more than 6,144 tokens of context to the cloud, counting exactly", async () => {
    const client = start();
    await client.initialize(INLINE_CLIENT, baseSettings({ completion: { debounceMs: 0, maxTokens: 4, maxMultilineTokens: 4, maxPrefixTokens: 12000, maxSnippetTokens: 0 } }));
    const long = `${"// filler line for a long context\n".repeat(220)}const x = `;
    await client.open("file:///work/demo/src/long.ts", "typescript", long);
    fixture.failNext({ kind: "reply", text: "1;" });
    await client.inline("file:///work/demo/src/long.ts", { line: 220, character: "const x = ".length });
    const m = await lastMetrics(client);
    expect(m.backend).toBe("cloud:fx");
    expect(m.reason).toMatch(/^completion, 7,\d{3} tokens > 6,144 → cloud$/);
    expect(fixture.requests.at(-1)!.body.prompt).toHaveLength(long.length);
  });

  it("keeps files excluded by .gitignore and secrets files local, even with a cloud preference", async () => {
    const root = tempDir();
    fs.writeFileSync(path.join(root.path, ".gitignore"), "private/\n");
    const client = start();
    await client.initialize(INLINE_CLIENT, baseSettings({ router: { preference: "cloud" } }), pathToFileURL(root.path).href);
    const before = fixture.requests.length;
    for (const [rel, reason] of [
      ["private/notes.ts", /private\/notes\.ts is excluded by the workspace's ignore files/],
      [".env.local", /\.env\.local looks like a secrets, key or certificate file/],
    ] as const) {
      const docUri = pathToFileURL(path.join(root.path, rel)).href;
      await client.open(docUri, "typescript", source);
      await client.inline(docUri, cursor);
      const m = await lastMetrics(client);
      expect(m.backend, rel).toBe("local");
      expect(m.reason, rel).toMatch(reason);
    }
    // Open files are cross-file context: the ignored one must not reach the cloud prompt, the other may.
    const related = "export function greetAll(name: string): string {\n  const message = name;\n  return message; // MARKER\n}\n";
    await client.open(pathToFileURL(path.join(root.path, "private", "more.ts")).href, "typescript", related.replace("MARKER", "SECRET_NOTE"));
    await client.open(pathToFileURL(path.join(root.path, "src", "util.ts")).href, "typescript", related.replace("MARKER", "PUBLIC_NOTE"));
    const publicUri = pathToFileURL(path.join(root.path, "src", "main.ts")).href;
    await client.open(publicUri, "typescript", source);
    await client.inline(publicUri, cursor);
    expect((await lastMetrics(client)).backend).toBe("cloud:fx");
    expect(fixture.requests.length).toBe(before + 1);
    const prompt = fixture.requests.at(-1)!.body.prompt as string;
    expect(prompt).toContain("PUBLIC_NOTE");
    expect(prompt).not.toContain("SECRET_NOTE");
    root.cleanup();
  });
});

describe("fallbacks and bad keys", () => {
  it("auto falls back to the cloud when the local model is missing", async () => {
    const client = start();
    await client.initialize(INLINE_CLIENT, baseSettings({ model: { path: path.join(dir.path, "missing.gguf") } }));
    await client.open(uri, "typescript", source);
    await client.inline(uri, cursor);
    const m = await lastMetrics(client);
    expect(m.source).toBe("model");
    expect(m.backend).toBe("cloud:fx");
    expect(m.reason).toMatch(/local model (unavailable|failed) \(.*no model file at .*missing\.gguf/);
  });

  it("an expired key (HTTP 401): a message naming the environment variable; the key is in no log or message", async () => {
    const expired = `sk-expired-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
    const client = start({ IFAI_TEST_KEY: expired });
    await client.initialize(INLINE_CLIENT, baseSettings({ router: { taskPreference: { completion: "cloud" } } }));
    await client.open(uri, "typescript", source);
    await client.inline(uri, cursor);
    const m = await lastMetrics(client);
    expect(m.backend).toBe("local");
    const shown = await client.waitForNotification("window/showMessage", (p: { message: string }) => /401/.test(p.message));
    expect(shown.message).toMatch(/rejected the API key \(HTTP 401\).*set a valid key in the environment variable IFAI_TEST_KEY/);
    expect(fixture.requests.at(-1)!.answer).toBe("401 bad key");
    expect(JSON.stringify(client.notifications)).not.toContain(expired);
    expect(client.stderr.text).toMatch(/401/);
    expect(client.stderr.text).not.toContain(expired);
  });
});

describe("local-only privacy mode", () => {
  // A provider on the public internet; the preload refuses and reports any such connection.
  const outside = (localOnly: boolean): Record<string, unknown> => ({
    ...baseSettings(),
    privacy: { localOnly },
    router: { preference: "cloud" },
    cloud: { providers: { openai: { preset: "openai", apiKeyEnv: "IFAI_TEST_KEY" } }, timeoutMs: 2000, maxRetries: 0, cooldownSeconds: 0 },
  });

  it("makes no connection to a non-loopback address, and says why the cloud was refused", async () => {
    const client = start({ NODE_OPTIONS: `--import=${netGuard}` });
    await client.initialize(INLINE_CLIENT, outside(true));
    await client.open(uri, "typescript", source);
    await client.inline(uri, cursor);
    const m = await lastMetrics(client);
    expect(m.backend).toBe("local");
    expect(m.reason).toMatch(/cloud refused: local-only privacy mode is on \(privacy\.localOnly\)/);
    const log = await routeLog(client, 1);
    expect(log.decisions[0]).toMatchObject({ rule: "local-only", backend: "local" });
    expect(log.decisions[0]!.fallback).toBeUndefined();
    expect(client.stderr.text).not.toMatch(/NETGUARD/);
  });

  it("(control) the same settings without local-only do attempt the outside connection, so the check above can fail", async () => {
    const client = start({ NODE_OPTIONS: `--import=${netGuard}` });
    await client.initialize(INLINE_CLIENT, outside(false));
    await client.open(uri, "typescript", source);
    await client.inline(uri, cursor);
    const m = await lastMetrics(client);
    expect(m.backend).toBe("local");
    expect(m.reason).toMatch(/cloud provider openai failed/);
    expect(client.stderr.text).toMatch(/NETGUARD (connect|lookup) api\.openai\.com/);
  });
});

describe("ifai-lsp route", () => {
  it("prints the decision and its reasons for the given settings", () => {
    const run = (...args: string[]) => spawnSync(nodeBinary, [binPath, "route", ...args], { encoding: "utf8", env: { ...process.env, IFAI_TEST_KEY: KEY } });
    const small = run("--task", "completion", "--tokens", "1210");
    expect(small.status).toBe(0);
    expect(small.stdout).toMatch(/^local\n {2}because: completion, 1,210 tokens < 2,048 → local\n/);
    const providers = JSON.stringify({ fx: { baseUrl: "http://127.0.0.1:9/v1", model: "m", apiKeyEnv: "IFAI_TEST_KEY" } });
    const big = run("--task", "chat", "--tokens", "7000", "--set", `cloud.providers=${providers}`);
    expect(big.stdout).toMatch(/^cloud \(fx\)\n {2}because: chat, 7,000 tokens > 6,144 → cloud\n/);
    expect(big.stdout).toContain("on failure: fall back to local");
    const bad = run("--task", "painting");
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/unknown task "painting"; tasks: completion, /);
  });
});
