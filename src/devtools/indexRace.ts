/**
 * Several real processes writing one index folder at once, for test/indexConcurrency.test.ts and
 * `npm run stress:index`. A round (fixed by its seed): a generated tree; two or three language
 * servers (the built `bin/ifai-lsp.js --stdio`, watching the folder) and one or two
 * `ifai-lsp index` runs on the same cache folder, started together or staggered on each other's
 * log lines; files changed, added and deleted while they run; one server SIGKILLed mid-pass. Then
 * the table must equal an index built alone from the final tree, row for row.
 *
 * Every wait is on an event (a log line, an exit, a reply); the only timers are deadlines that
 * fail the round, and the seeded delay before the SIGKILL, which places the kill, not a wait.
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { createMessageConnection, StreamMessageReader, StreamMessageWriter, type MessageConnection } from "vscode-jsonrpc/node";
import { DEFAULT_INDEX_SETTINGS, IndexService } from "../index/IndexService.js";
import { indexLocation } from "../index/store/location.js";
import { IndexStore } from "../index/store/IndexStore.js";
import { silentLogger } from "../util/logger.js";

export interface RaceOptions {
  seed: number;
  /** bin/ifai-lsp.js of the build under test. */
  binPath: string;
  /** The Node that runs it. */
  nodeBinary: string;
  /** Files in the generated tree (default 40). */
  files?: number;
  /** Deadline for the whole round (default 60 s). */
  timeoutMs?: number;
  /** Progress lines (the stress tool prints them). */
  log?: (line: string) => void;
}

export interface RaceResult {
  seed: number;
  plan: string;
  ok: boolean;
  /** Rows in the shared table, and in the table built alone from the final tree. */
  rows: number;
  expectedRows: number;
  /** Chunk ids stored more than once, missing, or not in the reference. */
  duplicates: number;
  missing: string[];
  extra: string[];
  recordsDiffer: string[];
  /** Chunk counts the surviving servers report (ifai/indexStatus), which must equal the table's rows. */
  reportedChunks: number[];
  cliExitCodes: number[];
  cliWaited: number;
  /** Per process: full passes finished and batches written (what actually ran). */
  activity: string;
  /** Log lines with a JSON key twice, or commit conflicts logged as warnings or errors. */
  badLogLines: string[];
  ms: number;
}

interface LogLine {
  msg?: string;
  level?: number;
  [key: string]: unknown;
}

/** A process whose JSON log lines (stderr) can be waited for. */
class Watched {
  readonly lines: LogLine[] = [];
  readonly raw: string[] = [];
  private waiters: Array<{ test: (l: LogLine) => boolean; resolve: () => void }> = [];
  private listeners: Array<(l: LogLine) => void> = [];
  exit: Promise<number>;
  exited = false;
  private buffer = "";

  constructor(
    readonly name: string,
    readonly proc: ChildProcess,
  ) {
    proc.stderr!.setEncoding("utf8");
    proc.stderr!.on("data", (chunk: string) => {
      this.buffer += chunk;
      let nl: number;
      while ((nl = this.buffer.indexOf("\n")) >= 0) {
        const text = this.buffer.slice(0, nl);
        this.buffer = this.buffer.slice(nl + 1);
        this.raw.push(text);
        let line: LogLine = { msg: text };
        if (text.startsWith("{")) {
          try {
            line = JSON.parse(text) as LogLine;
          } catch {
            // A plain stderr line.
          }
        }
        this.lines.push(line);
        this.waiters = this.waiters.filter((w) => {
          if (!w.test(line)) return true;
          w.resolve();
          return false;
        });
        for (const l of this.listeners) l(line);
      }
    });
    this.exit = new Promise((resolve) =>
      proc.once("exit", (code, signal) => {
        this.exited = true;
        resolve(code ?? (signal ? 128 : -1));
      }),
    );
  }

  /** Resolves at the first log line (seen or to come) that passes `test`. */
  when(test: (l: LogLine) => boolean): Promise<void> {
    if (this.lines.some(test)) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ test, resolve }));
  }

  onLine(listener: (l: LogLine) => void): void {
    this.listeners.push(listener);
  }
}

const msgIs =
  (msg: string) =>
  (l: LogLine): boolean =>
    l.msg === msg;

