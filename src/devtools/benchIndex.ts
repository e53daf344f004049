/**
 * npm run bench:index — the codebase index over a real corpus taken from installed npm packages:
 * llama.cpp's sources (node-llama-cpp ships them as a git bundle: C, C++, CUDA, Python, shell,
 * TypeScript, Markdown…) and the JavaScript/TypeScript sources of node_modules.
 *
 * Measures, in one run: a full lexical index (files/s, MB/s, chunks/s, peak RSS) against the raw
 * tree-sitter parse time of the same files; a restart with nothing changed; file saved →
 * searchable through the watcher; query latency at ≥ 100k chunks; and completion latency of the
 * real server while a full index builds, against the same server with the index off. Prints the
 * figures and ends with one JSON line.
 *
 *   --quick            smaller corpus and fewer samples
 *   --no-completion    skip the completion part (no model needed)
 *   --completion-only  only the completion part
 */
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import "../index/store/lancedbEnv.js";
import * as lancedb from "@lancedb/lancedb";
import { Parser } from "web-tree-sitter";
import { createMessageConnection, StreamMessageReader, StreamMessageWriter } from "vscode-jsonrpc/node";
import { looksGenerated, looksMinified } from "../index/chunking/chunkFile.js";
import { loadGrammar } from "../index/chunking/grammars.js";
import { discoverFiles } from "../index/discovery.js";
import { untilSearchable } from "./bench/untilSearchable.js";
import { hasSecretContent, IgnoreRules, DEFAULT_EXCLUDED_DIRS } from "../privacy/ignoreRules.js";
import { cliWorkers, DEFAULT_INDEX_SETTINGS, IndexService } from "../index/IndexService.js";
import { detectLanguage, type GrammarId } from "../index/languages.js";
import type { CompletionMetricsResult, IndexStatusResult } from "../server/protocol.js";
import { silentLogger } from "../util/logger.js";
import { formatSummary, summarize, type Summary } from "./bench/stats.js";
import { ensureGeneratedModel, QWEN25_CODER_05B_SHAPE } from "./gguf/qwen2Model.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const quick = process.argv.includes("--quick");
const withCompletion = !process.argv.includes("--no-completion");
const completionOnly = process.argv.includes("--completion-only");
const log = (s = ""): void => void process.stdout.write(`${s}\n`);
const mb = (bytes: number): number => bytes / 2 ** 20;

const SOURCE_EXTENSIONS = new Set([".js", ".mjs", ".cjs", ".ts", ".mts", ".cts", ".tsx", ".jsx", ".py", ".c", ".h", ".cc", ".cpp", ".hpp", ".go", ".rs", ".java", ".rb", ".php", ".sh", ".cs"]);
const NPM_FILES = quick ? 1500 : 4000;
const QUERY_TARGET_CHUNKS = 100_000;

