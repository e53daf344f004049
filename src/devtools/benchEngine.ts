/**
 * npm run bench:engine — several editor windows on one machine, with the model in each server
 * ("in-process") and in one shared engine ("shared"), on a model of the exact Qwen2.5-Coder-0.5B
 * shape. Measures, in one run: the memory of one window and of three (proportional set size, so
 * pages shared between processes count once), window A's keystroke → suggestion latency alone
 * and while window B types (side by side, then with A in front), and how many of three windows
 * open on one folder index it. Prints p50/p95 and ends with one JSON line of the figures.
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { createMessageConnection, StreamMessageReader, StreamMessageWriter, type MessageConnection } from "vscode-jsonrpc/node";
import type { CompletionMetricsResult, IndexStatusResult, ModelStatusResult } from "../server/protocol.js";
import { ensureGeneratedModel, QWEN25_CODER_05B_SHAPE } from "./gguf/qwen2Model.js";
import { numberOption } from "./bench/args.js";
import { formatSummary, summarize, type Summary } from "./bench/stats.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const quick = process.argv.includes("--quick");
const KEYSTROKES = quick ? 8 : 20;
/** `--index-only`: only the index part (three windows on one folder), without a model. */
const indexOnly = process.argv.includes("--index-only");
/** `--debounce-ms N` sets completion.debounceMs in every window (to compare with the default). */
const debounceMs = numberOption("debounce-ms");
const debounce = debounceMs !== undefined ? { debounceMs } : {};
const log = (s = ""): void => void process.stdout.write(`${s}\n`);

/** Real source files (pinned by the lockfile), one per window, each cut to about 1k tokens. */
const SOURCES = ["vscode-jsonrpc/lib/common/linkedMap.js", "vscode-jsonrpc/lib/common/messages.js", "vscode-jsonrpc/lib/common/events.js"].map((f) =>
  path.join(root, "node_modules", f),
);
/**
 * What window A types alone, beside B, and beside B with A focused; what B types meanwhile (never
 * the same text twice, so no answer comes from the cache).
 */
const TYPED = ["const entry = this._map.get(key);", "let previous = entry.previous;", "if (item === undefined) return;", "const next = current.next;", "while (node !== undefined) {"];

class Window {
  readonly connection: MessageConnection;
  private version = 1;
  private text = "";
  private offset = 0;
  private line = 0;
  private column = 0;
  readonly uri: string;

  constructor(
    readonly proc: ChildProcess,
    source: string,
  ) {
    this.connection = createMessageConnection(new StreamMessageReader(proc.stdout!), new StreamMessageWriter(proc.stdin!));
    this.connection.onRequest("workspace/configuration", () => [{}]);
    this.connection.listen();
    this.uri = pathToFileURL(source).href;
    const lines = fs.readFileSync(source, "utf8").split("\n").slice(0, 90);
    // The cursor on a fresh line two thirds down the file, as when adding code to a function.
    this.line = Math.floor(lines.length * 0.66);
    lines.splice(this.line, 0, "        ");
    this.column = 8;
    this.text = lines.join("\n");
    this.offset = lines.slice(0, this.line).join("\n").length + 1 + this.column;
  }

  async start(settings: Record<string, unknown>): Promise<void> {
    await this.connection.sendRequest("initialize", {
      processId: process.pid,
      rootUri: null,
      capabilities: { textDocument: { inlineCompletion: {} } },
      initializationOptions: settings,
      clientInfo: { name: "bench-engine" },
    });
    await this.connection.sendNotification("initialized", {});
    await this.connection.sendNotification("textDocument/didOpen", { textDocument: { uri: this.uri, languageId: "javascript", version: 1, text: this.text } });
  }

