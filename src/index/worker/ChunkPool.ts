import fs from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { Logger } from "../../util/logger.js";
import { chunkFileBytes, chunkFileText, type ChunkOptions } from "../chunking/chunkFile.js";
import type { PoolOutcome, WorkerRequest, WorkerResponse } from "./protocol.js";

export interface ChunkPoolOptions {
  /** Worker threads; 0 runs in the calling thread (tests, or when the worker script is missing). */
  size: number;
  /** Shared busy flag from ForegroundActivity: workers pause while it is set. */
  flag?: Int32Array;
  chunkOptions?: Omit<ChunkOptions, "checkpoint">;
  logger: Logger;
}

interface Pending {
  resolve: (outcome: PoolOutcome & { bytes?: number }) => void;
  reject: (error: Error) => void;
  request: WorkerRequest;
}

interface Slot {
  worker: Worker;
  pending: Map<number, Pending>;
  /** Ended on purpose (idle or disposed): its exit is not a crash. */
  retired?: boolean;
}

/** Requests in flight per worker: one being worked on, one queued, so a worker never idles between messages. */
const PER_WORKER = 2;
/** Workers idle this long end, giving back their memory (grammar heaps); they start again on demand. */
const IDLE_MS = 60_000;

/**
 * Chunking in worker threads. A worker that dies (a grammar crashing on odd input) fails only the
 * files it had and is replaced; the files are reported unreadable and the index goes on.
 */
export class ChunkPool {
  private readonly slots: Slot[] = [];
  private nextId = 1;
  private readonly queue: Array<{ request: WorkerRequest; pending: Pending }> = [];
  private disposed = false;
  private idleTimer: NodeJS.Timeout | undefined;
  readonly size: number;

  constructor(private readonly options: ChunkPoolOptions) {
    let size = options.size;
    const script = workerScript();
    if (size > 0 && !fs.existsSync(script)) {
      options.logger.warn({ script: fileURLToPath(script) }, "index worker script missing (not built?); chunking on the main thread");
      size = 0;
    }
    this.size = size;
  }

  /** Running worker threads (0 when idle). */
  get running(): number {
    return this.slots.length;
  }

  /** Reads and chunks a file. */
  chunkFile(abs: string, rel: string, maxBytes: number): Promise<PoolOutcome & { bytes?: number }> {
    if (this.size === 0) return inline(() => readAndChunk(abs, rel, maxBytes, this.options.chunkOptions));
    return this.submit({ id: this.nextId++, kind: "file", abs, rel, maxBytes });
  }

  /** Chunks text that is not on disk (an unsaved editor buffer). */
  chunkText(rel: string, text: string): Promise<PoolOutcome> {
    if (this.size === 0) return inline(() => chunkFileText(rel, text, this.options.chunkOptions));
    return this.submit({ id: this.nextId++, kind: "text", rel, text });
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    for (const item of this.queue.splice(0)) item.pending.reject(new Error("chunk pool disposed"));
    await this.retireAll();
  }

  private async retireAll(): Promise<void> {
    const slots = this.slots.splice(0);
    for (const s of slots) s.retired = true;
    await Promise.all(slots.map((s) => s.worker.terminate().catch(() => undefined)));
  }

  private submit(request: WorkerRequest): Promise<PoolOutcome & { bytes?: number }> {
    if (this.disposed) return Promise.reject(new Error("chunk pool disposed"));
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    while (this.slots.length < this.size) this.slots.push(this.spawn());
    return new Promise((resolve, reject) => {
      this.queue.push({ request, pending: { resolve, reject, request } });
      this.dispatch();
    });
  }

  private scheduleIdle(): void {
    if (this.queue.length > 0 || this.slots.some((s) => s.pending.size > 0) || this.disposed) return;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      if (this.queue.length === 0 && this.slots.every((s) => s.pending.size === 0)) void this.retireAll();
    }, IDLE_MS);
    this.idleTimer.unref?.();
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      const slot = this.slots.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
      if (slot.pending.size >= PER_WORKER) return;
      const item = this.queue.shift()!;
      slot.pending.set(item.request.id, item.pending);
      slot.worker.postMessage(item.request);
    }
  }

  private spawn(): Slot {
    const worker = new Worker(workerScript(), {
      workerData: { flag: this.options.flag, options: this.options.chunkOptions },
      // Bounded heaps: a pathological file kills the worker (the file is skipped, a new worker starts), not the server.
      resourceLimits: { maxOldGenerationSizeMb: 256, maxYoungGenerationSizeMb: 16 },
    });
    worker.unref();
    const slot: Slot = { worker, pending: new Map() };
    worker.on("message", (response: WorkerResponse) => {
      const pending = slot.pending.get(response.id);
      if (!pending) return;
      slot.pending.delete(response.id);
      if ("error" in response) {
        this.options.logger.warn({ path: requestPath(pending.request), error: response.error }, "chunking failed; file skipped");
        pending.resolve({ status: "unreadable", message: `chunking failed: ${response.error.split("\n")[0]}` });
      } else {
        pending.resolve({ ...response.outcome, ...(response.bytes !== undefined ? { bytes: response.bytes } : {}) });
      }
      this.dispatch();
      this.scheduleIdle();
    });
    const onDeath = (error?: unknown): void => {
      if (slot.retired) return;
      const index = this.slots.indexOf(slot);
      if (index === -1) return;
      for (const pending of slot.pending.values()) {
        this.options.logger.warn({ path: requestPath(pending.request), err: error }, "index worker stopped while chunking this file; file skipped");
        pending.resolve({ status: "unreadable", message: "the chunking worker stopped on this file" });
      }
      slot.pending.clear();
      if (this.disposed) return;
      this.slots[index] = this.spawn();
      this.dispatch();
    };
    worker.on("error", onDeath);
    worker.on("exit", (code) => {
      if (!this.disposed && !slot.retired) onDeath(new Error(`worker exited with code ${code}`));
    });
    return slot;
  }
}

function requestPath(request: WorkerRequest): string {
  return request.rel;
}

async function readAndChunk(abs: string, rel: string, maxBytes: number, options: ChunkOptions | undefined): Promise<PoolOutcome & { bytes?: number }> {
  let bytes: Buffer;
  try {
    bytes = await fs.promises.readFile(abs);
  } catch (error) {
    return { status: "unreadable", message: error instanceof Error ? error.message : String(error) };
  }
  if (bytes.length > maxBytes) return { status: "unreadable", message: `larger than ${maxBytes} bytes` };
  return { ...(await chunkFileBytes(rel, bytes, options)), bytes: bytes.length };
}

async function inline<T>(work: () => Promise<T>): Promise<T> {
  // Let pending I/O run between files when chunking on the main thread.
  await new Promise<void>((resolve) => setImmediate(resolve));
  return work();
}

/**
 * The compiled worker script. Running from sources (vitest), this module is a .ts file: the
 * worker comes from the build in dist/, which the test setup checks is current.
 */
function workerScript(): URL {
  const here = import.meta.url;
  if (here.endsWith(".ts")) return new URL(here.replace(/\/src\/index\/worker\/[^/]+\.ts$/, "/dist/index/worker/chunkWorker.js"));
  return new URL("./chunkWorker.js", here);
}
