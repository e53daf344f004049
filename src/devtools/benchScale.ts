/**
 * npm run bench:scale — the index at monorepo size. Generates a large tree from real sources
 * (generateMonorepo.ts: npm packages and llama.cpp, copied with renamed identifiers, nested
 * .gitignores and ignored folders), then, in one run:
 *
 * 1. builds its index with `ifai-lsp index` (the command users run) as a child process, sampling
 *    the memory of that process and anything it starts: files/s, chunks/s, peak RSS, index size;
 *    the files found are checked against what the generator says the ignore rules leave;
 * 2. runs `ifai-lsp index` again with nothing changed (the cost of every later start);
 * 3. opens the index as the server does (file watcher on) in another child process: query
 *    p50/p95 (full text; hybrid too with an embedder) and file saved → searchable, with that
 *    process's memory and inotify watches;
 * 4. times the hashing ONNX embedder on chunks of the tree, to say what embedding them all costs.
 *
 *   --files N                   files in the tree (default 10000; the issue's scale is 100000)
 *   --dir DIR                   where the tree and index go (default .cache/bench-scale)
 *   --embedder hashing          index with the generated hashing embedding model (hybrid)
 *   --queries N --samples N     queries and saved → searchable samples (default 200, 20)
 *   --keep                      keep the tree and index afterwards
 *
 * Prints the figures and ends with one JSON line.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { silentLogger } from "../util/logger.js";
import { generateMonorepo, type MonorepoManifest } from "./generateMonorepo.js";
import { MemorySampler } from "./bench/processTree.js";
import { formatSummary, type Summary } from "./bench/stats.js";
import { writeHashingEmbedder } from "./onnx/hashingEmbeddingModel.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const MINILM_TOKENIZER = path.resolve(root, "../shared/models/all-MiniLM-L6-v2-tokenizer");
const { values } = parseArgs({
  options: {
    files: { type: "string", default: "10000" },
    dir: { type: "string", default: path.join(root, ".cache", "bench-scale") },
    embedder: { type: "string", default: "" },
    queries: { type: "string", default: "200" },
    samples: { type: "string", default: "20" },
    keep: { type: "boolean", default: false },
  },
});
const log = (s = ""): void => void process.stdout.write(`${s}\n`);

interface ChildRun {
  code: number;
  seconds: number;
  peakRssMiB: number;
  stdout: string;
  stderr: string;
}

/** Runs a node script as a child, sampling its process tree's memory; prints its progress now and then. */
async function runMeasured(label: string, args: string[], as: string[]): Promise<ChildRun> {
  // Started the way bin/ifai-lsp.js starts the command line `as` (bin/tuning.js), whatever the script.
  const { tuningFor } = (await import(pathToFileURL(path.join(root, "bin", "tuning.js")).href)) as { tuningFor: (args: string[]) => { flags: string[]; env: Record<string, string> } | undefined };
  const tuning = tuningFor(as) ?? { flags: [], env: {} };
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const env = { ...tuning.env, ...process.env, LANCEDB_LOG: "error" };
    const child = spawn(process.execPath, [...tuning.flags, ...args], { stdio: ["ignore", "pipe", "pipe"], env });
    const sampler = new MemorySampler(child.pid!, 200);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-20_000)));
    const ticker = setInterval(() => {
      log(`  … ${label}: ${((performance.now() - started) / 1000).toFixed(0)} s, RSS ${(sampler.lastRssKiB / 1024).toFixed(0)} MiB (peak ${sampler.peakMiB.toFixed(0)} MiB)`);
    }, 60_000);
    child.on("error", reject);
    child.on("close", (code) => {
      sampler.stop();
      clearInterval(ticker);
      resolve({ code: code ?? 1, seconds: (performance.now() - started) / 1000, peakRssMiB: sampler.peakMiB, stdout, stderr });
    });
  });
}

function duMiB(dir: string): number {
  let bytes = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) bytes += fs.statSync(path.join(entry.parentPath, entry.name)).size;
  }
  return bytes / 2 ** 20;
}

function lastJson<T>(text: string): T {
  const line = text.trim().split("\n").filter((l) => l.startsWith("{")).pop();
  if (!line) throw new Error(`no JSON in the output:\n${text.slice(-2000)}`);
  return JSON.parse(line) as T;
}

