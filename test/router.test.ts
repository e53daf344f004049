import net from "node:net";
import { Writable } from "node:stream";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applySettings } from "../src/config/validate.js";
import { defaultSettings, type Settings } from "../src/config/schema.js";
import { CloudClient, type CloudOptions } from "../src/inference/cloud/CloudClient.js";
import { CloudError } from "../src/inference/cloud/errors.js";
import { CloudRegistry } from "../src/inference/cloud/CloudRegistry.js";
import { extractChatCompletion, completionsPrompt } from "../src/inference/cloud/fimPrompts.js";
import { resolveProviders, type ResolvedProvider } from "../src/inference/cloud/providers.js";
import { routerConfig } from "../src/inference/router/config.js";
import { forCloud } from "../src/inference/router/RoutedCompletionBackend.js";
import { RouteLog } from "../src/inference/router/RouteLog.js";
import { Router } from "../src/inference/router/Router.js";
import { runRouted } from "../src/inference/router/runRouted.js";
import { redactSecrets, sensitiveFileReason } from "../src/inference/router/sensitive.js";
import type { FimParts, ModelStatus } from "../src/inference/types.js";
import { silentLogger } from "../src/util/logger.js";
import { tinyModel } from "./helpers/models.js";
import { OpenAIFixture } from "./helpers/openaiFixture.js";

const PROVIDERS = { cloud: { providers: { fx: { baseUrl: "http://127.0.0.1:9/v1", model: "m" } } } };

function makeRouter(input: unknown = PROVIDERS, local: ModelStatus = { state: "ready", modelPath: "m.gguf" }, env: NodeJS.ProcessEnv = {}): Router {
  const r = applySettings(input);
  expect(r.problems).toEqual([]);
  const cloud = new CloudRegistry(silentLogger(), env);
  cloud.configure(r.settings);
  return new Router(routerConfig(r.settings, env), { localStatus: () => local, cloudProvider: (t) => cloud.providerFor(t) }, silentLogger());
}

