import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { generateCase, KNOWN_COMMANDS, type FuzzCase } from "./cases.js";
import { LspProcess, type JsonRpcMessage } from "./LspProcess.js";
import { Rng } from "./Rng.js";

export interface FuzzOptions {
  cases: number;
  seed: number;
  /** The first case number (to replay a failure: --from N --cases 1). */
  from?: number;
  /** Cases between two health checks. */
  batch?: number;
  /** Batches per server process; a fresh one starts after (and after any failure). */
  batchesPerServer?: number;
  /** The model file the health-check completion runs on. */
  modelPath: string;
  /** The longest wait for a batch's answers and its health check. */
  batchTimeoutMs?: number;
  onProgress?: (progress: FuzzProgress) => void;
}

export interface FuzzProgress {
  done: number;
  total: number;
  failures: number;
  servers: number;
  elapsedMs: number;
}

export interface FuzzFailure {
  seed: number;
  /** The batch's first and last case: `--seed S --from first --cases (last-first+1)` replays it. */
  firstCase: number;
  lastCase: number;
  kinds: string[];
  problem: string;
  stderrTail: string;
}

export interface FuzzReport {
  seed: number;
  from: number;
  cases: number;
  batches: number;
  servers: number;
  failures: FuzzFailure[];
  kinds: Record<string, number>;
  ms: number;
  bytesSent: number;
  /** InternalError (-32603) answers: a handler threw on input the gate let through. Samples by message. */
  internalErrors: { count: number; samples: string[] };
  /** Server log lines about uncaught exceptions or unhandled rejections. */
  uncaught: { count: number; samples: string[] };
}

/** Counts and a few distinct samples, for the report. */
class Tally {
  count = 0;
  readonly samples = new Set<string>();
  add(sample: string): void {
    this.count++;
    if (this.samples.size < 12) this.samples.add(sample.slice(0, 240));
  }
  toJSON(): { count: number; samples: string[] } {
    return { count: this.count, samples: [...this.samples] };
  }
}

const HEALTH_URI = "file:///fuzz/health.ts";
const HEALTH_TEXT = "export function add(a: number, b: number): number {\n  return \n}\n";

/**
 * Drives the real built server over stdio with seeded hostile input, batch by batch. After every
 * batch each well-formed request of the batch must have been answered, a valid completion must be
 * answered, stdout must hold only well-formed frames and the process must be alive; a crash, a
 * hang (no answer within batchTimeoutMs) or pollution is a failure reported with the seed and the
 * batch's case numbers. Each server also goes through the lifecycle edges: requests before
 * initialize (ServerNotInitialized), and at its end requests after shutdown (InvalidRequest) and
 * exit (code 0). Nothing leaves the machine: local-only mode, loopback-only mirrors, no cloud
 * provider, and a temp folder as cache and working directory.
 */
export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const batch = options.batch ?? 50;
  const perServer = options.batchesPerServer ?? 40;
  const timeoutMs = options.batchTimeoutMs ?? 60_000;
  const from = options.from ?? 0;
  const started = performance.now();
  const tempDir = fs.mkdtempSync(path.join(os.tmpdir(), "ifai-fuzz-"));
  const uris = [0, 1, 2, 3].map((i) => `file://${tempDir}/doc${i}.ts`).concat(["untitled:Untitled-1", "file:///", "weird:%%%"]);
  const failures: FuzzFailure[] = [];
  const kinds: Record<string, number> = {};
  const internalErrors = new Tally();
  const uncaught = new Tally();
  let server: Session | undefined;
  let servers = 0;
  let batches = 0;
  let bytesSent = 0;
  let done = 0;
  let serverBatches = 0;

  try {
    for (let first = from; first < from + options.cases; first += batch) {
      const last = Math.min(first + batch, from + options.cases) - 1;
      if (!server || serverBatches >= perServer) {
        if (server) {
          const problem = await server.close(timeoutMs);
          if (problem) failures.push({ seed: options.seed, firstCase: first - batch, lastCase: first - 1, kinds: ["lifecycle-end"], problem, stderrTail: server.process.stderrTail.slice(-4000) });
        }
        server = await Session.start(options.modelPath, tempDir, timeoutMs, internalErrors, uncaught);
        servers++;
        serverBatches = 0;
        if (server.startProblem) {
          failures.push({ seed: options.seed, firstCase: first, lastCase: last, kinds: ["lifecycle-start"], problem: server.startProblem, stderrTail: server.process.stderrTail.slice(-4000) });
          server.process.kill();
          server = undefined;
          continue;
        }
      }
      const cases: FuzzCase[] = [];
      for (let i = first; i <= last; i++) {
        const c = generateCase(Rng.forCase(options.seed, i), { uris, commands: server.commands, tempDir, caseIndex: i });
        cases.push(c);
        kinds[c.kind] = (kinds[c.kind] ?? 0) + 1;
      }
      const problem = await server.runBatch(cases, timeoutMs, batches);
      bytesSent += cases.reduce((n, c) => n + c.bytes.length, 0);
      batches++;
      serverBatches++;
      done += cases.length;
      if (problem) {
        failures.push({ seed: options.seed, firstCase: first, lastCase: last, kinds: [...new Set(cases.map((c) => c.kind))], problem, stderrTail: server.process.stderrTail.slice(-4000) });
        server.process.kill();
        server = undefined;
      }
      options.onProgress?.({ done, total: options.cases, failures: failures.length, servers, elapsedMs: performance.now() - started });
    }
    if (server) {
      const problem = await server.close(timeoutMs);
      if (problem) failures.push({ seed: options.seed, firstCase: from + options.cases - 1, lastCase: from + options.cases - 1, kinds: ["lifecycle-end"], problem, stderrTail: server.process.stderrTail.slice(-4000) });
      server = undefined;
    }
  } finally {
    server?.process.kill();
    fs.rmSync(tempDir, { recursive: true, force: true });
  }
  return { seed: options.seed, from, cases: done, batches, servers, failures, kinds, ms: Math.round(performance.now() - started), bytesSent, internalErrors: internalErrors.toJSON(), uncaught: uncaught.toJSON() };
}