  /** Types one character at the cursor and waits for the answer: its latency, and whether the model served it. */
  async keystroke(char: string): Promise<{ ms: number; served: boolean }> {
    const position = { line: this.line, character: this.column };
    this.text = this.text.slice(0, this.offset) + char + this.text.slice(this.offset);
    this.offset += 1;
    this.column += 1;
    await this.connection.sendNotification("textDocument/didChange", {
      textDocument: { uri: this.uri, version: ++this.version },
      contentChanges: [{ range: { start: position, end: position }, text: char }],
    });
    const t0 = performance.now();
    await this.connection.sendRequest("textDocument/inlineCompletion", {
      textDocument: { uri: this.uri },
      position: { line: this.line, character: this.column },
      context: { triggerKind: 2 },
    });
    const ms = performance.now() - t0;
    const metrics = (await this.connection.sendRequest("ifai/completionMetrics", { last: 1 })) as CompletionMetricsResult;
    return { ms, served: metrics.records.at(-1)?.source === "model" };
  }

  /** What the project's clients send when the user brings a window to the front. */
  focus(): Promise<void> {
    return this.connection.sendNotification("ifai/didFocus", { textDocument: { uri: this.uri }, position: { line: this.line, character: this.column } });
  }

  modelStatus(): Promise<ModelStatusResult> {
    return this.connection.sendRequest("workspace/executeCommand", { command: "ifai.modelStatus", arguments: [] }) as Promise<ModelStatusResult>;
  }

  async close(): Promise<void> {
    await this.connection.sendRequest("shutdown").catch(() => undefined);
    const exited = new Promise((resolve) => this.proc.once("exit", resolve));
    await this.connection.sendNotification("exit").catch(() => undefined);
    await exited;
    this.connection.dispose();
  }
}

/** Proportional set size in MiB: a page shared by n processes counts 1/n in each. */
function pssMiB(pid: number): number {
  const rollup = fs.readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
  const kb = Number(/^Pss:\s+(\d+) kB/m.exec(rollup)?.[1] ?? 0);
  return kb / 1024;
}

/** Resident set size in MiB. */
function rssMiB(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) / 1024;
}

interface ModeFigures {
  oneWindowMiB: number;
  threeWindowsMiB: number;
  alone: Summary;
  /** Neither window has said it is in front: their completions run side by side. */
  whileOtherTypes: Summary;
  /** Window B's own keystrokes meanwhile. */
  otherWindow: Summary;
  /** Shares of A's and B's keystrokes answered by the model while both typed. */
  servedWhileOtherTypes: number;
  otherServed: number;
  /** RSS of the process holding the model after the series (the engine, or window A's server). */
  modelProcessRssMiB: number;
  /** The same after A sent ifai/didFocus (as the project's clients do when a window comes to the front). */
  focused: { whileOtherTypes: Summary; otherWindow: Summary; servedWhileOtherTypes: number; otherServed: number };
}