async function main(): Promise<void> {
  log(`ifai-lsp index benchmark — ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "ifai-bench-index-"));
  const corpus = path.join(work, "corpus");
  try {
    const built = buildCorpus(corpus);
    log(`corpus: ${built.files} files copied (${mb(built.bytes).toFixed(1)} MiB) into ${corpus}`);
    log(`  by extension: ${Object.entries(built.byExtension).sort((a, b) => b[1] - a[1]).slice(0, 12).map(([e, n]) => `${e} ${n}`).join(", ")}`);
    if (completionOnly) {
      const c = await completionUnderIndexing(corpus, work);
      log(JSON.stringify({ bench: "index-completion", completionIdleMs: c.idle, completionWhileIndexingMs: c.indexing, completionFirstTokenIdleMs: c.idleFirstToken, completionFirstTokenWhileIndexingMs: c.indexingFirstToken, completionFirstTokenRatioP50: Number(c.ratio.toFixed(2)), completionTotalRatioP50: Number(c.totalRatio.toFixed(2)), filesIndexedDuringCompletions: c.indexedDuring }));
      return;
    }

    // 1. The full lexical index, as `ifai-lsp index` builds it.
    const cache = path.join(work, "cache");
    const workers = cliWorkers();
    const service = new IndexService({ logger: silentLogger(), env: { IFAI_CACHE_DIR: cache }, workers });
    const t0 = performance.now();
    await service.configure({ ...DEFAULT_INDEX_SETTINGS, watch: false });
    await service.setFolders([{ uri: pathToFileURL(corpus).href }]);
    await service.whenIdle();
    const passMs = performance.now() - t0;
    const folder = service.folderIndexes()[0]!;
    const compactStarted = performance.now();
    await folder.compact();
    const compactMs = performance.now() - compactStarted;
    const indexMs = performance.now() - t0;
    const stats = folder.lastPass;
    const status = service.status().folders[0]!;
    const peakRssMiB = process.resourceUsage().maxRSS / 1024;
    await service.dispose();
    const seconds = indexMs / 1000;
    log();
    log(`full lexical index (${workers} chunking worker${workers === 1 ? "" : "s"}): ${(seconds).toFixed(1)} s (pass ${(passMs / 1000).toFixed(1)} s, full-text index update ${(compactMs / 1000).toFixed(1)} s)`);
    log(`  files: ${status.files} found, ${status.indexedFiles} indexed, ${status.skippedFiles} skipped (binary, minified, generated, …); ${status.chunks} chunks`);
    log(`  ${(status.files / seconds).toFixed(0)} files/s, ${(mb(stats.bytesRead) / seconds).toFixed(2)} MB/s, ${(status.chunks / seconds).toFixed(0)} chunks/s, peak RSS ${peakRssMiB.toFixed(0)} MiB`);
    log(`  time writing to LanceDB ${((stats.writeMs ?? 0) / 1000).toFixed(1)} s (overlaps chunking)`);

    // 2. Raw tree-sitter parsing of the same files (those the index parses), one thread.
    const raw = await rawParse(corpus);
    const ratio = indexMs / raw.ms;
    log();
    log(`raw tree-sitter parse of the same ${raw.files} files (${mb(raw.bytes).toFixed(1)} MiB), one thread: ${(raw.ms / 1000).toFixed(1)} s`);
    log(`  whole lexical index / raw parse: ${ratio.toFixed(2)}x (target ≤ 3x)`);

    // 3. Restart with nothing changed, then file saved → searchable through the watcher.
    const live = new IndexService({ logger: silentLogger(), env: { IFAI_CACHE_DIR: cache }, workers: 1 });
    const r0 = performance.now();
    await live.configure({ ...DEFAULT_INDEX_SETTINGS, watch: true });
    await live.setFolders([{ uri: pathToFileURL(corpus).href }]);
    await live.whenIdle();
    const restartMs = performance.now() - r0;
    const restartStats = live.folderIndexes()[0]!.lastPass;
    await live.watchersReady();
    log();
    log(`restart, nothing changed: ${(restartMs / 1000).toFixed(2)} s (${restartStats.scanned} files scanned, ${restartStats.read} read)`);
    const saveSamples = await savedToSearchable(live, corpus, quick ? 15 : 40);
    const saved = summarize(saveSamples);
    log(formatSummary("file saved → searchable (watcher, lexical)", saved, "ms"));
    await live.dispose();

    // 4. Query latency at ≥ 100k chunks (chunks duplicated under other paths to get there).
    const location = status.location;
    const grown = await growTable(location, status.table, QUERY_TARGET_CHUNKS);
    const reader = new IndexService({ logger: silentLogger(), env: { IFAI_CACHE_DIR: cache }, workers: 0 });
    await reader.configure({ ...DEFAULT_INDEX_SETTINGS, readOnly: true, watch: false });
    await reader.setFolders([{ uri: pathToFileURL(corpus).href }]);
    await reader.whenIdle();
    const queries = grown.queries.slice(0, quick ? 100 : 300);
    for (const q of queries.slice(0, 20)) await reader.search(q, { k: 10 }); // warm-up
    const queryMs: number[] = [];
    let empty = 0;
    for (const q of queries) {
      const s0 = performance.now();
      const hits = await reader.search(q, { k: 10 });
      queryMs.push(performance.now() - s0);
      if (hits.length === 0) empty++;
    }
    await reader.dispose();
    const query = summarize(queryMs);
    log();
    log(`queries at ${grown.rows} chunks (${grown.added} duplicated under other paths; full-text index updated in ${(grown.indexMs / 1000).toFixed(1)} s):`);
    log(formatSummary("query → top 10 (full-text)", query, "ms"));
    log(`  ${queries.length} queries (identifiers and comment phrases from the corpus), ${empty} without results`);

    // 5. Completion latency while a full index builds vs with the index off.
    let completion: Awaited<ReturnType<typeof completionUnderIndexing>> | undefined;
    if (withCompletion) completion = await completionUnderIndexing(corpus, work);

    const figures = {
      bench: "index",
      cores: os.cpus().length,
      corpusFiles: built.files,
      corpusMiB: Number(mb(built.bytes).toFixed(1)),
      files: status.files,
      indexedFiles: status.indexedFiles,
      skippedFiles: status.skippedFiles,
      chunks: status.chunks,
      workers,
      indexSeconds: Number(seconds.toFixed(2)),
      filesPerSecond: Math.round(status.files / seconds),
      mbPerSecond: Number((mb(stats.bytesRead) / seconds).toFixed(2)),
      chunksPerSecond: Math.round(status.chunks / seconds),
      peakRssMiB: Math.round(peakRssMiB),
      rawParseSeconds: Number((raw.ms / 1000).toFixed(2)),
      rawParseFiles: raw.files,
      indexOverRawParse: Number(ratio.toFixed(2)),
      restartSeconds: Number((restartMs / 1000).toFixed(2)),
      savedToSearchableMs: saved,
      queryChunks: grown.rows,
      queryMs: query,
      ...(completion
        ? {
            completionIdleMs: completion.idle,
            completionWhileIndexingMs: completion.indexing,
            completionFirstTokenIdleMs: completion.idleFirstToken,
            completionFirstTokenWhileIndexingMs: completion.indexingFirstToken,
            completionFirstTokenRatioP50: Number(completion.ratio.toFixed(2)),
            completionTotalRatioP50: Number(completion.totalRatio.toFixed(2)),
            filesIndexedDuringCompletions: completion.indexedDuring,
          }
        : {}),
    };
    log();
    log(JSON.stringify(figures));
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** llama.cpp from node-llama-cpp's git bundle, plus npm packages' source files. */
function buildCorpus(corpus: string): { files: number; bytes: number; byExtension: Record<string, number> } {
  fs.mkdirSync(corpus, { recursive: true });
  const bundle = path.join(root, "node_modules", "node-llama-cpp", "llama", "gitRelease.bundle");
  if (fs.existsSync(bundle)) {
    execFileSync("git", ["-c", "advice.detachedHead=false", "clone", "--quiet", bundle, path.join(corpus, "llama.cpp")], { stdio: ["ignore", "ignore", "inherit"] });
    fs.rmSync(path.join(corpus, "llama.cpp", ".git"), { recursive: true, force: true });
  } else {
    log("(node-llama-cpp's llama.cpp bundle not found: npm sources only)");
  }
  // npm sources: renamed so no path segment is one the index excludes by default (dist/, build/…).
  const excluded = new Set(DEFAULT_EXCLUDED_DIRS);
  const candidates: string[] = [];
  const walk = (dir: string, rel: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (entry.isSymbolicLink()) continue;
      const childRel = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        if (entry.name === ".bin" || childRel === "node-llama-cpp/bins" || childRel === "node-llama-cpp/llama" || entry.name === "@node-llama-cpp") continue;
        walk(path.join(dir, entry.name), childRel);
      } else if (entry.isFile() && SOURCE_EXTENSIONS.has(path.extname(entry.name))) {
        candidates.push(childRel);
      }
    }
  };
  walk(path.join(root, "node_modules"), "");
  // Spread the picks over all packages rather than taking the first ones alphabetically.
  const step = Math.max(1, candidates.length / NPM_FILES);
  for (let i = 0; i < candidates.length && i / step < NPM_FILES; i += step) {
    const rel = candidates[Math.floor(i)]!;
    const src = path.join(root, "node_modules", rel);
    const size = fs.statSync(src).size;
    if (size > 400_000) continue;
    const target = rel
      .split("/")
      .map((seg) => (seg === "node_modules" ? "pkgs" : excluded.has(seg) ? `${seg}_` : seg))
      .join("/");
    const dest = path.join(corpus, "npm", target);
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.copyFileSync(src, dest);
  }
  // The file the completion part types into.
  fs.mkdirSync(path.join(corpus, "app"), { recursive: true });
  fs.copyFileSync(path.join(root, "node_modules/vscode-jsonrpc/lib/common/linkedMap.js"), path.join(corpus, "app", "linkedMap.js"));
  let files = 0;
  let bytes = 0;
  const byExtension: Record<string, number> = {};
  const count = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, entry.name);
      if (entry.isDirectory()) count(p);
      else if (entry.isFile()) {
        files++;
        bytes += fs.statSync(p).size;
        const ext = path.extname(entry.name) || entry.name;
        byExtension[ext] = (byExtension[ext] ?? 0) + 1;
      }
    }
  };
  count(corpus);
  return { files, bytes, byExtension };
}

/** Parses, on this thread, every file the index parses with tree-sitter; only parse() is timed. */
async function rawParse(corpus: string): Promise<{ files: number; bytes: number; ms: number }> {
  const found = await discoverFiles(new IgnoreRules(corpus, { maxFileBytes: DEFAULT_INDEX_SETTINGS.maxFileBytes }), { maxFiles: DEFAULT_INDEX_SETTINGS.maxFiles });
  const items: Array<{ grammar: GrammarId; text: string; bytes: number }> = [];
  const decoder = new TextDecoder("utf-8", { fatal: true });
  for (const f of found.files) {
    const data = fs.readFileSync(f.abs);
    if (data.length === 0 || data.subarray(0, 8192).includes(0)) continue;
    let text: string;
    try {
      text = decoder.decode(data);
    } catch {
      continue;
    }
    if (text.trim() === "" || hasSecretContent(text) || looksMinified(text) || looksGenerated(text)) continue;
    const normalized = text.replace(/\r\n?/g, "\n");
    const language = detectLanguage(f.rel, normalized.slice(0, normalized.indexOf("\n") + 1 || undefined));
    if (language.grammar) items.push({ grammar: language.grammar, text: normalized, bytes: data.length });
  }
  const parsers = new Map<GrammarId, Parser>();
  for (const item of items) {
    if (parsers.has(item.grammar)) continue;
    const lang = await loadGrammar(item.grammar);
    const parser = new Parser();
    parser.setLanguage(lang!);
    parser.parse("x")?.delete();
    parsers.set(item.grammar, parser);
  }
  let ms = 0;
  let bytes = 0;
  for (const item of items) {
    const parser = parsers.get(item.grammar)!;
    const started = performance.now();
    const tree = parser.parse(item.text);
    ms += performance.now() - started;
    tree?.delete();
    bytes += item.bytes;
  }
  for (const p of parsers.values()) p.delete();
  return { files: items.length, bytes, ms };
}

/** Appends a unique word to real source files and times until a search finds it. */
async function savedToSearchable(service: IndexService, corpus: string, samples: number): Promise<number[]> {
  const candidates = (await discoverFiles(new IgnoreRules(corpus, { maxFileBytes: 200_000 }), { maxFiles: 100_000 })).files.filter((f) => /\.(c|cpp|h|ts|js|py)$/.test(f.rel) && f.size > 2000);
  const out: number[] = [];
  for (let i = 0; i < samples; i++) {
    const file = candidates[Math.floor((i * candidates.length) / samples)]!;
    const token = `benchsavedtoken${i}q${Date.now() % 100000}`;
    const comment = file.rel.endsWith(".py") ? `\n# ${token}\n` : `\n// ${token}\n`;
    await service.whenIdle();
    const started = performance.now();
    fs.appendFileSync(file.abs, comment);
    await untilSearchable(service, token, file.rel, 30_000);
    out.push(performance.now() - started);
  }
  return out;
}

