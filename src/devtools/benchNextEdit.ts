/**
 * npm run bench:nextedit — next-edit suggestions replayed from this repository's own git history:
 * for each commit that changes a file in two nearby places, the first change is applied as the
 * user's edit (and fed to the edit history), the service is asked for the next edit at the end of
 * it, and the answer is compared with the commit's second change. Runs the real service, backend
 * and node-llama-cpp in-process on a generated model of a real Qwen2.5-Coder shape (random
 * weights: the predictions are noise, the harness and the costs are real), once without and once
 * with prompt-lookup decoding (greedy output must be identical). Also: completion latency while
 * a next edit runs against completion alone, and prompt lookup on the trained stories260K model in
 * ../shared/models, where copying is meaningful. Ends with one JSON line.
 *
 * Flags: --model tiny|0.5b|1.5b (default 0.5b), --cases N (6), --max-tokens N (128),
 * --context-lines N (10), --commits N (400), --threads N (2); --trained-only runs the stories260K part alone.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { EditHistory } from "../features/nextEdit/EditHistory.js";
import { NextEditService, type NextEditOutcome, type NextEditSettings } from "../features/nextEdit/NextEditService.js";
import { applyEdits } from "../features/nextEdit/minimalEdits.js";
import { editableRegion } from "../features/nextEdit/regions.js";
import { LocalCompletionBackend } from "../inference/local/LocalCompletionBackend.js";
import { LocalModel } from "../inference/local/LocalModel.js";
import { LocalNextEditBackend, type LocalNextEditOptions } from "../inference/local/LocalNextEditBackend.js";
import type { GenerateResult } from "../inference/types.js";
import { silentLogger } from "../util/logger.js";
import { applyHunks, editSimilarity, mineCases, type ReplayCase } from "./bench/editReplay.js";
import { formatSummary, summarize } from "./bench/stats.js";
import { ensureGeneratedModel, QWEN25_CODER_05B_SHAPE, QWEN25_CODER_15B_SHAPE, TINY_SHAPE } from "./gguf/qwen2Model.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const log = (s = ""): void => void process.stdout.write(`${s}\n`);
const arg = (name: string, fallback: string): string => {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 && process.argv[at + 1] ? process.argv[at + 1]! : fallback;
};
const modelName = arg("model", "0.5b");
const caseCount = Number(arg("cases", "6"));
const maxTokens = Number(arg("max-tokens", "128"));
const contextLines = Number(arg("context-lines", "10"));
const commits = Number(arg("commits", "400"));
const threads = Number(arg("threads", "2"));
const never = new AbortController().signal;

interface Prepared {
  c: ReplayCase;
  uri: string;
  /** The file after the first change: what the user sees when they pause. */
  doc: string;
  expected: string;
  cursor: number;
  history: EditHistory;
}

/** The first change as a text edit on the file before the commit, fed to a fresh history. */
function prepare(c: ReplayCase): Prepared | undefined {
  const lines = c.before.split("\n");
  const starts = [0];
  for (const l of lines) starts.push(starts[starts.length - 1]! + l.length + 1);
  const h = c.first;
  const at = h.oldCount === 0 ? h.oldStart : h.oldStart - 1;
  const start = Math.min(starts[at]!, c.before.length);
  const end = Math.min(starts[at + h.oldCount]!, c.before.length);
  const insert = h.added.map((l) => `${l}\n`).join("");
  const doc = c.before.slice(0, start) + insert + c.before.slice(end);
  if (doc !== applyHunks(lines, [h]).join("\n")) return undefined;
  const uri = pathToFileURL(path.join(root, c.path)).href;
  const history = new EditHistory();
  history.record({ uri, path: c.path, version: 2, text: c.before, start, end, insert, line: at, time: 0 });
  const cursor = insert.length > 0 ? start + insert.length - 1 : start;
  return { c, uri, doc, expected: applyHunks(lines, [h, c.second]).join("\n"), cursor, history };
}

function languageOf(file: string): string {
  if (file.endsWith(".ts")) return "typescript";
  if (file.endsWith(".js") || file.endsWith(".mjs")) return "javascript";
  if (file.endsWith(".lua")) return "lua";
  if (file.endsWith(".el")) return "emacs-lisp";
  return "plaintext";
}