/** A deterministic generator (mulberry32) for the round's choices. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function sourceFile(name: string, rand: () => number, salt: string): string {
  const functions = 2 + Math.floor(rand() * 4);
  const out: string[] = [`// ${name} ${salt}`];
  for (let j = 0; j < functions; j++) {
    const fn = `${name.replace(/\W/g, "_")}_fn${j}_${salt}`;
    const lines = 3 + Math.floor(rand() * 12);
    out.push(`export function ${fn}(value: number): number {`);
    for (let k = 0; k < lines; k++) out.push(`  value = value * ${k + 1} + ${Math.floor(rand() * 1000)}; // step ${k} of ${fn}`);
    out.push("  return value;", "}", "");
  }
  return out.join("\n");
}

function startServer(name: string, options: RaceOptions, env: NodeJS.ProcessEnv, root: string, modelPath: string): { watched: Watched; connection: MessageConnection } {
  const proc = spawn(options.nodeBinary, [options.binPath, "--stdio"], { stdio: ["pipe", "pipe", "pipe"], env });
  const watched = new Watched(name, proc);
  const connection = createMessageConnection(new StreamMessageReader(proc.stdout!), new StreamMessageWriter(proc.stdin!));
  const settings = { model: { path: modelPath }, index: { watch: true } };
  connection.onRequest((method) => (method === "workspace/configuration" ? [settings] : null));
  connection.onNotification(() => undefined);
  connection.onError(() => undefined);
  connection.listen();
  void connection
    .sendRequest("initialize", { processId: process.pid, rootUri: pathToFileURL(root).href, workspaceFolders: [{ uri: pathToFileURL(root).href, name: "ws" }], capabilities: { workspace: { configuration: true } }, initializationOptions: settings })
    .then(() => connection.sendNotification("initialized", {}))
    .catch(() => undefined);
  return { watched, connection };
}

function startCli(name: string, options: RaceOptions, env: NodeJS.ProcessEnv, root: string): Watched {
  const proc = spawn(options.nodeBinary, [options.binPath, "index", root, "--json"], { stdio: ["ignore", "pipe", "pipe"], env });
  return new Watched(name, proc);
}

/** Runs one round; never throws for a wrong index (the result says so), only for a broken harness. */
export async function runRaceRound(options: RaceOptions): Promise<RaceResult> {
  const started = performance.now();
  const rand = random(options.seed);
  const base = fs.mkdtempSync(path.join(os.tmpdir(), `ifai-race-${options.seed}-`));
  const root = path.join(base, "ws");
  const cache = path.join(base, "cache");
  const log = options.log ?? (() => undefined);
  const servers: Array<{ watched: Watched; connection: MessageConnection }> = [];
  const clis: Watched[] = [];
  const deadline = options.timeoutMs ?? 60_000;
  let timer: NodeJS.Timeout | undefined;
  try {
    fs.mkdirSync(root, { recursive: true });
    const write = (rel: string, text: string): void => {
      fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
      fs.writeFileSync(path.join(root, rel), text);
    };
    const count = options.files ?? 40;
    const names: string[] = [];
    for (let i = 0; i < count; i++) {
      const rel = `src/${["core", "util", "app"][i % 3]}/mod${i}.ts`;
      names.push(rel);
      write(rel, sourceFile(`mod${i}`, rand, "v1"));
    }
    const env: NodeJS.ProcessEnv = { ...process.env, IFAI_CACHE_DIR: cache, IFAI_LOG_LEVEL: "debug", IFAI_LOG_FILE: "", IFAI_INDEX_WORKERS: "1" };
    const modelPath = path.join(base, "no-model.gguf");

    // The plan, from the seed.
    const serverCount = rand() < 0.5 ? 2 : 3;
    const cliCount = rand() < 0.6 ? 1 : 2;
    const together = rand() < 0.5;
    const victim = Math.floor(rand() * serverCount);
    const killDelayMs = Math.floor(rand() * 150);
    const mutateAfterPass = rand() < 0.5;
    const plan = `${serverCount} servers + ${cliCount} CLI, ${together ? "together" : "staggered"}, server ${victim} killed ${killDelayMs} ms into its pass, files changed ${mutateAfterPass ? "after the first pass" : "during the first pass"}`;
    log(`seed ${options.seed}: ${plan}`);

    const failAfter = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`round ${options.seed} did not finish in ${deadline} ms (${plan})`)), deadline);
    });
    const within = <T>(p: Promise<T>): Promise<T> => Promise.race([p, failAfter]);

    const launchServer = (i: number): void => {
      servers[i] = startServer(`server${i}`, options, env, root, modelPath);
      for (const attach of launched) attach(servers[i]!.watched);
    };
    const launchCli = (i: number): void => {
      clis[i] = startCli(`cli${i}`, options, env, root);
      for (const attach of launched) attach(clis[i]!);
    };
    // Resolves when any process, started now or later, logs `msg`.
    const launched: Array<(w: Watched) => void> = [];
    const first = (msg: string): Promise<void> =>
      new Promise((resolve) => {
        const attach = (w: Watched): void => void w.when(msgIs(msg)).then(resolve);
        for (const w of [...servers.filter(Boolean).map((s) => s.watched), ...clis.filter(Boolean)]) attach(w);
        launched.push(attach);
      });

    if (together) {
      for (let i = 0; i < serverCount; i++) launchServer(i);
      for (let i = 0; i < cliCount; i++) launchCli(i);
    } else {
      // Each process starts when the previous one has begun a pass (holds the lease) or waits for one.
      launchServer(0);
      let previous = servers[0]!.watched;
      const order = [...Array.from({ length: serverCount - 1 }, (_, i) => ({ kind: "server" as const, i: i + 1 })), ...Array.from({ length: cliCount }, (_, i) => ({ kind: "cli" as const, i }))];
      order.sort(() => rand() - 0.5);
      for (const step of order) {
        await within(Promise.race([previous.when((l) => l.msg === "index scan" || l.msg === "another process is writing this index; waiting for it"), previous.exit.then(() => undefined)]));
        if (step.kind === "server") {
          launchServer(step.i);
          previous = servers[step.i]!.watched;
        } else {
          launchCli(step.i);
          previous = clis[step.i]!;
        }
      }
    }

    // The victim is killed a seeded moment after its pass begins.
    const victimDone = within(servers[victim]!.watched.when(msgIs("index scan"))).then(async () => {
      await new Promise((r) => setTimeout(r, killDelayMs));
      servers[victim]!.watched.proc.kill("SIGKILL");
      await servers[victim]!.watched.exit;
    });

    // Files change while the processes run.
    await within(mutateAfterPass ? first("index pass done") : first("index scan"));
    const changed = names.filter(() => rand() < 0.15);
    for (const rel of changed) write(rel, sourceFile(path.basename(rel, ".ts"), rand, "v2"));
    const deleted = names.filter((n) => !changed.includes(n) && rand() < 0.06);
    for (const rel of deleted) fs.rmSync(path.join(root, rel));
    const added = ["src/new/a.ts", "src/new/b.ts"].slice(0, 1 + Math.floor(rand() * 2));
    for (const rel of added) write(rel, sourceFile(path.basename(rel, ".ts"), rand, "v3"));
    log(`seed ${options.seed}: ${changed.length} changed, ${deleted.length} deleted, ${added.length} added`);

    await within(victimDone);
    const cliExitCodes = await within(Promise.all(clis.map((c) => c.exit)));

    // The reference: the final tree indexed alone, in another cache folder.
    const referenceCache = path.join(base, "reference-cache");
    const reference = new IndexService({ logger: silentLogger(), env: { IFAI_CACHE_DIR: referenceCache }, workers: 1 });
    await reference.configure({ ...DEFAULT_INDEX_SETTINGS, watch: false });
    await reference.setFolders([{ uri: pathToFileURL(root).href }]);
    await reference.whenIdle();
    await reference.dispose();
    const expected = await readIndex(indexLocation(root, { env: { IFAI_CACHE_DIR: referenceCache } }));

    // The survivors apply the last changes through their watchers: the table is compared after
    // each of their log lines until it matches (or the deadline fails the round).
    const location = indexLocation(root, { env: { IFAI_CACHE_DIR: cache } });
    const survivors = servers.filter((s, i) => i !== victim);
    // Every surviving server finishes its own first pass (after waiting its turn for the lease).
    await within(Promise.all(survivors.map((s) => s.watched.when(msgIs("index pass done")))));
    let actual = await readIndex(location);
    const same = (): boolean => compare(actual, expected).ok;
    if (!same()) {
      await within(
        new Promise<void>((resolve) => {
          let checking = false;
          let again = false;
          const check = async (): Promise<void> => {
            if (checking) {
              again = true;
              return;
            }
            checking = true;
            do {
              again = false;
              actual = await readIndex(location);
            } while (again && !same());
            checking = false;
            if (same()) resolve();
          };
          for (const s of survivors) s.watched.onLine((l) => {
            if (l.msg === "index pass done" || l.msg === "live update written" || l.msg === "index batch written") void check();
          });
          void check();
        }),
      ).catch(() => undefined);
    }
    const result = compare(actual, expected);
    const badLogLines: string[] = [];
    for (const w of [...servers.map((s) => s.watched), ...clis]) {
      for (const raw of w.raw) {
        if ((raw.match(/"component":/g) ?? []).length > 1) badLogLines.push(`${w.name}: ${raw.slice(0, 300)}`);
        else if (/"level":(40|50|60)/.test(raw) && /conflict|preempted/i.test(raw)) badLogLines.push(`${w.name}: ${raw.slice(0, 300)}`);
      }
    }
    const activity = [...servers.map((s) => s.watched), ...clis]
      .map((w) => `${w.name} ${w.lines.filter(msgIs("index pass done")).length}p/${w.lines.filter(msgIs("index batch written")).length}b`)
      .join(" ");
    const reportedChunks: number[] = [];
    for (const s of survivors) {
      const status = (await within(s.connection.sendRequest("ifai/indexStatus"))) as { folders: Array<{ chunks: number }> };
      reportedChunks.push(status.folders[0]?.chunks ?? -1);
    }
    const cliWaited = clis.filter((c) => c.raw.some((r) => r.includes("waiting for it to finish"))).length;
    for (const s of survivors) {
      await within(s.connection.sendRequest("shutdown").then(() => s.connection.sendNotification("exit"))).catch(() => undefined);
    }
    await within(Promise.all(survivors.map((s) => s.watched.exit))).catch(() => undefined);
    const ok = result.ok && badLogLines.length === 0 && cliExitCodes.every((c) => c === 0) && reportedChunks.every((n) => n === actual.chunks.length);
    return {
      seed: options.seed,
      plan,
      ok,
      rows: actual.chunks.length,
      expectedRows: expected.chunks.length,
      ...result.diff,
      reportedChunks,
      cliExitCodes,
      cliWaited,
      activity,
      badLogLines,
      ms: Math.round(performance.now() - started),
    };
  } finally {
    if (timer) clearTimeout(timer);
    for (const s of servers) {
      if (!s) continue;
      s.connection.dispose();
      if (!s.watched.exited) s.watched.proc.kill("SIGKILL");
    }
    for (const c of clis) if (c && !c.exited) c.proc.kill("SIGKILL");
    await Promise.all([...servers.filter(Boolean).map((s) => s.watched.exit), ...clis.filter(Boolean).map((c) => c.exit)]);
    fs.rmSync(base, { recursive: true, force: true });
  }
}