/** Embeds a sample of the tree's chunk-sized texts with the hashing model: chunks per second on one thread. */
async function embeddingRate(modelDir: string, treeDir: string): Promise<{ chunks: number; perSecond: number }> {
  const { createEmbedder } = await import("../index/embedding/createEmbedder.js");
  const embedder = await createEmbedder({ modelDir, logger: silentLogger() });
  const texts: string[] = [];
  for (const entry of fs.readdirSync(treeDir, { withFileTypes: true, recursive: true })) {
    if (texts.length >= 2000) break;
    if (!entry.isFile() || !/\.(ts|js|c|cpp|py)$/.test(entry.name)) continue;
    const lines = fs.readFileSync(path.join(entry.parentPath, entry.name), "utf8").split("\n");
    for (let i = 0; i + 10 < lines.length && texts.length < 2000; i += 40) texts.push(lines.slice(i, i + 40).join("\n"));
  }
  await embedder.embed(texts.slice(0, 32), "document");
  const started = performance.now();
  for (let i = 0; i < texts.length; i += 32) await embedder.embed(texts.slice(i, i + 32), "document");
  const seconds = (performance.now() - started) / 1000;
  await embedder.dispose();
  return { chunks: texts.length, perSecond: texts.length / seconds };
}

async function main(): Promise<void> {
  const files = Number(values.files);
  const work = path.resolve(values.dir!);
  const tree = path.join(work, "tree");
  const index = path.join(work, "index");
  log(`ifai-lsp scale benchmark — ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}, load ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}`);
  fs.mkdirSync(work, { recursive: true });
  fs.rmSync(index, { recursive: true, force: true });
  try {
    const g0 = performance.now();
    const manifest: MonorepoManifest = generateMonorepo({ out: tree, files });
    const generateSeconds = (performance.now() - g0) / 1000;
    log(`tree: ${manifest.indexable} indexable files (+${manifest.ignored} ignored, ${manifest.nestedGitignores} nested .gitignore files), ${manifest.dirs} folders, ${(manifest.bytes / 2 ** 20).toFixed(0)} MiB, ${manifest.copies} copies of ${manifest.sources} sources; generated in ${generateSeconds.toFixed(1)} s`);

    let modelDir = "";
    if (values.embedder === "hashing" || values.embedder === "") {
      modelDir = path.join(work, "model-hashing");
      await writeHashingEmbedder(modelDir, { dimensions: 256, ...(fs.existsSync(MINILM_TOKENIZER) ? { tokenizerDir: MINILM_TOKENIZER } : {}) });
    }
    const hybridIndex = values.embedder === "hashing";
    const embedArgs = hybridIndex ? ["--embedding-model-dir", modelDir] : [];

    // 1. The full index, as `ifai-lsp index` builds it.
    const cli = path.join(root, "bin", "ifai-lsp.js");
    const indexArgs = [cli, "index", tree, "--uri", index, "--max-files", "10000000", "--json", ...embedArgs];
    log();
    log(`full index (${hybridIndex ? "hybrid, hashing embedder" : "full text"}), ifai-lsp index as a child process …`);
    const full = await runMeasured("index", indexArgs, ["index"]);
    if (full.code !== 0) throw new Error(`ifai-lsp index failed (${full.code}):\n${full.stderr}`);
    const result = lastJson<{ files: number; indexedFiles: number; skippedFiles: number; chunks: number; seconds: number; pass: { bytesRead: number; writeMs?: number; embedMs?: number; chunksEmbedded: number } }>(full.stdout);
    const sizeMiB = duMiB(index);
    const filesPerSecond = result.files / full.seconds;
    const chunksPerSecond = result.chunks / full.seconds;
    log(`  ${result.files} files found (${result.indexedFiles} indexed, ${result.skippedFiles} skipped), ${result.chunks} chunks in ${full.seconds.toFixed(1)} s`);
    log(`  ${filesPerSecond.toFixed(0)} files/s, ${chunksPerSecond.toFixed(0)} chunks/s, ${(result.pass.bytesRead / 2 ** 20 / full.seconds).toFixed(2)} MB/s; peak RSS ${full.peakRssMiB.toFixed(0)} MiB; index on disk ${sizeMiB.toFixed(0)} MiB`);
    const ignoredRight = result.files === manifest.indexable;
    log(`  files found = files the ignore rules allow: ${ignoredRight ? "yes" : `NO (${result.files} vs ${manifest.indexable})`}`);

    // 2. Nothing changed: what every later run or server start pays.
    const again = await runMeasured("re-index", indexArgs, ["index"]);
    if (again.code !== 0) throw new Error(`second ifai-lsp index failed (${again.code}):\n${again.stderr}`);
    log(`  again, nothing changed: ${again.seconds.toFixed(1)} s, peak RSS ${again.peakRssMiB.toFixed(0)} MiB`);

    // 3. The live index: watcher, queries, saved → searchable.
    log();
    log("live index (file watcher on, as in the server), in a child process …");
    const live = await runMeasured("live", [path.join(root, "dist", "devtools", "bench", "scaleLive.js"), "--root", tree, "--uri", index, "--queries", values.queries!, "--samples", values.samples!, ...embedArgs], ["--stdio"]);
    if (live.code !== 0) throw new Error(`the live part failed (${live.code}):\n${live.stderr}`);
    const l = lastJson<{ mode: string; startPassMs: number; watcherReadyMs: number; inotifyWatches: number; rssAfterStartMiB: number; lexicalQueryMs: Summary; hybridQueryMs?: Summary; savedToSearchableMs: Summary; queries: number; lexicalEmpty: number; problems: string[] }>(live.stdout);
    log(`  start (pass over an unchanged index + watcher ready): ${(l.startPassMs / 1000).toFixed(1)} s + ${((l.watcherReadyMs - l.startPassMs) / 1000).toFixed(1)} s; ${l.inotifyWatches} inotify watches; RSS after start ${l.rssAfterStartMiB} MiB, peak ${live.peakRssMiB.toFixed(0)} MiB`);
    log(formatSummary(`query → top 10, full text (${result.chunks} chunks)`, l.lexicalQueryMs, "ms"));
    if (l.hybridQueryMs) log(formatSummary("query → top 10, hybrid", l.hybridQueryMs, "ms"));
    log(formatSummary("file saved → searchable (watcher)", l.savedToSearchableMs, "ms"));
    for (const p of l.problems) log(`  problem: ${p}`);

    // 4. Embedding throughput of the hashing model on chunk-sized pieces of the tree.
    const embed = await embeddingRate(modelDir, tree);
    const embedHours = result.chunks / embed.perSecond / 3600;
    log();
    log(`hashing embedder (1 thread): ${embed.perSecond.toFixed(0)} chunks/s over ${embed.chunks} chunks → ${result.chunks} chunks would take ${embedHours.toFixed(2)} h`);

    const figures = {
      bench: "scale",
      cores: os.cpus().length,
      loadAverage: Number(os.loadavg()[0]!.toFixed(1)),
      treeFiles: manifest.indexable,
      treeIgnoredFiles: manifest.ignored,
      treeDirs: manifest.dirs,
      treeMiB: Math.round(manifest.bytes / 2 ** 20),
      generateSeconds: Number(generateSeconds.toFixed(1)),
      mode: hybridIndex ? "hybrid" : "lexical",
      files: result.files,
      filesMatchIgnoreRules: ignoredRight,
      indexedFiles: result.indexedFiles,
      chunks: result.chunks,
      indexSeconds: Number(full.seconds.toFixed(1)),
      filesPerSecond: Math.round(filesPerSecond),
      chunksPerSecond: Math.round(chunksPerSecond),
      peakRssMiB: Math.round(full.peakRssMiB),
      indexMiB: Math.round(sizeMiB),
      unchangedSeconds: Number(again.seconds.toFixed(1)),
      unchangedPeakRssMiB: Math.round(again.peakRssMiB),
      liveStartSeconds: Number((l.watcherReadyMs / 1000).toFixed(1)),
      liveInotifyWatches: l.inotifyWatches,
      livePeakRssMiB: Math.round(live.peakRssMiB),
      lexicalQueryMs: l.lexicalQueryMs,
      ...(l.hybridQueryMs ? { hybridQueryMs: l.hybridQueryMs } : {}),
      savedToSearchableMs: l.savedToSearchableMs,
      embedChunksPerSecond: Math.round(embed.perSecond),
      embedAllHours: Number(embedHours.toFixed(2)),
    };
    log();
    log(JSON.stringify(figures));
  } finally {
    if (!values.keep) fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:scale failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
