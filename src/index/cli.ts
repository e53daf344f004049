import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { createLogger } from "../util/logger.js";
import { cliWorkers, DEFAULT_INDEX_SETTINGS, IndexService, type IndexSettings } from "./IndexService.js";
import type { PassStats, SearchHit } from "./types.js";

export const INDEX_HELP = `ifai-lsp index [DIR] — build or update the code index of DIR (default: the current folder)

Options:
  --uri URI                    LanceDB URI to write to (a folder, s3://…); default: the user cache,
                               as the server uses it
  --embedding-model-dir DIR    ONNX embedding model folder: hybrid search (default: full-text only)
  --embedding-model ID         its catalogue id (default: recognised from the folder)
  --max-file-bytes N           skip larger files (default ${DEFAULT_INDEX_SETTINGS.maxFileBytes})
  --max-files N                index at most N files (default ${DEFAULT_INDEX_SETTINGS.maxFiles})
  --json                       print the result as one JSON line
  --quiet                      no progress bar
`;

export const SEARCH_HELP = `ifai-lsp search "QUERY" — search the code index of the current folder

Options:
  --k N                        number of results (default 10)
  --dir DIR                    the indexed folder (default: the current folder)
  --uri URI                    LanceDB URI of the index (default: the user cache)
  --embedding-model-dir DIR    the embedding model the index was built with (hybrid search)
  --embedding-model ID         its catalogue id
  --json                       print the hits as JSON
`;

interface Parsed {
  positional: string[];
  flags: Map<string, string | true>;
}

function parseArgs(args: readonly string[], valued: readonly string[]): Parsed {
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
      if (eq > 0) flags.set(name, a.slice(eq + 1));
      else if (valued.includes(name) && i + 1 < args.length) flags.set(name, args[++i]!);
      else flags.set(name, true);
    } else {
      positional.push(a);
    }
  }
  return { positional, flags };
}

function str(flags: Parsed["flags"], name: string): string {
  const v = flags.get(name);
  return typeof v === "string" ? v : "";
}

const VALUED = ["uri", "embedding-model-dir", "embedding-model", "max-file-bytes", "max-files", "k", "dir"];

function settingsFrom(flags: Parsed["flags"], readOnly: boolean): IndexSettings {
  const maxBytes = Number(str(flags, "max-file-bytes") || DEFAULT_INDEX_SETTINGS.maxFileBytes);
  const maxFiles = Number(str(flags, "max-files") || DEFAULT_INDEX_SETTINGS.maxFiles);
  return {
    ...DEFAULT_INDEX_SETTINGS,
    uri: str(flags, "uri"),
    readOnly,
    watch: false,
    maxFileBytes: Number.isFinite(maxBytes) && maxBytes > 0 ? maxBytes : DEFAULT_INDEX_SETTINGS.maxFileBytes,
    maxFiles: Number.isInteger(maxFiles) && maxFiles > 0 ? maxFiles : DEFAULT_INDEX_SETTINGS.maxFiles,
    embeddingModelDir: str(flags, "embedding-model-dir"),
    embeddingModel: str(flags, "embedding-model"),
  };
}

/** What the pass hands to the process image that compacts (see runIndex). */
interface PassHandover {
  started: number;
  stats: PassStats | undefined;
  waitedFor?: { pid: number; label: string };
}

/**
 * `ifai-lsp index [dir]`: a full incremental pass with a progress bar on stderr, then the
 * full-text index update (compaction). Where the platform can (`process.execve`) and `script`
 * names the program, the update runs in a fresh image of this same process: LanceDB's full-text
 * index build takes memory in proportion to the table (~650 MB at 1.3M chunks, bench:scale), and
 * started fresh it does not come on top of what the pass left in use (~600 MB), so the run's peak
 * is the larger of the two rather than their sum. Same pid, same output.
 */