async function runMode(mode: "in-process" | "shared", modelPath: string, engineDir: string): Promise<ModeFigures> {
  const settings = { engine: { mode }, model: { path: modelPath }, index: { enabled: false }, completion: { maxTokens: 12, cacheSize: 0, ...debounce } };
  const env = { ...process.env, IFAI_ENGINE_DIR: engineDir, IFAI_ENGINE_IDLE_MS: "1000", IFAI_CACHE_DIR: path.join(engineDir, "cache") };
  const open = async (source: string): Promise<Window> => {
    const proc = spawn(process.execPath, [path.join(root, "bin", "ifai-lsp.js"), "--stdio"], { stdio: ["pipe", "pipe", "ignore"], env });
    const window = new Window(proc, source);
    await window.start(settings);
    // The first suggestion loads the model and evaluates the whole window: not part of the figures.
    await window.keystroke(" ");
    return window;
  };
  const memory = async (windows: Window[]): Promise<number> => {
    const pids = windows.map((w) => w.proc.pid!);
    const engine = (await windows[0]!.modelStatus()).engine;
    if (engine?.pid) pids.push(engine.pid);
    return pids.reduce((sum, pid) => sum + pssMiB(pid), 0);
  };
  /** Latencies of the keystrokes the model served (the others were preempted by the other window's). */
  const typeAll = async (window: Window, typed: string, count: number, stop?: () => boolean): Promise<{ served: number[]; total: number }> => {
    const served: number[] = [];
    let total = 0;
    for (let i = 0; i < count && !stop?.(); i++, total++) {
      const answer = await window.keystroke(typed[i % typed.length]!);
      if (answer.served) served.push(answer.ms);
    }
    return { served, total };
  };

  const a = await open(SOURCES[0]!);
  const oneWindowMiB = await memory([a]);
  const b = await open(SOURCES[1]!);
  const c = await open(SOURCES[2]!);
  const threeWindowsMiB = await memory([a, b, c]);

  const alone = await typeAll(a, TYPED[0]!, KEYSTROKES);
  /** A types while B types without pause; both series' latencies and served shares. */
  const beside = async (typedA: string, typedB: string): Promise<{ a: { served: number[]; total: number }; b: { served: number[]; total: number } }> => {
    let done = false;
    const other = typeAll(b, typedB, 10_000, () => done);
    const mine = await typeAll(a, typedA, KEYSTROKES);
    done = true;
    return { a: mine, b: await other };
  };
  const sideBySide = await beside(TYPED[1]!, TYPED[2]!);
  await a.focus();
  const focused = await beside(TYPED[3]!, TYPED[4]!);
  // The resident size of the process that holds the model after all the typing (the figure
  // compared with llama-server's): the engine's when shared, window A's server's in process.
  const holder = mode === "shared" ? ((await a.modelStatus()).engine?.pid ?? a.proc.pid!) : a.proc.pid!;
  const modelProcessRssMiB = rssMiB(holder);
  for (const w of [a, b, c]) await w.close();
  const share = (x: { served: number[]; total: number }): number => x.served.length / Math.max(1, x.total);
  return {
    oneWindowMiB,
    threeWindowsMiB,
    alone: summarize(alone.served),
    whileOtherTypes: summarize(sideBySide.a.served),
    otherWindow: summarize(sideBySide.b.served),
    servedWhileOtherTypes: share(sideBySide.a),
    otherServed: share(sideBySide.b),
    modelProcessRssMiB,
    focused: { whileOtherTypes: summarize(focused.a.served), otherWindow: summarize(focused.b.served), servedWhileOtherTypes: share(focused.a), otherServed: share(focused.b) },
  };
}

/** The index's side of several windows: three servers open one folder at once. */
interface IndexFigures {
  files: number;
  /** Windows whose index passes read and wrote files (the others found the work done). */
  writers: number;
  /** Files read and chunks written by the three windows together (one pass's worth when the work was done once). */
  filesRead: number;
  chunksWritten: number;
  /** Chunks each window sees: equal, and equal to one pass's, when the work was done once. */
  chunks: number[];
  readyMs: number;
}

