/**
 * The server-side half of the embedder: starts embedWorker in a worker thread, sends it requests
 * and assembles the vectors it returns. Every promise settles: a request resolves with its vectors,
 * rejects with an AbortError when its signal fires (its queued batches are dropped in the worker),
 * or rejects with a clear error when the worker fails or stops.
 */
import { existsSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import type { Logger } from "../../util/logger.js";
import type { FromWorker, ToWorker, WorkerInit } from "./workerProtocol.js";

interface Pending {
  resolve: (vectors: Float32Array[]) => void;
  reject: (error: Error) => void;
  vectors: Array<Float32Array | undefined>;
  remaining: number;
  cleanup: () => void;
}

export interface WorkerReady {
  dimensions: number;
  inputNames: string[];
  outputName: string;
}

/** Counters for benchmarks and the index status. */
export interface EmbedderStats {
  texts: number;
  tokens: number;
  batches: number;
  /** Batches that finished after their request was cancelled (at most one per cancel: queued ones are dropped). */
  discardedBatches: number;
}

/**
 * Where the compiled worker script is. Running from TypeScript sources (vitest) there is no .js
 * beside this file, so the build in dist/ is used (the test setup checks that it is current).
 */
export function workerScriptUrl(): URL {
  const beside = new URL("./embedWorker.js", import.meta.url);
  if (existsSync(fileURLToPath(beside))) return beside;
  const here = fileURLToPath(import.meta.url);
  const built = here.replace(/([\\/])src([\\/]index[\\/]embedding[\\/])[^\\/]+$/, "$1dist$2embedWorker.js");
  if (built !== here && existsSync(built)) return pathToFileURL(built);
  throw new Error(`the embedding worker script is missing (${fileURLToPath(beside)}): run \`npm run build\``);
}

function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error && reason.name === "AbortError") return reason;
  const error = new Error("embedding was cancelled");
  error.name = "AbortError";
  return error;
}

export class WorkerEmbedder {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  /** Set once the worker has stopped or failed; every later call rejects with it. */
  private failure: Error | undefined;
  private exited: Promise<void>;
  readonly stats: EmbedderStats = { texts: 0, tokens: 0, batches: 0, discardedBatches: 0 };

  private constructor(
    private readonly worker: Worker,
    readonly ready: WorkerReady,
    private readonly logger: Logger,
    exited: Promise<void>,
  ) {
    this.exited = exited;
    worker.on("message", (message: FromWorker) => this.onMessage(message));
    // An idle worker must not keep a CLI process alive; it is referenced while requests are pending.
    worker.unref();
  }

  /** Starts the worker and waits until it has loaded the model and measured its output size. */
  static start(init: WorkerInit, logger: Logger): Promise<WorkerEmbedder> {
    return new Promise((resolve, reject) => {
      // stdout: true keeps anything the worker's JavaScript prints off the LSP channel.
      const worker = new Worker(workerScriptUrl(), { workerData: init, stdout: true, stderr: true });
      worker.stdout.on("data", (chunk: Buffer) => logger.debug({ worker: chunk.toString("utf8").trimEnd() }, "embedding worker output"));
      worker.stderr.on("data", (chunk: Buffer) => logger.warn({ worker: chunk.toString("utf8").trimEnd() }, "embedding worker output"));
      let embedder: WorkerEmbedder | undefined;
      let startError: Error | undefined;
      const exited = new Promise<void>((done) => {
        worker.once("exit", (code) => {
          const error = startError ?? new Error(`the embedding worker stopped (exit code ${code})`);
          if (embedder === undefined) reject(error);
          else embedder.fail(error);
          done();
        });
      });
      worker.once("error", (error) => {
        startError = new Error(`the embedding worker crashed: ${error.message}`);
        embedder?.fail(startError);
      });
      const onStartMessage = (message: FromWorker): void => {
        if (message.type === "initError") {
          startError = new Error(message.message);
          worker.off("message", onStartMessage);
        } else if (message.type === "ready") {
          worker.off("message", onStartMessage);
          embedder = new WorkerEmbedder(worker, message, logger, exited);
          resolve(embedder);
        }
      };
      worker.on("message", onStartMessage);
    });
  }

  embed(texts: string[], kind: "query" | "document", signal?: AbortSignal): Promise<Float32Array[]> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (signal?.aborted) return Promise.reject(abortError(signal));
    if (texts.length === 0) return Promise.resolve([]);
    const id = this.nextId++;
    return new Promise<Float32Array[]>((resolve, reject) => {
      const onAbort = (): void => {
        this.post({ type: "cancel", id });
        this.settle(id)?.reject(abortError(signal!));
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.pending.set(id, {
        resolve,
        reject,
        vectors: new Array(texts.length),
        remaining: texts.length,
        cleanup: () => signal?.removeEventListener("abort", onAbort),
      });
      this.worker.ref();
      this.post({ type: "embed", id, texts, kind });
    });
  }

  /** Stops the worker; pending requests reject. */
  async dispose(): Promise<void> {
    if (this.failure === undefined) {
      this.fail(new Error("the embedder was disposed"));
      this.post({ type: "dispose" });
      // The worker releases its session and exits by itself; terminate only if it does not.
      const timer = setTimeout(() => void this.worker.terminate(), 2000);
      await this.exited;
      clearTimeout(timer);
    }
    await this.exited;
  }

  /** Ends the worker thread abruptly, as a crash would. For tests of the failure path. */
  async terminateWorker(): Promise<void> {
    await this.worker.terminate();
    await this.exited;
  }

  private post(message: ToWorker): void {
    if (this.failure === undefined || message.type === "dispose") this.worker.postMessage(message);
  }

  private settle(id: number): Pending | undefined {
    const pending = this.pending.get(id);
    if (pending === undefined) return undefined;
    this.pending.delete(id);
    pending.cleanup();
    if (this.pending.size === 0) this.worker.unref();
    return pending;
  }

  private fail(error: Error): void {
    if (this.failure !== undefined) return;
    this.failure = error;
    if (error.message !== "the embedder was disposed") this.logger.error({ err: error.message }, "embedding worker failed");
    for (const id of [...this.pending.keys()]) this.settle(id)?.reject(error);
  }

  private onMessage(message: FromWorker): void {
    if (message.type === "failed") {
      this.settle(message.id)?.reject(new Error(message.message));
      return;
    }
    if (message.type !== "vectors") return;
    const pending = this.pending.get(message.id);
    // A cancelled request's in-flight batch still arrives: drop it.
    if (pending === undefined) {
      this.stats.discardedBatches++;
      return;
    }
    const dims = this.ready.dimensions;
    if (message.data.length !== message.indices.length * dims) {
      this.settle(message.id)?.reject(new Error(`the embedding model returned ${message.data.length / message.indices.length}-dimensional vectors after ${dims} at load time`));
      return;
    }
    message.indices.forEach((textIndex, row) => {
      pending.vectors[textIndex] = message.data.slice(row * dims, (row + 1) * dims);
    });
    pending.remaining -= message.indices.length;
    this.stats.texts += message.indices.length;
    this.stats.tokens += message.tokens;
    this.stats.batches++;
    if (pending.remaining === 0) this.settle(message.id)?.resolve(pending.vectors as Float32Array[]);
  }
}