export async function runIndex(args: readonly string[], restart: { script?: string } = {}): Promise<number> {
  const { positional, flags } = parseArgs(args, VALUED);
  if (flags.has("help") || flags.has("h")) {
    process.stdout.write(INDEX_HELP);
    return 0;
  }
  const dir = path.resolve(positional[0] ?? ".");
  const handover = flags.has("compact-after-pass") ? (JSON.parse(str(flags, "compact-after-pass")) as PassHandover) : undefined;
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    process.stderr.write(`ifai-lsp index: ${dir} is not a folder\n`);
    return 2;
  }
  const logger = createLogger({ level: process.env.IFAI_LOG_LEVEL ? "info" : "warn", file: "" });
  const problems: string[] = [];
  const bar = flags.has("quiet") || flags.has("json") ? undefined : new ProgressBar(process.stderr);
  let waitedFor: { pid: number; label: string } | undefined = handover?.waitedFor;
  const service = new IndexService({
    ...(handover ? { passOnStart: false } : {}),
    logger,
    workers: cliWorkers(),
    onProblem: (m) => problems.push(m),
    writerLabel: "ifai-lsp index",
    // Another process (an editor's server, another run) is writing this index: its pass is waited
    // for, then this run brings the index up to date, which is quick after that pass.
    onWaitForWriter: (root, holder) => {
      waitedFor = holder ? { pid: holder.pid, label: holder.label } : { pid: 0, label: "another process" };
      bar?.clear();
      const who = holder ? `${holder.label || "another process"} (pid ${holder.pid})` : "another process";
      process.stderr.write(`ifai-lsp index: ${who} is indexing ${root}; waiting for it to finish\n`);
    },
  });
  service.onChange(() => bar?.update(service.status()));
  const started = handover?.started ?? Date.now();
  try {
    await service.configure(settingsFrom(flags, false));
    await service.setFolders([{ uri: pathToFileURL(dir).href }]);
    await service.whenIdle();
    const failed = service.status().folders.some((f) => f.state === "error") || problems.length > 0;
    if (!handover && !failed && restart.script && typeof process.execve === "function") {
      const passed: PassHandover = { started, stats: service.folderIndexes()[0]?.lastPass, ...(waitedFor ? { waitedFor } : {}) };
      const next = [...args, `--compact-after-pass=${JSON.stringify(passed)}`];
      bar?.clear();
      await service.dispose();
      try {
        process.execve(process.execPath, [process.execPath, ...process.execArgv, restart.script, "index", ...next], process.env);
      } catch {
        // The image could not be replaced: the update runs here, with a new service.
        return runIndex(next);
      }
    }
    bar?.update(service.status(), "updating the full-text index");
    for (const folder of service.folderIndexes()) await folder.compact();
    bar?.clear();
    // Counts from the tables: another process may have written part of them.
    const status = await service.freshStatus();
    const folder = status.folders[0];
    const stats = handover ? (handover.stats ?? undefined) : service.folderIndexes()[0]?.lastPass;
    for (const p of problems) process.stderr.write(`${p}\n`);
    if (!folder || folder.state === "error") {
      process.stderr.write(`ifai-lsp index: ${folder?.message ?? "indexing failed"}\n`);
      return 1;
    }
    const seconds = (Date.now() - started) / 1000;
    if (flags.has("json")) {
      process.stdout.write(
        `${JSON.stringify({ folder: dir, location: folder.location, table: folder.table, mode: status.mode, files: folder.files, indexedFiles: folder.indexedFiles, skippedFiles: folder.skippedFiles, chunks: folder.chunks, pass: stats, seconds: Number(seconds.toFixed(2)), ...(waitedFor ? { waitedFor } : {}) })}\n`,
      );
    } else {
      process.stdout.write(
        `Indexed ${dir}: ${folder.indexedFiles} files (${stats?.changed ?? 0} changed, ${stats?.removed ?? 0} removed, ${folder.skippedFiles} skipped), ${folder.chunks} chunks, ${status.mode} search, in ${seconds.toFixed(1)} s\n` +
          `Index: ${folder.location} (table ${folder.table})\n`,
      );
    }
    return 0;
  } finally {
    bar?.clear();
    await service.dispose();
  }
}