async function main(): Promise<void> {
  log(`ifai-lsp next-edit benchmark — ${os.cpus().length} cores, node ${process.version}`);
  if (process.argv.includes("--trained-only")) {
    const trained = await trainedSpeculation();
    log(JSON.stringify({ bench: "nextedit", trainedPromptLookup: trained ?? null }));
    return;
  }
  const mined = mineCases(root, { commits, cases: caseCount, maxDistance: 8, maxHunkLines: 6, extensions: [".ts", ".js", ".mjs", ".lua", ".el"] });
  const prepared = mined.cases.map(prepare).filter((p): p is Prepared => p !== undefined);
  log(`cases: ${prepared.length} from the last ${commits} commits (${mined.filesSeen} files with ≥2 hunks; ${mined.tooFar} with the second change too far away)`);
  if (prepared.length === 0) throw new Error("no replayable edit sequences found in this repository's history (is this a git checkout?)");

  const vocabPath = path.resolve(root, "../shared/models/ggml-vocab-qwen2.5.gguf");
  const vocab = fs.existsSync(vocabPath) ? { vocabGgufPath: vocabPath } : ("byte" as const);
  const shape = modelName === "tiny" ? TINY_SHAPE : modelName === "1.5b" ? QWEN25_CODER_15B_SHAPE : QWEN25_CODER_05B_SHAPE;
  const modelPath = await ensureGeneratedModel(path.join(root, ".cache", "bench-models"), { shape, quant: "Q8_0", vocab, seed: 1 });
  log(`model: ${path.basename(modelPath)} (${(fs.statSync(modelPath).size / 2 ** 20).toFixed(0)} MiB), ${threads} threads (next edits on ${Math.max(1, Math.floor(threads / 2))}, as the server does)`);

  const model = new LocalModel({ modelPath, gpu: "cpu", threads, contextSize: 4096, batchSize: 32, idleUnloadMs: 0, keepLoaded: true }, silentLogger());
  const backendOptions: LocalNextEditOptions = { contextSize: 4096, speculative: false };
  const backend = new LocalNextEditBackend(model, silentLogger(), () => backendOptions);
  const settings: NextEditSettings = {
    enabled: true,
    format: "instruct",
    maxTokens,
    maxTimeMs: 120_000,
    historyEdits: 8,
    region: { linesAbove: 10, linesBelow: 10, maxChars: Math.max(200, maxTokens * 3), contextLines },
  };
  await model.load();

  type Run = { outcome: NextEditOutcome; ms: number; text: string };
  const runAll = async (speculative: boolean): Promise<Run[]> => {
    backendOptions.speculative = speculative;
    const runs: Run[] = [];
    for (const p of prepared) {
      let raw = "";
      // The service sees the backend's raw answer through this wrapper, for the identity check.
      const spy = { status: () => backend.status(), tokenizer: (s: AbortSignal) => backend.tokenizer(s), generate: async (...a: Parameters<typeof backend.generate>): Promise<GenerateResult> => {
        const r = await backend.generate(...a);
        raw = r.text;
        return r;
      } };
      const service = new NextEditService(spy, p.history, settings, silentLogger());
      const t0 = performance.now();
      const outcome = await service.suggest({ uri: p.uri, path: p.c.path, languageId: languageOf(p.c.path), version: 2, text: p.doc, offset: p.cursor, currentVersion: () => 2 }, never);
      runs.push({ outcome, ms: performance.now() - t0, text: raw });
    }
    return runs;
  };
  const plain = await runAll(false);
  const spec = await runAll(true);

  const identical = plain.every((r, i) => r.text === spec[i]!.text);
  let exact = 0;
  const similarity: number[] = [];
  const noEdit: number[] = [];
  const reasons: Record<string, number> = {};
  spec.forEach((r, i) => {
    const p = prepared[i]!;
    const predicted = applyEdits(p.doc, r.outcome.edits);
    if (predicted === p.expected) exact++;
    const region = editableRegion(p.doc, p.cursor, settings.region);
    const slice = (t: string): string => t.slice(region.start, region.end + (t.length - p.doc.length));
    similarity.push(editSimilarity(slice(predicted), slice(p.expected)));
    noEdit.push(editSimilarity(slice(p.doc), slice(p.expected)));
    const key = r.outcome.edits.length > 0 ? "suggested" : r.outcome.reason ?? "none";
    reasons[key] = (reasons[key] ?? 0) + 1;
  });
  const mean = (xs: number[]): number => Number((xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length)).toFixed(3));
  const latencyPlain = summarize(plain.map((r) => r.ms), 0);
  const latencySpec = summarize(spec.map((r) => r.ms), 0);
  const validated = spec.reduce((n, r) => n + (r.outcome.metrics.predictions?.validated ?? 0), 0);
  const refuted = spec.reduce((n, r) => n + (r.outcome.metrics.predictions?.refuted ?? 0), 0);
  log(formatSummary("pause → suggestion, no speculation", latencyPlain, "ms"));
  log(formatSummary("pause → suggestion, prompt lookup", latencySpec, "ms"));
  log(formatSummary("prompt tokens", summarize(spec.map((r) => r.outcome.metrics.promptTokens), 0), "tok"));
  log(formatSummary("prompt tokens evaluated", summarize(spec.map((r) => r.outcome.metrics.evaluatedTokens), 0), "tok"));
  log(formatSummary("tokens generated", summarize(spec.map((r) => r.outcome.metrics.generatedTokens), 0), "tok"));
  log(`greedy output identical with and without speculation: ${identical}; predictions confirmed ${validated}, rejected ${refuted}`);
  log(`exact match ${exact}/${spec.length}; edit similarity ${mean(similarity)} (doing nothing: ${mean(noEdit)}); outcomes ${JSON.stringify(reasons)}`);

  // Completion latency alone and while a next edit runs on its own context.
  const completion = new LocalCompletionBackend(model, silentLogger());
  const fim = (i: number) => ({
    prompt: [
      { kind: "special" as const, token: "fim_prefix" as const },
      { kind: "text" as const, text: `${prepared[0]!.doc.slice(0, 600)}\nconst value${i} = ` },
      { kind: "special" as const, token: "fim_suffix" as const },
      { kind: "text" as const, text: "\n" },
      { kind: "special" as const, token: "fim_middle" as const },
    ],
    maxTokens: 8,
    maxTimeMs: 30_000,
    temperature: 0,
  });
  const alone: number[] = [];
  const during: number[] = [];
  // Alone and during are interleaved so that both see the same machine (neighbours come and go).
  for (let i = 0; i < prepared.length; i++) {
    const t0 = performance.now();
    await completion.generate(fim(i), never);
    alone.push(performance.now() - t0);
    const p = prepared[i]!;
    let nextEditDone = false;
    const service = new NextEditService(backend, p.history, settings, silentLogger());
    const running = service.suggest({ uri: p.uri, path: p.c.path, languageId: languageOf(p.c.path), version: 2, text: p.doc, offset: p.cursor, currentVersion: () => 2 }, never).then(() => (nextEditDone = true));
    const t1 = performance.now();
    await completion.generate(fim(100 + i), never);
    if (!nextEditDone) during.push(performance.now() - t1);
    await running;
  }
  const completionAlone = summarize(alone, 0);
  const completionDuring = summarize(during, 0);
  log(formatSummary("completion alone (8 tokens)", completionAlone, "ms"));
  log(formatSummary("completion while a next edit runs", completionDuring, "ms"));
  await model.dispose();

  const trained = await trainedSpeculation();
  if (trained) log(`stories260K prompt lookup: acceptance ${trained.acceptance}, speed-up ${trained.speedup}× (p50 ${trained.plainMs} → ${trained.specMs} ms), identical ${trained.identical}`);

  log(
    JSON.stringify({
      bench: "nextedit",
      model: path.basename(modelPath),
      threads,
      cases: spec.length,
      maxTokens,
      latencyMs: { noSpeculation: latencyPlain, promptLookup: latencySpec },
      promptTokensP50: summarize(spec.map((r) => r.outcome.metrics.promptTokens), 0).p50,
      evaluatedTokensP50: summarize(spec.map((r) => r.outcome.metrics.evaluatedTokens), 0).p50,
      generatedTokensP50: summarize(spec.map((r) => r.outcome.metrics.generatedTokens), 0).p50,
      greedyIdentical: identical,
      predictions: { validated, refuted },
      exactMatch: Number((exact / spec.length).toFixed(3)),
      editSimilarity: mean(similarity),
      noEditSimilarity: mean(noEdit),
      outcomes: reasons,
      completionMs: { alone: completionAlone, whileNextEdit: completionDuring, ratioP50: Number((completionDuring.p50 / completionAlone.p50).toFixed(2)) },
      ...(trained ? { trainedPromptLookup: trained } : {}),
    }),
  );
}

