/**
 * npm run bench:router — what routing costs and how fast it recovers:
 * - the routing decision per completion (µs), against an empty baseline loop in the same run;
 * - a completion through the routed backend vs the local backend directly (tiny generated model);
 * - a cloud completion round trip against an OpenAI-compatible server on 127.0.0.1 (scripted
 *   stream, and answered by the tiny model through node-llama-cpp);
 * - time to a fallback answer when the provider answers 429, hangs, or is not there.
 * Prints p50/p95 and ends with one JSON line.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { applySettings } from "../config/validate.js";
import { CloudRegistry } from "../inference/cloud/CloudRegistry.js";
import { LocalCompletionBackend } from "../inference/local/LocalCompletionBackend.js";
import { LocalModel } from "../inference/local/LocalModel.js";
import { routerConfig } from "../inference/router/config.js";
import { RoutedCompletionBackend } from "../inference/router/RoutedCompletionBackend.js";
import { Router } from "../inference/router/Router.js";
import type { GenerateRequest, PromptPart } from "../inference/types.js";
import { silentLogger } from "../util/logger.js";
import { formatSummary, summarize } from "./bench/stats.js";
import { ensureGeneratedModel, TINY_SHAPE } from "./gguf/qwen2Model.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const log = (s = ""): void => void process.stdout.write(`${s}\n`);
const quick = process.argv.includes("--quick");
type Behaviour = "ok" | "429" | "hang" | "model";

async function main(): Promise<void> {
  const modelPath = await ensureGeneratedModel(path.join(root, ".cache", "test-models"), { shape: TINY_SHAPE, quant: "Q8_0", vocab: "byte", seed: 7 });
  const model = new LocalModel({ modelPath, gpu: "cpu", threads: 1, contextSize: 2048, batchSize: 32, idleUnloadMs: 0, keepLoaded: true }, silentLogger());
  const local = new LocalCompletionBackend(model, silentLogger());
  await model.load();

  let behaviour: Behaviour = "ok";
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (behaviour === "hang") return;
      if (behaviour === "429") {
        res.writeHead(429, { "content-type": "application/json" });
        return void res.end(JSON.stringify({ error: { message: "slow down" } }));
      }
      res.writeHead(200, { "content-type": "text/event-stream" });
      const send = (text: string): boolean => res.write(`data: ${JSON.stringify({ choices: [{ index: 0, text, finish_reason: null }] })}\n\n`);
      if (behaviour === "ok") {
        for (const piece of ["a", " +", " b", ";"]) send(piece);
        return void res.end("data: [DONE]\n\n");
      }
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { prompt: string; suffix: string; max_tokens: number };
      let sent = 0;
      const prompt: PromptPart[] = [
        { kind: "special", token: "fim_prefix" },
        { kind: "text", text: body.prompt },
        { kind: "special", token: "fim_suffix" },
        { kind: "text", text: body.suffix },
        { kind: "special", token: "fim_middle" },
      ];
      void local
        .generate({ prompt, maxTokens: body.max_tokens, maxTimeMs: 5000, temperature: 0, shouldStop: (t) => (t.length > sent ? (send(t.slice(sent)), (sent = t.length), false) : false) }, new AbortController().signal)
        .then(() => res.end("data: [DONE]\n\n"));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;

  const build = (extra: Record<string, unknown>) => {
    const { settings } = applySettings({
      cloud: { providers: { bench: { baseUrl, model: "tiny", completionApi: "completions" } }, cooldownSeconds: 0, ...((extra.cloud as object) ?? {}) },
      router: extra.router ?? {},
    });
    const cloud = new CloudRegistry(silentLogger(), {});
    cloud.configure(settings);
    const router = new Router(routerConfig(settings, {}), { localStatus: () => model.status(), cloudProvider: (t) => cloud.providerFor(t) }, silentLogger());
    return { router, backend: new RoutedCompletionBackend(local, router, cloud, silentLogger()) };
  };

  // 1. The decision per completion: route (decide + log) + finish, with the default settings.
  const { router } = build({});
  const iterations = quick ? 20_000 : 100_000;
  const timeLoop = (fn: () => void): number[] => {
    const samples: number[] = [];
    for (let batch = 0; batch < iterations / 100; batch++) {
      const t0 = performance.now();
      for (let i = 0; i < 100; i++) fn();
      samples.push(((performance.now() - t0) * 1000) / 100);
    }
    return samples;
  };
  let sink = 0;
  const baseline = timeLoop(() => void (sink += Math.random()));
  const decide = timeLoop(() => {
    const entry = router.route({ task: "completion", contextTokens: 1560, countContextTokens: () => 1200, uri: "file:///p/src/main.ts", cloudCapable: true });
    router.finish(entry, { servedBy: "local", status: "ok", ms: 1 });
  });
  const cloudDecide = timeLoop(() => void router.decide({ task: "chat", contextTokens: 7000, uri: "file:///p/src/main.ts" }));

  // 2. A completion through the routed backend vs the local backend, same prompt (KV cache warm).
  const { backend: routed } = build({});
  const request = (i: number): GenerateRequest => {
    const prefix = `function add${i % 2}(a, b) {\n  return `;
    return {
      prompt: [{ kind: "special", token: "fim_prefix" }, { kind: "text", text: prefix }, { kind: "special", token: "fim_suffix" }, { kind: "text", text: "\n}\n" }, { kind: "special", token: "fim_middle" }],
      maxTokens: 8,
      maxTimeMs: 5000,
      temperature: 0,
      fim: { prefix, suffix: "\n}\n", snippets: [], filePath: "a.js", language: "javascript" },
      routing: { task: "completion", contextTokens: 40 },
    };
  };
  const rounds = quick ? 20 : 60;
  const direct: number[] = [];
  const viaRouter: number[] = [];
  for (let i = 0; i < rounds; i++) {
    let t0 = performance.now();
    await local.generate(request(i), new AbortController().signal);
    direct.push(performance.now() - t0);
    t0 = performance.now();
    await routed.generate(request(i), new AbortController().signal);
    viaRouter.push(performance.now() - t0);
  }

  // 3. Cloud round trips.
  const { backend: cloudRouted } = build({ router: { taskPreference: { completion: "cloud" } } });
  const roundTrip = async (mode: Behaviour, n: number): Promise<number[]> => {
    behaviour = mode;
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      const r = await cloudRouted.generate(request(i), new AbortController().signal);
      if (!r.backend?.startsWith("cloud")) throw new Error(`expected a cloud answer, got ${r.backend}: ${r.reason}`);
      out.push(performance.now() - t0);
    }
    return out;
  };
  const scripted = await roundTrip("ok", quick ? 20 : 100);
  const modelBacked = await roundTrip("model", quick ? 10 : 30);

  // 4. Fallbacks: time from the request to the local answer.
  const fallback = async (mode: Behaviour, cloud: Record<string, unknown>, n: number, url?: string): Promise<number[]> => {
    behaviour = mode;
    const { settings } = applySettings({
      cloud: { providers: { bench: { baseUrl: url ?? baseUrl, model: "tiny", completionApi: "completions" } }, cooldownSeconds: 0, ...cloud },
      router: { taskPreference: { completion: "cloud" } },
    });
    const registry = new CloudRegistry(silentLogger(), {});
    registry.configure(settings);
    const r = new Router(routerConfig(settings, {}), { localStatus: () => model.status(), cloudProvider: (t) => registry.providerFor(t) }, silentLogger());
    const b = new RoutedCompletionBackend(local, r, registry, silentLogger());
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      const result = await b.generate(request(i), new AbortController().signal);
      if (result.backend !== "local") throw new Error(`expected a local fallback, got ${result.backend}`);
      out.push(performance.now() - t0);
    }
    return out;
  };
  const n = quick ? 3 : 5;
  const rateLimited = await fallback("429", { maxRetries: 2, retryBaseMs: 300 }, n);
  const rateLimitedNoRetry = await fallback("429", { maxRetries: 0 }, n);
  const hanging = await fallback("hang", { maxRetries: 1, timeoutMs: 1000, retryBaseMs: 300 }, n);
  const closed = http.createServer();
  await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
  const closedUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/v1`;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  const unreachable = await fallback("ok", { maxRetries: 2, retryBaseMs: 300 }, n, closedUrl);

  server.closeAllConnections();
  server.close();
  await model.dispose();

  const figures = {
    baselineLoopUs: summarize(baseline, 3),
    decisionUs: summarize(decide, 3),
    cloudDecisionUs: summarize(cloudDecide, 3),
    localDirectMs: summarize(direct, 2),
    localViaRouterMs: summarize(viaRouter, 2),
    cloudScriptedRoundTripMs: summarize(scripted, 2),
    cloudModelRoundTripMs: summarize(modelBacked, 2),
    fallback429Retries2Ms: summarize(rateLimited, 0),
    fallback429NoRetryMs: summarize(rateLimitedNoRetry, 1),
    fallbackHangTimeout1000Retries1Ms: summarize(hanging, 0),
    fallbackUnreachableRetries2Ms: summarize(unreachable, 0),
  };
  log("ifai-lsp router bench (2-core machine figures vary with neighbours)");
  log(formatSummary("baseline loop body", figures.baselineLoopUs, "µs"));
  log(formatSummary("routing decision + log (completion)", figures.decisionUs, "µs"));
  log(formatSummary("routing decision (chat, cloud rule)", figures.cloudDecisionUs, "µs"));
  log(formatSummary("local completion, direct", figures.localDirectMs, "ms"));
  log(formatSummary("local completion, through the router", figures.localViaRouterMs, "ms"));
  log(formatSummary("cloud completion, scripted SSE server", figures.cloudScriptedRoundTripMs, "ms"));
  log(formatSummary("cloud completion, tiny-model server", figures.cloudModelRoundTripMs, "ms"));
  log(formatSummary("429 ×3 (2 retries, 300 ms base) → local", figures.fallback429Retries2Ms, "ms"));
  log(formatSummary("429, no retry → local", figures.fallback429NoRetryMs, "ms"));
  log(formatSummary("hang (1000 ms time-out, 1 retry) → local", figures.fallbackHangTimeout1000Retries1Ms, "ms"));
  log(formatSummary("unreachable (2 retries) → local", figures.fallbackUnreachableRetries2Ms, "ms"));
  log(JSON.stringify({ bench: "router", sink: sink > 0, ...figures }));
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:router failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