/** One server process and what the fuzzer knows about it. */
class Session {
  commands: readonly string[] = KNOWN_COMMANDS;
  startProblem: string | undefined;
  private readonly answers = new Map<string, number>();
  private healthVersion = 1;

  private constructor(
    readonly process: LspProcess,
    private readonly internalErrors: Tally,
    uncaught: Tally,
  ) {
    process.onMessage((m) => this.count(m));
    let partial = "";
    process.process.stderr!.on("data", (chunk: string) => {
      const lines = (partial + chunk).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) if (/uncaught exception|unhandled rejection/.test(line)) uncaught.add(line);
    });
  }

  static async start(modelPath: string, tempDir: string, timeoutMs: number, internalErrors: Tally, uncaught: Tally): Promise<Session> {
    const proc = new LspProcess({
      cwd: tempDir,
      keepReceived: false,
      env: {
        IFAI_CACHE_DIR: path.join(tempDir, "cache"),
        IFAI_LOG_LEVEL: "warn",
        IFAI_LOG_FILE: "",
        IFAI_LOCAL_ONLY: "1",
        IFAI_MODEL_MIRRORS: "http://127.0.0.1:9",
        LANCEDB_LOG: "error",
      },
    });
    const session = new Session(proc, internalErrors, uncaught);
    // Before initialize: a request is refused with ServerNotInitialized, a notification dropped.
    proc.notify("textDocument/didOpen", { textDocument: { uri: HEALTH_URI, languageId: "typescript", version: 1, text: "x" } });
    const early = await session.within(proc.request("ifai/completionMetrics", {}), timeoutMs, "a request before initialize");
    if (typeof early === "string") return session.fail(early);
    if (early.error?.code !== -32002) return session.fail(`a request before initialize was answered ${JSON.stringify(early).slice(0, 200)}, not ServerNotInitialized (-32002)`);
    const settings = {
      model: { path: modelPath, threads: 1, batchSize: 32, idleUnloadMinutes: 0 },
      completion: { debounceMs: 0, maxTokens: 4, maxMultilineTokens: 6, maxTimeMs: 3000 },
      chat: { maxTokens: 4, maxTimeMs: 3000, contextSize: 1024 },
      nextEdit: { maxTokens: 8, maxTimeMs: 3000, contextSize: 1024 },
      actions: { maxTokens: 8, maxTimeMs: 3000, contextTokens: 0, cloudRetry: false },
      privacy: { localOnly: true },
      models: { mirrors: "http://127.0.0.1:9", publicMirrors: false },
      index: { enabled: false },
    };
    const init = await session.within(
      proc.request("initialize", { processId: process.pid, rootUri: null, capabilities: { textDocument: { codeAction: { resolveSupport: { properties: ["edit"] } } } }, initializationOptions: settings }),
      timeoutMs,
      "initialize",
    );
    if (typeof init === "string") return session.fail(init);
    if (init.error) return session.fail(`initialize failed: ${init.error.message}`);
    const advertised = (init.result as { capabilities?: { executeCommandProvider?: { commands?: string[] } } }).capabilities?.executeCommandProvider?.commands;
    if (advertised?.length) session.commands = advertised;
    proc.notify("initialized", {});
    return session;
  }

  /** Sends the batch, then waits for its answers and a health-check completion. */
  async runBatch(cases: FuzzCase[], timeoutMs: number, batchIndex: number): Promise<string | undefined> {
    for (const c of cases) this.process.write(c.bytes);
    const expected = cases.flatMap((c) => c.expect);
    const healthId = `health-${batchIndex}`;
    const answered = this.waitUntil(() => expected.every((e) => (this.answers.get(e.id) ?? 0) >= e.count), timeoutMs);
    // The health check follows the batch on the same stream: it is answered only if the server
    // resynchronised after whatever the batch did to the framing.
    const v = ++this.healthVersion;
    this.process.notify("textDocument/didOpen", { textDocument: { uri: HEALTH_URI, languageId: "typescript", version: v, text: HEALTH_TEXT } });
    const health = this.within(this.process.request("textDocument/completion", { textDocument: { uri: HEALTH_URI }, position: { line: 1, character: 9 } }, healthId), timeoutMs, "the health-check completion");
    this.process.notify("textDocument/didClose", { textDocument: { uri: HEALTH_URI } });
    const [okAnswers, healthAnswer] = await Promise.all([answered, health]);
    const dead = this.deadProblem();
    if (dead) return dead;
    if (typeof healthAnswer === "string") return healthAnswer;
    if (healthAnswer.error) return `the health-check completion failed: ${JSON.stringify(healthAnswer.error).slice(0, 300)}`;
    if (!okAnswers) {
      const missing = expected.filter((e) => (this.answers.get(e.id) ?? 0) < e.count).map((e) => `${e.id} (${this.answers.get(e.id) ?? 0} of ${e.count})`);
      return `requests never answered within ${timeoutMs} ms: ${missing.slice(0, 10).join(", ")}`;
    }
    if (this.process.pollution.length > 0) return `stdout pollution: ${this.process.pollution.slice(0, 3).join("; ")}`;
    return undefined;
  }

  /** The end of a server's life: after shutdown every request is InvalidRequest, and exit gives code 0. */
  async close(timeoutMs: number): Promise<string | undefined> {
    try {
      const dead = this.deadProblem();
      if (dead) return dead;
      const shutdown = await this.within(this.process.request("shutdown"), timeoutMs, "shutdown");
      if (typeof shutdown === "string") return shutdown;
      if (shutdown.error) return `shutdown failed: ${shutdown.error.message}`;
      const after = await this.within(Promise.all(Array.from({ length: 5 }, () => this.process.request("ifai/completionMetrics", {}))), timeoutMs, "requests after shutdown");
      if (typeof after === "string") return after;
      const wrong = after.find((a) => a.error?.code !== -32600);
      if (wrong) return `a request after shutdown was answered ${JSON.stringify(wrong).slice(0, 200)}, not InvalidRequest (-32600)`;
      this.process.notify("exit");
      const exit = await this.within(this.process.exited, timeoutMs, "exit");
      if (typeof exit === "string") return exit;
      if (exit.code !== 0) return `exit after shutdown gave code ${exit.code} (signal ${exit.signal}), not 0`;
      if (this.process.pollution.length > 0) return `stdout pollution: ${this.process.pollution.slice(0, 3).join("; ")}`;
      return undefined;
    } finally {
      this.process.kill();
    }
  }

  private fail(problem: string): Session {
    this.startProblem = problem;
    return this;
  }

  private deadProblem(): string | undefined {
    const p = this.process.process;
    if (p.exitCode !== null || p.signalCode !== null) return `the server died (exit code ${p.exitCode}, signal ${p.signalCode})`;
    return undefined;
  }

  private count(message: JsonRpcMessage): void {
    if (message.method !== undefined || message.id === undefined) return;
    if (message.error?.code === -32603) this.internalErrors.add(message.error.message);
    if (message.id === null) return;
    const id = String(message.id);
    this.answers.set(id, (this.answers.get(id) ?? 0) + 1);
  }

  /** Resolves true once `done()` holds after some message arrives, false on time-out or death. */
  private waitUntil(done: () => boolean, timeoutMs: number): Promise<boolean> {
    if (done()) return Promise.resolve(true);
    return new Promise((resolve) => {
      let settled = false;
      const finish = (value: boolean): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        stop();
        resolve(value);
      };
      const timer = setTimeout(() => finish(false), timeoutMs);
      const stop = this.process.onMessage(() => {
        if (!settled && done()) finish(true);
      });
      void this.process.exited.then(() => finish(done()));
    });
  }

  /** The promise's value, or a sentence when it takes longer than timeoutMs or the server dies first. */
  private within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T | string> {
    return new Promise((resolve) => {
      const settle = (value: T | string): void => {
        clearTimeout(timer);
        resolve(value);
      };
      const timer = setTimeout(() => settle(`no answer to ${what} within ${timeoutMs} ms (a hang or deafness)`), timeoutMs);
      void this.process.exited.then(({ code, signal }) => {
        // Let an answer written just before the exit arrive first.
        setImmediate(() => settle(`the server exited (code ${code}, signal ${signal}) before answering ${what}`));
      });
      void promise.then(settle);
    });
  }
}