/** Prompt lookup on a trained model whose answer copies its prompt (a story told again). */
async function trainedSpeculation(): Promise<{ acceptance: number; speedup: number; plainMs: number; specMs: number; identical: boolean } | undefined> {
  const stories = path.resolve(root, "../shared/models/stories260K.gguf");
  if (!fs.existsSync(stories)) return undefined;
  const story = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends. One day, she saw a big red ball under a tree.";
  const request = { prompt: [{ kind: "text" as const, text: `${story}\n${story}\nOnce upon a time, there was` }], maxTokens: 96, maxTimeMs: 60_000, temperature: 0, copySource: story };
  const run = async (speculative: boolean): Promise<{ ms: number[]; text: string; validated: number; refuted: number }> => {
    const model = new LocalModel({ modelPath: stories, gpu: "cpu", threads: 1, contextSize: 1024, batchSize: 32, idleUnloadMs: 0, keepLoaded: true }, silentLogger());
    const backend = new LocalNextEditBackend(model, silentLogger(), () => ({ contextSize: 1024, speculative }));
    const ms: number[] = [];
    let last: GenerateResult | undefined;
    let validated = 0;
    let refuted = 0;
    for (let i = 0; i < 6; i++) {
      last = await backend.generate(request, never);
      // The first run pays for the prompt; later ones reuse it and measure generation.
      if (i > 0) ms.push(last.totalMs);
      validated += last.predictions?.validated ?? 0;
      refuted += last.predictions?.refuted ?? 0;
    }
    await model.dispose();
    return { ms, text: last!.text, validated, refuted };
  };
  const plain = await run(false);
  const spec = await run(true);
  const p50 = (xs: number[]): number => summarize(xs, 1).p50;
  return {
    acceptance: Number((spec.validated / Math.max(1, spec.validated + spec.refuted)).toFixed(3)),
    speedup: Number((p50(plain.ms) / p50(spec.ms)).toFixed(2)),
    plainMs: p50(plain.ms),
    specMs: p50(spec.ms),
    identical: plain.text === spec.text,
  };
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
