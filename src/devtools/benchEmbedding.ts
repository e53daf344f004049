/**
 * npm run bench:embedding — throughput and latency of the ONNX embedder (worker thread, real
 * onnxruntime-node, one intra-op thread) on real source code from installed npm packages, cut into
 * 40-line chunks, with the real all-MiniLM-L6-v2 tokenizer when ../shared/models has it. Models,
 * FP32 and INT8: the tiny test graph (measures the pipeline: tokenization, batching, messaging,
 * pooling) and generated models of all-MiniLM-L6-v2's exact shape (6 layers × 384) and, with
 * --base, of a 12-layer × 768 model (jina-embeddings-v2-base-code / CodeRankEmbed class), whose
 * random weights run at a real model's speed. Prints p50/p95 and ends with one JSON line.
 *
 *   node dist/devtools/benchEmbedding.js [--quick] [--threads N] [--base]
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { pino } from "pino";
import { createOnnxEmbedder, type OnnxEmbedder } from "../index/embedding/createEmbedder.js";
import { formatSummary, summarize, type Summary } from "./bench/stats.js";
import { ensureTinyEmbedder, type TinyEmbedderOptions } from "./onnx/tinyEmbeddingModel.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const quick = process.argv.includes("--quick");
const threadsArg = process.argv.indexOf("--threads");
const threads = threadsArg > 0 ? Number(process.argv[threadsArg + 1]) : 1;
const log = (s = ""): void => void process.stdout.write(`${s}\n`);

/** Packages whose JavaScript sources make the corpus (all pinned by the lockfile). */
const CORPUS_DIRS = [
  "node_modules/vscode-jsonrpc/lib",
  "node_modules/vscode-languageserver/lib",
  "node_modules/vscode-languageserver-protocol/lib",
  "node_modules/pino/lib",
  "node_modules/chokidar",
  "node_modules/openai/src",
];
const CHUNK_LINES = 40;

function corpus(limit: number): string[] {
  const chunks: string[] = [];
  for (const dir of CORPUS_DIRS) {
    const abs = path.join(root, dir);
    if (!fs.existsSync(abs)) continue;
    for (const entry of fs.readdirSync(abs, { withFileTypes: true, recursive: true })) {
      if (!entry.isFile() || !/\.(js|mjs|cjs|ts)$/.test(entry.name) || entry.name.endsWith(".d.ts")) continue;
      const lines = fs.readFileSync(path.join(entry.parentPath, entry.name), "utf8").split("\n");
      for (let i = 0; i < lines.length; i += CHUNK_LINES) {
        const chunk = lines.slice(i, i + CHUNK_LINES).join("\n").trim();
        if (chunk.length > 0) chunks.push(chunk);
        if (chunks.length >= limit) return chunks;
      }
    }
  }
  return chunks;
}

interface Run {
  model: string;
  batchSize: number;
  textsPerSecond: number;
  tokensPerSecond: number;
  batchMs: Summary;
}

async function measure(embedder: OnnxEmbedder, label: string, chunks: string[], batchSize: number): Promise<Run> {
  const before = embedder.stats;
  const latencies: number[] = [];
  const started = performance.now();
  // Sequential calls of exactly one batch each: the latency a caller sees per batch.
  for (let i = 0; i < chunks.length; i += batchSize) {
    const t0 = performance.now();
    await embedder.embed(chunks.slice(i, i + batchSize), "document");
    latencies.push(performance.now() - t0);
  }
  const seconds = (performance.now() - started) / 1000;
  const after = embedder.stats;
  const run: Run = {
    model: label,
    batchSize,
    textsPerSecond: Math.round((after.texts - before.texts) / seconds),
    tokensPerSecond: Math.round((after.tokens - before.tokens) / seconds),
    batchMs: summarize(latencies, 2),
  };
  log(formatSummary(`${label} batch ${batchSize}: per batch`, run.batchMs, "ms") + `  ${run.textsPerSecond} texts/s  ${run.tokensPerSecond} tokens/s`);
  return run;
}

/** Latency of one-text queries, idle or while the whole corpus is being embedded in the background. */
async function queryLatency(embedder: OnnxEmbedder, chunks: string[], whileIndexing: boolean): Promise<Summary> {
  let indexing = whileIndexing;
  const background = whileIndexing ? embedder.embed(chunks, "document").then(() => void (indexing = false)) : Promise.resolve();
  const latencies: number[] = [];
  for (let i = 0; whileIndexing ? indexing : i < 50; i++) {
    const t0 = performance.now();
    await embedder.embed([`where is the connection closed ${i}`], "query");
    // Only queries answered while the background request was still running count.
    if (!whileIndexing || indexing) latencies.push(performance.now() - t0);
  }
  await background;
  return summarize(latencies, 2);
}

interface ModelSpec {
  label: string;
  options: TinyEmbedderOptions;
  files: Array<"model.onnx" | "model_quantized.onnx">;
  /** Chunks per measured run: real shapes are much slower, so they get fewer. */
  chunks: number;
}