/**
 * Duplicates the table's rows under other paths until it has `target` rows, folds them into the
 * full-text index, and draws queries from the corpus: identifiers (as they are, and split into
 * words) and phrases from comments.
 */
async function growTable(location: string, tableName: string, target: number): Promise<{ rows: number; added: number; indexMs: number; queries: string[] }> {
  const db = await lancedb.connect(location);
  const table = await db.openTable(tableName);
  const columns = ["path", "start_line", "start_col", "end_line", "end_col", "language", "symbol", "kind", "text", "symbols", "hash", "model"];
  const rows = (await table.query().select(columns).toArray()) as Array<Record<string, unknown>>;
  let count = rows.length;
  let added = 0;
  for (let copy = 1; count < target; copy++) {
    const batch = rows.slice(0, Math.min(rows.length, target - count)).map((r) => ({ ...r, path: `copy${copy}/${r["path"] as string}` }));
    for (let i = 0; i < batch.length; i += 10_000) await table.add(batch.slice(i, i + 10_000));
    count += batch.length;
    added += batch.length;
  }
  const started = performance.now();
  await table.optimize({ cleanupOlderThan: new Date() });
  const indexMs = performance.now() - started;
  const total = await table.countRows();
  table.close();
  db.close();

  const queries: string[] = [];
  const symbols = rows.map((r) => String(r["symbol"])).filter((s) => /^[A-Za-z_][A-Za-z0-9_.:]{5,}$/.test(s));
  const comments = rows.flatMap((r) => (String(r["text"]).match(/(?:\/\/|#|\*)\s+([A-Za-z][a-z]+(?: [a-z]+){3,8})/g) ?? []).map((m) => m.replace(/^(?:\/\/|#|\*)\s+/, "")));
  for (let i = 0; queries.length < 400 && i < 4000; i++) {
    const pick = <T>(list: T[]): T | undefined => list[(i * 7919) % Math.max(1, list.length)];
    const kind = i % 3;
    if (kind === 0 && symbols.length) queries.push(pick(symbols)!);
    else if (kind === 1 && symbols.length) queries.push(pick(symbols)!.replace(/([a-z])([A-Z])/g, "$1 $2").replace(/[_.:]+/g, " ").toLowerCase());
    else if (comments.length) queries.push(pick(comments)!.split(" ").slice(0, 5).join(" "));
  }
  return { rows: total, added, indexMs, queries };
}

/**
 * Keystroke completions against the real server (a model of Qwen2.5-Coder-0.5B's exact shape),
 * first with the index off, then while it builds the full index of the corpus from scratch.
 */
async function completionUnderIndexing(
  corpus: string,
  work: string,
): Promise<{ idle: Summary; indexing: Summary; idleFirstToken: Summary; indexingFirstToken: Summary; ratio: number; totalRatio: number; indexedDuring: number; stateDuring: string }> {
  const vocabPath = path.resolve(root, "../shared/models/ggml-vocab-qwen2.5.gguf");
  const vocab = fs.existsSync(vocabPath) ? { vocabGgufPath: vocabPath } : ("byte" as const);
  const modelPath = await ensureGeneratedModel(path.join(root, ".cache", "bench-models"), { shape: QWEN25_CODER_05B_SHAPE, quant: "Q8_0", vocab, seed: 1 });
  const source = path.join(corpus, "app", "linkedMap.js");
  const text = fs.readFileSync(source, "utf8");
  const lines = text.split("\n");
  const lineIndex = Math.min(70, lines.length - 1);
  const target = lines[lineIndex]!;
  const indent = target.length - target.trimStart().length;
  const typed = target.slice(indent, indent + (quick ? 16 : 32));
  const initial = [...lines.slice(0, lineIndex), target.slice(0, indent), ...lines.slice(lineIndex + 1)].join("\n");
  const uri = pathToFileURL(source).href;

  let runs = 0;
  const run = async (indexEnabled: boolean): Promise<{ ms: number[]; firstToken: number[]; before?: IndexStatusResult; after?: IndexStatusResult }> => {
    const server = spawn(process.execPath, [path.join(root, "bin", "ifai-lsp.js"), "--stdio"], {
      stdio: ["pipe", "pipe", "inherit"],
      env: { ...process.env, IFAI_LOG_LEVEL: "error", IFAI_CACHE_DIR: path.join(work, `cache-completion-${runs++}`) },
    });
    const connection = createMessageConnection(new StreamMessageReader(server.stdout), new StreamMessageWriter(server.stdin));
    connection.onRequest(() => null);
    connection.listen();
    await connection.sendRequest("initialize", {
      processId: process.pid,
      rootUri: pathToFileURL(corpus).href,
      capabilities: { textDocument: { inlineCompletion: {} } },
      // Short suggestions: random weights rarely stop by themselves, and the wait for a whole
      // 64-token suggestion would hide the latency that indexing could add.
      initializationOptions: { engine: { mode: "in-process" }, model: { path: modelPath, keepLoaded: true }, completion: { maxTokens: 12, maxMultilineTokens: 12 }, index: { enabled: indexEnabled, watch: false } },
    });
    await connection.sendNotification("initialized", {});
    let version = 1;
    await connection.sendNotification("textDocument/didOpen", { textDocument: { uri, languageId: "javascript", version, text: initial } });
    const request = (character: number): Promise<unknown> =>
      connection.sendRequest("textDocument/inlineCompletion", { textDocument: { uri }, position: { line: lineIndex, character }, context: { triggerKind: 2 } });
    // A cold prompt first (both runs), then wait until the index is really busy.
    await request(indent);
    let before: IndexStatusResult | undefined;
    if (indexEnabled) {
      for (;;) {
        before = (await connection.sendRequest("ifai/indexStatus")) as IndexStatusResult;
        if (before.state === "indexing" && (before.folders[0]?.progress?.done ?? 0) > 0) break;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    const ms: number[] = [];
    for (let i = 0; i < typed.length; i++) {
      version++;
      await connection.sendNotification("textDocument/didChange", {
        textDocument: { uri, version },
        contentChanges: [{ range: { start: { line: lineIndex, character: indent + i }, end: { line: lineIndex, character: indent + i } }, text: typed[i] }],
      });
      const started = performance.now();
      await request(indent + i + 1);
      ms.push(performance.now() - started);
      // A person's typing rhythm (110 ms between keys, a pause every few words): the index gets the pauses.
      await new Promise((r) => setTimeout(r, i % 6 === 5 ? 600 : 110));
    }
    const metrics = (await connection.sendRequest("ifai/completionMetrics", { last: typed.length })) as CompletionMetricsResult;
    const after = indexEnabled ? ((await connection.sendRequest("ifai/indexStatus")) as IndexStatusResult) : undefined;
    await connection.sendRequest("shutdown");
    await connection.sendNotification("exit");
    connection.dispose();
    // Only answers the model computed (not the cache or typing-through).
    const records = metrics.records.sort((a, b) => a.requestId - b.requestId);
    const firstToken = records.filter((r) => r.source === "model" && r.firstTokenMs !== undefined).map((r) => r.firstTokenMs!);
    if (process.env.IFAI_BENCH_DUMP) {
      for (const r of records) process.stderr.write(`${indexEnabled ? "indexing" : "idle"} ${r.source} first=${r.firstTokenMs?.toFixed(0)} total=${r.totalMs.toFixed(0)} prompt=${r.promptTokens} eval=${r.evaluatedTokens} gen=${r.generatedTokens}\n`);
    }
    return { ms: ms.filter((_, i) => records[i]?.source === "model"), firstToken, ...(before ? { before } : {}), ...(after ? { after } : {}) };
  };

  log();
  log(`completion latency (${path.basename(modelPath)}, ${typed.length} keystrokes on ${path.relative(corpus, source)})`);
  // Alternating rounds, so a load change on the machine hits both sides alike.
  const rounds = quick ? 1 : 2;
  const idle: Awaited<ReturnType<typeof run>> = { ms: [], firstToken: [] };
  const indexing: Awaited<ReturnType<typeof run>> = { ms: [], firstToken: [] };
  let indexedDuring = 0;
  for (let round = 0; round < rounds; round++) {
    const a = await run(false);
    idle.ms.push(...a.ms);
    idle.firstToken.push(...a.firstToken);
    const b = await run(true);
    indexing.ms.push(...b.ms);
    indexing.firstToken.push(...b.firstToken);
    indexing.after = b.after;
    indexedDuring += (b.after?.folders[0]?.progress?.done ?? b.after?.folders[0]?.indexedFiles ?? 0) - (b.before?.folders[0]?.progress?.done ?? 0);
  }
  const idleSummary = summarize(idle.ms);
  const indexingSummary = summarize(indexing.ms);
  const idleFirstToken = summarize(idle.firstToken);
  const indexingFirstToken = summarize(indexing.firstToken);
  // First token: what indexing could delay; the whole suggestion also varies with when generation stops.
  const ratio = indexingFirstToken.p50 / idleFirstToken.p50;
  const totalRatio = indexingSummary.p50 / idleSummary.p50;
  log(formatSummary("keystroke → first token, index off", idleFirstToken, "ms"));
  log(formatSummary("keystroke → first token, full index building", indexingFirstToken, "ms"));
  log(formatSummary("keystroke → suggestion, index off", idleSummary, "ms"));
  log(formatSummary("keystroke → suggestion, full index building", indexingSummary, "ms"));
  log(`  ratio p50 first token ${ratio.toFixed(2)}x (target ≤ 1.2x), whole suggestion ${totalRatio.toFixed(2)}x; ${rounds} alternating rounds; index state ${indexing.after?.state ?? "?"} after, ${indexedDuring} files indexed during the keystrokes`);
  return { idle: idleSummary, indexing: indexingSummary, idleFirstToken, indexingFirstToken, ratio, totalRatio, indexedDuring, stateDuring: indexing.after?.state ?? "?" };
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:index failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