async function measureIndexPasses(engineDir: string): Promise<IndexFigures> {
  // A folder of real sources (copied: the index lives beside the cache, never in node_modules).
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), "ifai-bench-index-"));
  const from = path.join(root, "node_modules", "vscode-languageserver-protocol", "lib");
  let files = 0;
  for (const entry of fs.readdirSync(from, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith(".js")) continue;
    const target = path.join(folder, path.relative(from, entry.parentPath), entry.name);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.copyFileSync(path.join(entry.parentPath, entry.name), target);
    files++;
  }
  const env = { ...process.env, IFAI_ENGINE_DIR: engineDir, IFAI_CACHE_DIR: path.join(engineDir, "cache") };
  const started = performance.now();
  const windows = await Promise.all(
    [0, 1, 2].map(async () => {
      const proc = spawn(process.execPath, [path.join(root, "bin", "ifai-lsp.js"), "--stdio"], { stdio: ["pipe", "pipe", "pipe"], env: { ...env, IFAI_LOG_LEVEL: "info" } });
      // The servers' logs say what each index pass did ("index pass done", with its counts).
      const passes: Array<{ read: number; chunksWritten: number }> = [];
      let pending = "";
      proc.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
        pending += chunk;
        const lines = pending.split("\n");
        pending = lines.pop() ?? "";
        for (const line of lines) {
          if (!line.includes("index pass done")) continue;
          try {
            const entry = JSON.parse(line) as { read?: number; chunksWritten?: number };
            passes.push({ read: entry.read ?? 0, chunksWritten: entry.chunksWritten ?? 0 });
          } catch {
            // Not a log line of ours.
          }
        }
      });
      const connection = createMessageConnection(new StreamMessageReader(proc.stdout!), new StreamMessageWriter(proc.stdin!));
      connection.onRequest("workspace/configuration", () => [{}]);
      connection.listen();
      const uri = pathToFileURL(folder).href;
      await connection.sendRequest("initialize", {
        processId: process.pid,
        rootUri: uri,
        workspaceFolders: [{ uri, name: "bench" }],
        capabilities: {},
        initializationOptions: { index: { enabled: true } },
      });
      await connection.sendNotification("initialized", {});
      return { proc, connection, passes };
    }),
  );
  try {
    const statuses: IndexStatusResult[] = [];
    for (const w of windows) {
      for (;;) {
        const status = (await w.connection.sendRequest("ifai/indexStatus", {})) as IndexStatusResult;
        if (status.state === "ready" || status.state === "error") {
          statuses.push(status);
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    const work = windows.map((w) => w.passes.reduce((n, p) => ({ read: n.read + p.read, chunksWritten: n.chunksWritten + p.chunksWritten }), { read: 0, chunksWritten: 0 }));
    return {
      files,
      writers: work.filter((w) => w.read > 0).length,
      filesRead: work.reduce((n, w) => n + w.read, 0),
      chunksWritten: work.reduce((n, w) => n + w.chunksWritten, 0),
      chunks: statuses.map((s) => s.folders[0]?.chunks ?? 0),
      readyMs: Math.round(performance.now() - started),
    };
  } finally {
    for (const w of windows) {
      await w.connection.sendRequest("shutdown").catch(() => undefined);
      const exited = new Promise((resolve) => w.proc.once("exit", resolve));
      await w.connection.sendNotification("exit").catch(() => undefined);
      await exited;
      w.connection.dispose();
    }
    fs.rmSync(folder, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  if (process.platform !== "linux") throw new Error("bench:engine reads /proc (Linux only)");
  const vocabPath = path.resolve(root, "../shared/models/ggml-vocab-qwen2.5.gguf");
  const vocab = fs.existsSync(vocabPath) ? { vocabGgufPath: vocabPath } : ("byte" as const);
  log(`ifai-lsp engine benchmark — ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`);
  const modelPath = await ensureGeneratedModel(path.join(root, ".cache", "bench-models"), { shape: QWEN25_CODER_05B_SHAPE, quant: "Q8_0", vocab, seed: 1 });
  log(`model: ${path.basename(modelPath)} (${(fs.statSync(modelPath).size / 2 ** 20).toFixed(0)} MiB); ${KEYSTROKES} keystrokes per series`);
  const engineDir = fs.mkdtempSync(path.join(os.tmpdir(), "ifai-bench-engine-"));
  fs.chmodSync(engineDir, 0o700);
  const figures: Record<string, ModeFigures> = {};
  let index: IndexFigures;
  try {
    for (const mode of indexOnly ? [] : (["in-process", "shared"] as const)) {
      const f = await runMode(mode, modelPath, engineDir);
      figures[mode] = f;
      log(`\n${mode}: memory (PSS) one window ${f.oneWindowMiB.toFixed(0)} MiB, three windows ${f.threeWindowsMiB.toFixed(0)} MiB; RSS of the process holding the model after the typing ${f.modelProcessRssMiB.toFixed(0)} MiB`);
      log(formatSummary("  window A alone, keystroke → suggestion", f.alone, "ms"));
      log(formatSummary("  window A while window B types", f.whileOtherTypes, "ms"));
      log(formatSummary("  window B meanwhile", f.otherWindow, "ms"));
      log(`  served by the model while both typed: A ${(f.servedWhileOtherTypes * 100).toFixed(0)} %, B ${(f.otherServed * 100).toFixed(0)} % (only served keystrokes are in the latencies)`);
      log(formatSummary("  window A in front (ifai/didFocus) while B types", f.focused.whileOtherTypes, "ms"));
      log(formatSummary("  window B meanwhile", f.focused.otherWindow, "ms"));
      log(`  served by the model while both typed: A ${(f.focused.servedWhileOtherTypes * 100).toFixed(0)} %, B ${(f.focused.otherServed * 100).toFixed(0)} %`);
    }
    index = await measureIndexPasses(engineDir);
    log(
      `\nindex: three windows open one folder of ${index.files} files at once: ${index.writers} of them read and indexed files (${index.filesRead} files read, ${index.chunksWritten} chunks written in all); chunks each window sees ${index.chunks.join(" / ")}; all ready in ${index.readyMs} ms`,
    );
  } finally {
    fs.rmSync(engineDir, { recursive: true, force: true });
  }
  if (indexOnly) {
    log(`\n${JSON.stringify({ bench: "engine", index })}`);
    return;
  }
  const inProcess = figures["in-process"]!;
  const shared = figures.shared!;
  const result = {
    bench: "engine",
    keystrokes: KEYSTROKES,
    inProcess: { oneWindowMiB: Math.round(inProcess.oneWindowMiB), threeWindowsMiB: Math.round(inProcess.threeWindowsMiB), aloneMs: inProcess.alone, whileOtherTypesMs: inProcess.whileOtherTypes, otherWindowMs: inProcess.otherWindow, servedA: round(inProcess.servedWhileOtherTypes), servedB: round(inProcess.otherServed), focused: inProcess.focused, modelProcessRssMiB: Math.round(inProcess.modelProcessRssMiB) },
    shared: { oneWindowMiB: Math.round(shared.oneWindowMiB), threeWindowsMiB: Math.round(shared.threeWindowsMiB), aloneMs: shared.alone, whileOtherTypesMs: shared.whileOtherTypes, otherWindowMs: shared.otherWindow, servedA: round(shared.servedWhileOtherTypes), servedB: round(shared.otherServed), focused: shared.focused, modelProcessRssMiB: Math.round(shared.modelProcessRssMiB) },
    /** Goal ≤ 1.2: three shared windows against one window with the model in process. */
    memoryThreeSharedVsOne: round(shared.threeWindowsMiB / inProcess.oneWindowMiB),
    memoryThreeInProcessVsOne: round(inProcess.threeWindowsMiB / inProcess.oneWindowMiB),
    /**
     * Goal ≤ 1.3: window A's p50 while B types, against A alone, with A in front (it sent
     * ifai/didFocus, as the project's clients do), in each mode; and with neither window in front.
     */
    contentionSharedP50: round(shared.focused.whileOtherTypes.p50 / shared.alone.p50),
    contentionInProcessP50: round(inProcess.focused.whileOtherTypes.p50 / inProcess.alone.p50),
    contentionSharedNoFocusP50: round(shared.whileOtherTypes.p50 / shared.alone.p50),
    contentionInProcessNoFocusP50: round(inProcess.whileOtherTypes.p50 / inProcess.alone.p50),
    /** Goal: one index pass per folder, however many windows show it. */
    index: { files: index.files, writers: index.writers, filesRead: index.filesRead, chunksWritten: index.chunksWritten, chunks: index.chunks, readyMs: index.readyMs },
    /** Three shared windows against one shared window (the engine included in both). */
    memoryThreeSharedVsOneShared: round(shared.threeWindowsMiB / shared.oneWindowMiB),
  };
  log(`\n${JSON.stringify(result)}`);
}

const round = (x: number): number => Math.round(x * 100) / 100;

main().catch((error: unknown) => {
  process.stderr.write(`bench:engine failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