/** `ifai-lsp search "<query>"`: reads the index, never writes it. */
export async function runSearch(args: readonly string[]): Promise<number> {
  const { positional, flags } = parseArgs(args, VALUED);
  if (flags.has("help") || flags.has("h")) {
    process.stdout.write(SEARCH_HELP);
    return 0;
  }
  const query = positional.join(" ").trim();
  if (!query) {
    process.stderr.write(`ifai-lsp search: no query given.\n\n${SEARCH_HELP}`);
    return 2;
  }
  const k = Math.max(1, Math.min(1000, Math.floor(Number(str(flags, "k") || 10)) || 10));
  const dir = path.resolve(str(flags, "dir") || ".");
  const logger = createLogger({ level: process.env.IFAI_LOG_LEVEL ? "info" : "error", file: "" });
  const problems: string[] = [];
  const service = new IndexService({ logger, workers: 0, onProblem: (m) => problems.push(m) });
  try {
    await service.configure(settingsFrom(flags, true));
    await service.setFolders([{ uri: pathToFileURL(dir).href }]);
    await service.whenIdle();
    const folder = service.status().folders[0];
    if (!folder || folder.state === "error") {
      process.stderr.write(`ifai-lsp search: ${folder?.message ?? "no index"}\n`);
      if (!str(flags, "uri")) process.stderr.write(`Build it with: ifai-lsp index ${JSON.stringify(dir)}\n`);
      return 1;
    }
    const started = performance.now();
    const hits = await service.search(query, { k });
    const ms = performance.now() - started;
    if (flags.has("json")) {
      process.stdout.write(`${JSON.stringify(hits)}\n`);
      return 0;
    }
    if (hits.length === 0) {
      process.stdout.write(`No results for ${JSON.stringify(query)} (${folder.chunks} chunks searched).\n`);
      return 0;
    }
    process.stdout.write(formatHits(hits));
    process.stderr.write(`${hits.length} results, ${service.status().mode} search, ${ms.toFixed(0)} ms\n`);
    return 0;
  } finally {
    await service.dispose();
  }
}

export function formatHits(hits: readonly SearchHit[]): string {
  const out: string[] = [];
  hits.forEach((h, i) => {
    const label = h.symbol ? `${h.symbol} (${h.kind})` : h.kind;
    out.push(`${i + 1}. ${h.path}:${h.startLine + 1}-${h.endLine + 1}  ${label}  score ${h.score.toFixed(3)}`);
    const lines = h.text.split("\n").filter((l) => l.trim() !== "").slice(0, 3);
    for (const line of lines) out.push(`     ${line.length > 110 ? `${line.slice(0, 109)}…` : line}`);
  });
  return `${out.join("\n")}\n`;
}

/**
 * A one-line progress bar on stderr: redrawn in place on a terminal, a plain line every few
 * seconds otherwise (logs, CI).
 */
class ProgressBar {
  private lastDraw = 0;
  private drawn = false;
  private readonly started = Date.now();

  constructor(private readonly stream: NodeJS.WriteStream) {}

  update(status: ReturnType<IndexService["status"]>, note?: string): void {
    const now = Date.now();
    const tty = this.stream.isTTY === true;
    if (now - this.lastDraw < (tty ? 100 : 3000) && !note) return;
    this.lastDraw = now;
    let done = 0;
    let total = 0;
    let chunks = 0;
    for (const f of status.folders) {
      chunks += f.chunks;
      if (f.progress) {
        done += f.progress.done;
        total += f.progress.total;
      }
    }
    const elapsed = formatDuration(now - this.started);
    let line: string;
    if (note) line = `${note}… ${elapsed}`;
    else if (total === 0) line = `${status.state === "scanning" ? "scanning files" : status.state}… ${elapsed}`;
    else {
      const width = 28;
      const filled = Math.round((done / total) * width);
      const rate = done / Math.max(0.001, (now - this.started) / 1000);
      const eta = rate > 0 ? formatDuration(((total - done) / rate) * 1000) : "?";
      line = `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${Math.floor((done / total) * 100)}% ${done}/${total} files, ${chunks} chunks, ${elapsed} (eta ${eta})`;
    }
    if (tty) {
      const columns = this.stream.columns || 100;
      this.stream.write(`\r${line.slice(0, columns - 1).padEnd(Math.min(columns - 1, line.length + 2))}`);
      this.drawn = true;
    } else {
      this.stream.write(`${line}\n`);
    }
  }

  clear(): void {
    if (this.drawn && this.stream.isTTY) this.stream.write("\r\u001b[2K");
    this.drawn = false;
  }
}

function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s` : `${s}s`;
}