/** Exact shapes of real models (random weights: speed does not depend on the values). */
const MINILM_SHAPE = { hidden: 384, bert: { layers: 6, heads: 12, intermediate: 1536 } };
const BASE_SHAPE = { hidden: 768, bert: { layers: 12, heads: 12, intermediate: 3072 } };

async function main(): Promise<void> {
  const tokenizerDir = path.resolve(root, "../shared/models/all-MiniLM-L6-v2-tokenizer");
  const hasTokenizer = fs.existsSync(path.join(tokenizerDir, "tokenizer.json"));
  log(`ifai-lsp embedding benchmark — ${os.cpus().length} cores, node ${process.version}, ${threads} intra-op thread(s)`);
  if (!hasTokenizer) log("(../shared/models absent: the generator's small WordPiece tokenizer, so token counts are not realistic)");
  const chunks = corpus(quick ? 300 : 2000);
  log(`corpus: ${chunks.length} chunks of ≤ ${CHUNK_LINES} lines from ${CORPUS_DIRS.length} npm packages`);
  const common: TinyEmbedderOptions = {
    precision: "both",
    ...(hasTokenizer ? { tokenizerDir } : {}),
    // 256 tokens, all-MiniLM-L6-v2's own limit.
    sentenceTransformers: { maxSeqLength: 256 },
  };
  const specs: ModelSpec[] = [
    { label: "tiny", options: common, files: ["model.onnx", "model_quantized.onnx"], chunks: chunks.length },
    { label: "minilm-shape", options: { ...common, ...MINILM_SHAPE }, files: ["model.onnx", "model_quantized.onnx"], chunks: quick ? 48 : 128 },
  ];
  // 12 layers × 768 (jina-embeddings-v2-base-code / CodeRankEmbed class): a 440 MB FP32 file, so opt-in.
  if (process.argv.includes("--base")) specs.push({ label: "base-shape", options: { ...common, ...BASE_SHAPE, precision: "int8" }, files: ["model_quantized.onnx"], chunks: quick ? 16 : 64 });
  const logger = pino({ level: "warn" }, pino.destination(2));
  const runs: Run[] = [];
  const queries: Record<string, { idle: Summary; whileIndexing: Summary }> = {};
  for (const spec of specs) {
    const genStart = performance.now();
    const dir = await ensureTinyEmbedder(path.join(root, ".cache", "bench-models"), spec.options);
    log(`${spec.label}: model folder ready in ${((performance.now() - genStart) / 1000).toFixed(1)} s`);
    const subset = chunks.slice(0, spec.chunks);
    for (const file of spec.files) {
      const label = `${spec.label}-${file === "model.onnx" ? "fp32" : "int8"}`;
      const loadStart = performance.now();
      const embedder = await createOnnxEmbedder({ modelDir: path.join(dir, file), logger, threads, batchSize: 64, maxBatchTokens: 64 * 256 });
      const mb = fs.statSync(path.join(dir, file)).size / 2 ** 20;
      log(`${label}: ${embedder.dimensions} dims, ${mb.toFixed(1)} MiB, loaded in ${(performance.now() - loadStart).toFixed(0)} ms`);
      // Warm-up, so the first measured batch does not pay for allocations.
      await embedder.embed(subset.slice(0, 8), "document");
      for (const batchSize of [1, 8, 32]) runs.push(await measure(embedder, label, batchSize === 1 ? subset.slice(0, Math.min(200, subset.length)) : subset, batchSize));
      // Query latency with the embedder's default batching, which bounds how long a query waits.
      await embedder.dispose();
      const defaults = await createOnnxEmbedder({ modelDir: path.join(dir, file), logger, threads });
      const idle = await queryLatency(defaults, subset, false);
      const whileIndexing = await queryLatency(defaults, subset, true);
      log(formatSummary(`${label} query, idle`, idle, "ms"));
      log(formatSummary(`${label} query, while embedding ${subset.length} chunks`, whileIndexing, "ms"));
      queries[label] = { idle, whileIndexing };
      await defaults.dispose();
    }
  }
  const tokensPerChunk = runs[1] ? Math.round(runs[1].tokensPerSecond / Math.max(1, runs[1].textsPerSecond)) : 0;
  log(`average tokens per chunk: ${tokensPerChunk} (truncated at 256)`);
  log("note: the tiny graph measures the pipeline (tokenizer, worker, batching, pooling); the *-shape models have real models' exact layer shapes with random weights, so their speed is a real model's");
  log(JSON.stringify({ bench: "embedding", threads, chunks: chunks.length, tokenizer: hasTokenizer ? "all-MiniLM-L6-v2" : "built-in WordPiece", tokensPerChunk, runs, queries }));
}

main().catch((error: unknown) => {
  process.stderr.write(`benchEmbedding: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  process.exit(1);
});