interface IndexContents {
  chunks: Array<{ path: string; id: string; text: string }>;
  records: Map<string, string>;
}

/** The table's rows and file records, read as a fresh reader would. */
async function readIndex(location: string): Promise<IndexContents> {
  let store: IndexStore;
  try {
    store = await IndexStore.open({ location, readOnly: true, logger: silentLogger() });
  } catch {
    return { chunks: [], records: new Map() };
  }
  try {
    const chunks = await store.snapshot();
    const records = new Map<string, string>();
    for (const [p, r] of await store.loadFiles()) records.set(p, `${r.hash} ${r.status} ${r.chunks}`);
    return { chunks, records };
  } finally {
    store.close();
  }
}

function compare(actual: IndexContents, expected: IndexContents): { ok: boolean; diff: { duplicates: number; missing: string[]; extra: string[]; recordsDiffer: string[] } } {
  const key = (c: { path: string; id: string; text: string }): string => `${c.id}\u0000${c.text}`;
  const want = new Set(expected.chunks.map(key));
  const counts = new Map<string, number>();
  for (const c of actual.chunks) counts.set(key(c), (counts.get(key(c)) ?? 0) + 1);
  const duplicates = [...counts.values()].filter((n) => n > 1).reduce((n, c) => n + c - 1, 0);
  const missing = [...want].filter((k) => !counts.has(k)).map((k) => k.split("\u0000")[0]!);
  const extra = [...counts.keys()].filter((k) => !want.has(k)).map((k) => k.split("\u0000")[0]!);
  const recordsDiffer = [...new Set([...actual.records.keys(), ...expected.records.keys()])].filter((p) => actual.records.get(p) !== expected.records.get(p)).sort();
  const ok = duplicates === 0 && missing.length === 0 && extra.length === 0 && recordsDiffer.length === 0 && actual.chunks.length === expected.chunks.length;
  return { ok, diff: { duplicates, missing: missing.slice(0, 20), extra: extra.slice(0, 20), recordsDiffer: recordsDiffer.slice(0, 20) } };
}