describe("rule engine", () => {
  it("applies the default rules with reasons in words", () => {
    const router = makeRouter();
    const d = (task: Parameters<Router["decide"]>[0]["task"], tokens: number) => router.decide({ task, contextTokens: tokens });
    expect(d("completion", 1210)).toMatchObject({ backend: "local", rule: "rule:completion-local", reasons: ["completion, 1,210 tokens < 2,048 → local"], fallback: "cloud" });
    expect(d("simpleRefactor", 4000)).toMatchObject({ backend: "local", reasons: ["simple refactor, 4,000 tokens < 4,096 → local"] });
    expect(d("unitTests", 3000)).toMatchObject({ backend: "local", reasons: ["unit-test generation, 3,000 tokens < 3,072 → local"] });
    expect(d("architecture", 10)).toMatchObject({ backend: "cloud", provider: "fx", reasons: ["architecture design → cloud"], fallback: "local" });
    expect(d("deepRefactor", 10)).toMatchObject({ backend: "cloud", rule: "rule:cloud-tasks" });
    expect(d("chat", 7000)).toMatchObject({ backend: "cloud", reasons: ["chat, 7,000 tokens > 6,144 → cloud"] });
    expect(d("completion", 3000)).toMatchObject({ backend: "cloud", rule: "auto-default", reasons: ["completion, 3,000 tokens: no rule applies, auto prefers the cloud → cloud (fx)"] });
    // Without a provider the same request stays local and says why.
    const none = makeRouter({});
    expect(none.decide({ task: "chat", contextTokens: 7000 })).toMatchObject({ backend: "local", rule: "no-cloud" });
    expect(none.decide({ task: "chat", contextTokens: 7000 }).reasons.at(-1)).toBe("no cloud provider is configured (cloud.providers is empty) → local");
  });

  it("counts exactly only when an upper bound cannot settle a rule", () => {
    const router = makeRouter();
    let calls = 0;
    const count = (n: number) => () => (calls++, n);
    const cheap = router.decide({ task: "completion", contextTokens: 1560, countContextTokens: count(900) });
    expect(calls).toBe(0);
    expect(cheap.reasons).toEqual(["completion, at most 1,560 tokens < 2,048 → local"]);
    expect(cheap.exact).toBe(false);
    const exact = router.decide({ task: "completion", contextTokens: 9000, countContextTokens: count(1210) });
    expect(calls).toBe(1);
    expect(exact).toMatchObject({ exact: true, contextTokens: 1210, backend: "local", reasons: ["completion, 1,210 tokens < 2,048 → local"] });
  });

  it("takes every threshold and the cloud task list from the settings", () => {
    const router = makeRouter({ ...PROVIDERS, router: { completionLocalMaxTokens: 100, cloudAboveTokens: 50000, cloudTasks: "chat" } });
    expect(router.decide({ task: "completion", contextTokens: 1210 })).toMatchObject({ backend: "cloud", rule: "auto-default" });
    expect(router.decide({ task: "chat", contextTokens: 1 })).toMatchObject({ backend: "cloud", rule: "rule:cloud-tasks", reasons: ["chat → cloud"] });
    expect(router.decide({ task: "explain", contextTokens: 40000 })).toMatchObject({ rule: "auto-default" });
    expect(applySettings({ router: { cloudTasks: "chat,painting" } }).problems[0]).toMatch(/unknown task type\(s\) painting/);
  });

  it("obeys preferences: per request over per task over global; an explicit local allows no cloud fallback", () => {
    const router = makeRouter({ ...PROVIDERS, router: { preference: "local", taskPreference: { chat: "cloud" } } });
    expect(router.decide({ task: "architecture", contextTokens: 10 })).toMatchObject({ backend: "local", rule: "preference", reasons: ["architecture design: router.preference is local → local"] });
    expect(router.decide({ task: "architecture", contextTokens: 10 }).fallback).toBeUndefined();
    expect(router.decide({ task: "chat", contextTokens: 10 })).toMatchObject({ backend: "cloud", reasons: ["chat: router.taskPreference.chat is cloud → cloud (fx)"] });
    expect(router.decide({ task: "chat", contextTokens: 10, override: "local" })).toMatchObject({ backend: "local", rule: "override", reasons: ["chat: this request asks for local → local"] });
  });

  it("refuses the cloud in local-only mode (setting or IFAI_LOCAL_ONLY) and for sensitive files", () => {
    for (const router of [makeRouter({ ...PROVIDERS, privacy: { localOnly: true } }), makeRouter(PROVIDERS, undefined, { IFAI_LOCAL_ONLY: "1" })]) {
      const d = router.decide({ task: "architecture", contextTokens: 10, override: "cloud" });
      expect(d).toMatchObject({ backend: "local", rule: "local-only" });
      expect(d.refused).toMatch(/^cloud refused: local-only privacy mode is on/);
      expect(d.fallback).toBeUndefined();
    }
    const router = makeRouter({ ...PROVIDERS, router: { preference: "cloud" } });
    for (const file of ["file:///p/.env", "/p/.env.production", "/p/certs/server.key", "/p/tls.pem", "/home/u/.ssh/id_ed25519"]) {
      const d = router.decide({ task: "chat", contextTokens: 10, uri: file });
      expect(d.backend, file).toBe("local");
      expect(d.refused, file).toMatch(/looks like a secrets, key or certificate file; it is never sent to a cloud API/);
    }
    expect(router.decide({ task: "chat", contextTokens: 10, uri: "file:///p/src/env.ts" }).backend).toBe("cloud");
  });

  it("prefers the cloud on slow local hardware, and when the local model is unavailable", () => {
    const slow = makeRouter(PROVIDERS, { state: "ready", modelPath: "m", lastTokensPerSecond: 3.5 });
    expect(slow.decide({ task: "completion", contextTokens: 100 })).toMatchObject({ backend: "cloud", rule: "low-end" });
    expect(slow.decide({ task: "completion", contextTokens: 100 }).reasons[1]).toBe("local model measured 3.5 tokens/s < 8 (router.minLocalTokensPerSecond) → cloud (fx)");
    const off = makeRouter({ ...PROVIDERS, router: { minLocalTokensPerSecond: 0 } }, { state: "ready", modelPath: "m", lastTokensPerSecond: 3.5 });
    expect(off.decide({ task: "completion", contextTokens: 100 }).backend).toBe("local");
    const broken = makeRouter(PROVIDERS, { state: "error", modelPath: "m", message: "no model file at m" });
    expect(broken.decide({ task: "completion", contextTokens: 100 })).toMatchObject({ backend: "cloud", rule: "local-unavailable" });
  });

  it("keeps auto routes local while a failed provider cools down; an explicit cloud choice still tries it", () => {
    const router = makeRouter({ ...PROVIDERS, cloud: { ...PROVIDERS.cloud, cooldownSeconds: 30 } });
    router.noteCloudFailure("fx", "HTTP 429");
    const d = router.decide({ task: "architecture", contextTokens: 10 });
    expect(d).toMatchObject({ backend: "local", rule: "cooldown" });
    expect(d.reasons.at(-1)).toMatch(/cloud provider fx failed recently \(HTTP 429\); auto stays local for 30 s more/);
    expect(router.decide({ task: "architecture", contextTokens: 10, override: "cloud" }).backend).toBe("cloud");
    router.noteCloudSuccess("fx");
    expect(router.decide({ task: "architecture", contextTokens: 10 }).backend).toBe("cloud");
  });

  it("keeps the last N decisions with counts over all of them", () => {
    const log = new RouteLog(2);
    const router = makeRouter();
    for (const tokens of [10, 20, 30]) {
      const entry = log.add(router.decide({ task: "completion", contextTokens: tokens }));
      log.finish(entry, { servedBy: "local", status: "ok", ms: 1 });
    }
    const snap = log.snapshot();
    expect(snap.entries.map((e) => e.contextTokens)).toEqual([20, 30]);
    expect(snap.counts).toMatchObject({ total: 3, decided: { local: 3 }, servedBy: { local: 3 }, rule: { "rule:completion-local": 3 }, status: { ok: 3 } });
  });
});

describe("cloud settings and privacy", () => {
  it("validates cloud.providers and never echoes a pasted key", () => {
    const ok = applySettings({ cloud: { providers: { ds: { preset: "deepseek" }, own: { baseUrl: "https://llm.example.com/v1", model: "q", apiKeyEnv: "OWN_KEY" } } } });
    expect(ok.problems).toEqual([]);
    const resolved = resolveProviders(ok.settings["cloud.providers"] as never);
    expect(resolved.providers.get("ds")).toMatchObject({ baseUrl: "https://api.deepseek.com/v1", completionApi: "completions", completionBaseUrl: "https://api.deepseek.com/beta", apiKeyEnv: "DEEPSEEK_API_KEY" });
    expect(resolved.providers.get("own")).toMatchObject({ completionApi: "chat", completionBaseUrl: "https://llm.example.com/v1", completionModel: "q" });
    const pasted = applySettings({ cloud: { providers: { p: { preset: "openai", apiKey: "sk-live-abcdefghijklmnopqrstuvwxyz" } } } });
    expect(pasted.problems[0]).toMatch(/API key in the settings; put the key in an environment variable and name it in "apiKeyEnv"/);
    expect(pasted.problems.join(" ")).not.toContain("sk-live");
    expect(applySettings({ cloud: { providers: { p: { preset: "nope" } } } }).problems[0]).toMatch(/preset must be one of openai, anthropic, zhipu, deepseek, ollama, vllm, llamacpp, lmstudio/);
    expect(applySettings({ cloud: { providers: { p: { baseUrl: "ftp://x/v1" } } } }).problems[0]).toMatch(/must start with http:\/\/ or https:\/\//);
    expect(applySettings({ cloud: { providers: { p: { preset: "openai", apiKeyEnv: "sk-abc" } } } }).problems[0]).toMatch(/apiKeyEnv must be the name of an environment variable/);
    expect(applySettings({ cloud: { providers: [] } }).problems[0]).toMatch(/"cloud\.providers": expected an object/);
    const registry = new CloudRegistry(silentLogger(), {});
    registry.configure(ok.settings);
    expect(registry.providerFor("chat")).toEqual({ problem: 'cloud provider "ds" needs an API key: set the environment variable DEEPSEEK_API_KEY where the editor starts the server' });
  });

  it("refuses the cloud when any context source must stay local, whatever the preference, override or fallback", () => {
    const r = applySettings({ ...PROVIDERS, router: { preference: "cloud" } });
    const cloud = new CloudRegistry(silentLogger(), {});
    cloud.configure(r.settings);
    const refused = new Set(["/ws/src/calc.test.ts"]);
    const router = new Router(
      routerConfig(r.settings, {}),
      { localStatus: () => ({ state: "ready", modelPath: "m" }), cloudProvider: (t) => cloud.providerFor(t), contextExcluded: (s) => (refused.has(s) ? `${s} is excluded` : undefined) },
      silentLogger(),
    );
    for (const override of [undefined, "cloud"] as const) {
      const d = router.decide({ task: "unitTests", contextTokens: 10, uri: "file:///ws/src/calc.ts", sources: ["file:///ws/src/util.ts", "/ws/src/calc.test.ts"], ...(override ? { override } : {}) });
      expect(d).toMatchObject({ backend: "local", rule: "sensitive" });
      expect(d.refused).toBe("cloud refused: the request holds context from a file that must stay local (/ws/src/calc.test.ts is excluded); it is never sent to a cloud API");
      expect(d.fallback).toBeUndefined();
    }
    // A secret file among the sources is refused by name even without the workspace's gate.
    expect(makeRouter({ ...PROVIDERS, router: { preference: "cloud" } }).decide({ task: "chat", contextTokens: 10, sources: ["/p/deploy/.env.production"] }).backend).toBe("local");
    expect(router.decide({ task: "unitTests", contextTokens: 10, sources: ["file:///ws/src/util.ts"] }).backend).toBe("cloud");
  });

  it("redacts secrets and drops sensitive snippets from cloud prompts", async () => {
    const r = redactSecrets("aws = 'AKIAIOSFODNN7EXAMPLE'\nkey = 'sk-proj-abcdefghijklmnop1234'\n-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\nok");
    expect(r.text).toBe("aws = '[REDACTED AWS access key]'\nkey = '[REDACTED API key]'\n[REDACTED private key]\nok");
    expect(r.found).toEqual(["AWS access key", "API key", "private key"]);
    const fim: FimParts = {
      prefix: "const token = 'ghp_abcdefghijklmnopqrstuvwxyz0123456789';\n",
      suffix: "",
      snippets: [
        { path: ".env", text: "SECRET=1" },
        { path: "src/a.ts", text: "export const a = 1;" },
      ],
      filePath: "src/b.ts",
      language: "typescript",
    };
    const safe = await forCloud(fim);
    expect(safe.prefix).toBe("const token = '[REDACTED GitHub token]';\n");
    expect(safe.snippets.map((s) => s.path)).toEqual(["src/a.ts"]);
    expect(sensitiveFileReason("file:///p/src/main.ts")).toBeUndefined();
  });

  it("builds FIM prompts and extracts code from chat replies", () => {
    const fim: FimParts = { prefix: "def add(a, b):\n    return ", suffix: "\n\nprint(add(1, 2))\n", snippets: [{ path: "util.py", text: "X = 1\n" }], filePath: "main.py", language: "python" };
    expect(completionsPrompt(fim)).toEqual({ prompt: "# Path: util.py\n# X = 1\n# Path: main.py\ndef add(a, b):\n    return ", suffix: fim.suffix });
    expect(extractChatCompletion("```python\na + b\n```", fim)).toBe("a + b");
    expect(extractChatCompletion("```pyth", fim)).toBe("");
    expect(extractChatCompletion("```python\na +", fim)).toBe("a +");
    expect(extractChatCompletion("    return a + b", fim)).toBe("a + b");
    expect(extractChatCompletion("a + b<CURSOR>\n\nprint(add(1, 2))", fim)).toBe("a + b");
  });
});

describe("CloudClient against a real OpenAI-compatible server", () => {
  let fixture: OpenAIFixture;
  const KEY = `sk-unit-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
  const options: CloudOptions = { timeoutMs: 2000, maxRetries: 2, retryBaseMs: 10, maxRetryDelayMs: 1000 };
  const logLines: string[] = [];
  const logger = pino({ level: "trace" }, new Writable({ write: (chunk, _enc, cb) => (logLines.push(String(chunk)), cb()) }));
  let provider: ResolvedProvider;
  const fim: FimParts = { prefix: "function add(a, b) {\n  return ", suffix: "\n}\n", snippets: [], filePath: "a.js", language: "javascript" };
  const client = (p: Partial<ResolvedProvider> = {}, o: Partial<CloudOptions> = {}, key = KEY) => new CloudClient({ ...provider, ...p }, { ...options, ...o }, logger, { FX_KEY: key });

  beforeAll(async () => {
    fixture = new OpenAIFixture(await tinyModel());
    const baseUrl = await fixture.start();
    fixture.requiredKey = KEY;
    provider = { name: "fx", title: "fx", baseUrl, model: "tiny", apiKeyEnv: "FX_KEY", completionApi: "completions", completionBaseUrl: baseUrl, completionModel: "tiny" };
  });
  afterAll(async () => {
    await fixture?.stop();
  });

  it("streams a suffix-aware completion from the model", async () => {
    const seen: string[] = [];
    const result = await client().completeFim(fim, { maxTokens: 8, temperature: 0, onText: (t) => seen.push(t) }, new AbortController().signal);
    expect(result.attempts).toBe(1);
    expect(result.generatedTokens).toBeGreaterThan(0);
    expect(seen.length).toBe(result.generatedTokens);
    expect(seen.at(-1)).toBe(result.text);
    expect(fixture.requests.at(-1)!.body).toMatchObject({ prompt: fim.prefix, suffix: fim.suffix, stream: true });
  });

  it("uses a chat prompt where the provider has no FIM endpoint, and keeps only the code", async () => {
    fixture.failNext({ kind: "reply", text: "Here you go:\n```javascript\na + b;\n```" });
    const result = await client({ completionApi: "chat" }).completeFim(fim, { maxTokens: 8, temperature: 0 }, new AbortController().signal);
    expect(result.text).toBe("a + b;");
    const sent = fixture.requests.at(-1)!;
    expect(sent.path).toBe("/v1/chat/completions");
    expect(sent.body.messages[1].content).toContain("return <CURSOR>\n}");
  });

  it("retries 429 and 5xx with backoff (Retry-After honoured), then gives up with the attempts counted", async () => {
    fixture.failNext({ kind: "status", status: 429, retryAfterSeconds: 0 });
    fixture.failNext({ kind: "status", status: 503 });
    const ok = await client().completeFim(fim, { maxTokens: 4, temperature: 0 }, new AbortController().signal);
    expect(ok.attempts).toBe(3);
    expect(ok.backoffMs).toBeGreaterThan(0);
    fixture.failNext({ kind: "status", status: 500 }, 2);
    const failed = await client({}, { maxRetries: 1 }).completeFim(fim, { maxTokens: 4, temperature: 0 }, new AbortController().signal).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(CloudError);
    expect(failed).toMatchObject({ kind: "server", status: 500, attempts: 2 });
    fixture.failNext({ kind: "status", status: 400, message: "bad model" });
    const notRetried = await client().completeFim(fim, { maxTokens: 4, temperature: 0 }, new AbortController().signal).catch((e: unknown) => e);
    expect(notRetried).toMatchObject({ kind: "bad-request", attempts: 1 });
  });

  it("cancels through the AbortSignal: the connection closes and the call rejects as aborted", async () => {
    fixture.failNext({ kind: "hang" });
    const before = fixture.requests.length;
    const controller = new AbortController();
    const call = client({}, { timeoutMs: 60000 }).completeFim(fim, { maxTokens: 4, temperature: 0 }, controller.signal).catch((e: unknown) => e);
    await fixture.waitForRequests(before + 1);
    controller.abort();
    expect(await call).toMatchObject({ kind: "aborted" });
    await fixture.requests[before]!.closed;
    expect(fixture.requests[before]!.aborted).toBe(true);
  });

  it("reports a cancel while the answer streams as aborted, not as a finished answer", async () => {
    fixture.failNext({ kind: "stall", text: "The sum of a and b. " });
    const before = fixture.requests.length;
    const controller = new AbortController();
    const seen: string[] = [];
    const onText = (text: string): void => {
      seen.push(text);
      if (text === "The sum of a and b. ") controller.abort();
    };
    const call = client({}, { timeoutMs: 60000 }).chat([{ role: "user", content: "What does add do?" }], { maxTokens: 40, temperature: 0, onText }, controller.signal);
    expect(await call.catch((e: unknown) => e)).toMatchObject({ kind: "aborted" });
    expect(seen.at(-1)).toBe("The sum of a and b. ");
    await fixture.requests[before]!.closed;
    expect(fixture.requests[before]!.aborted).toBe(true);
  });

  it("routes any task type: chat goes to the cloud in auto, and falls back to local after 503s", async () => {
    const settings = applySettings({ cloud: { cooldownSeconds: 0 } }).settings;
    const router = new Router(routerConfig(settings, {}), { localStatus: () => ({ state: "ready", modelPath: "m" }), cloudProvider: () => ({ name: "fx" }) }, silentLogger());
    const run = {
      local: async () => "local answer",
      cloud: async (_provider: string, signal: AbortSignal) => (await client().chat([{ role: "user", content: "hi" }], { maxTokens: 4, temperature: 0 }, signal)).text,
    };
    const first = await runRouted(router, { task: "chat", contextTokens: 100 }, run, new AbortController().signal);
    expect(first).toMatchObject({ servedBy: "cloud:fx", reason: "chat, 100 tokens: no rule applies, auto prefers the cloud → cloud (fx)" });
    expect(fixture.requests.at(-1)!.path).toBe("/v1/chat/completions");
    fixture.failNext({ kind: "status", status: 503 }, 3);
    const second = await runRouted(router, { task: "chat", contextTokens: 100 }, run, new AbortController().signal);
    expect(second!.servedBy).toBe("local");
    expect(second!.value).toBe("local answer");
    expect(second!.reason).toMatch(/cloud provider fx failed after 3 attempts \(.*HTTP 503.*\) → fallback to local$/);
    expect(router.routeLog().counts.status).toEqual({ ok: 1, fallback: 1 });
  });

  it("names the fix for an unreachable server, a missing key and a wrong key, and never logs the key", async () => {
    // A port that was just free: nothing listens there.
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const unreachable = await client({ completionBaseUrl: `http://127.0.0.1:${port}/v1` }, { maxRetries: 0 }).completeFim(fim, { maxTokens: 4, temperature: 0 }, new AbortController().signal).catch((e: unknown) => e);
    expect(unreachable).toMatchObject({ kind: "unreachable" });
    expect((unreachable as Error).message).toMatch(/is unreachable \(ECONNREFUSED\); check that the server runs and that "baseUrl" is right/);
    const missing = await client({}, {}, "").completeFim(fim, { maxTokens: 4, temperature: 0 }, new AbortController().signal).catch((e: unknown) => e);
    expect((missing as Error).message).toMatch(/needs an API key: set the environment variable FX_KEY/);
    const wrong = `sk-wrong-${Math.random().toString(36).slice(2)}abcdef`;
    const rejected = await client({}, {}, wrong).completeFim(fim, { maxTokens: 4, temperature: 0 }, new AbortController().signal).catch((e: unknown) => e);
    expect(rejected).toMatchObject({ kind: "auth", status: 401, attempts: 1 });
    expect((rejected as Error).message).toMatch(/rejected the API key \(HTTP 401\): Incorrect API key provided: \[key\]\.; set a valid key in the environment variable FX_KEY/);
    expect(fixture.requests.at(-1)!.authorization).toBe(`Bearer ${wrong}`);
    const logs = logLines.join("");
    expect(logs).toMatch(/HTTP 401/);
    expect(logs).not.toContain(wrong);
    expect(logs).not.toContain(KEY);
  });
});

describe("settings defaults", () => {
  it("routes nothing to the cloud by default", () => {
    const s: Settings = defaultSettings();
    expect(s["router.preference"]).toBe("auto");
    expect(s["cloud.providers"]).toEqual({});
    expect(makeRouter({}).decide({ task: "architecture", contextTokens: 99999 }).backend).toBe("local");
  });
});
