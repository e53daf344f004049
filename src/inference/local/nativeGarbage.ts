import type { LlamaModel } from "node-llama-cpp";
import v8 from "node:v8";
import vm from "node:vm";
import { RunCount } from "../../util/RunCount.js";

/**
 * Native memory that only a V8 garbage collection frees, and a collection run when it is worth it.
 *
 * node-llama-cpp creates a sampler for every evaluation call, prompt steps included, and each
 * sampler allocates a vocabulary-sized candidate buffer in C++ (n_vocab × 12 bytes: 1.8 MB for
 * Qwen's 151,936 tokens). Disposing the sampler does not free that buffer; only V8 finalizing the
 * sampler's JS object does. V8 does not know the buffer exists, and the server's JS heap grows
 * slowly, so full collections are rare: measured, 120 evaluations held 206 MB until one ran, and
 * the completion trace grew the server's native heap by ~100 MB this way. So generations report
 * how many evaluations they made, and once enough memory waits for a collection, a full
 * collection runs when the model has been idle for a moment (or at once past a hard limit).
 */

/** Bytes node-llama-cpp's sampler allocates per evaluation call: one llama_token_data (id, logit, p) per token. */
const CANDIDATE_BYTES = 12;
/** A collection is worth it from this much pending memory, once generation pauses. */
const IDLE_THRESHOLD = 24 * 2 ** 20;
/** Past this much, collect right after the generation that crossed it, pause or not. */
const HARD_LIMIT = 160 * 2 ** 20;
/** How long the model must be idle before a collection runs: a person typing pauses this long often. */
const IDLE_MS = 400;

/** V8's `gc` from --expose-gc; its options pick a major collection and, with "last-resort", one that also shrinks the heap. */
type Collect = (options?: { type: "major"; execution: "sync"; flavor: "regular" | "last-resort" }) => void;

export class NativeGarbage {
  private pending = 0;
  /** Generations and prefills running now: an idle collection waits for them to end. */
  private readonly work = new RunCount();
  /** Whether the next collection should also give V8's emptied heap pages back (slower: ~50 ms). */
  private shrink = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly vocab = new WeakMap<LlamaModel, number>();

  constructor(
    private readonly collect: Collect | null = exposedGc(),
    private readonly idleMs = IDLE_MS,
  ) {}

  /**
   * Marks model work as running until the returned function is called. A collection due at a
   * pause waits while any runs: a full collection stops the main thread for 40–60 ms on the
   * server's heap, and the pause timer alone (set when the last generation ended) fired in the
   * middle of the next, longer one.
   */
  working(): () => void {
    return this.work.begin();
  }

  /** Records `evaluations` sampler-creating calls on `model` that just finished. */
  noteEvaluations(model: LlamaModel, evaluations: number): void {
    if (evaluations <= 0) return;
    this.add(evaluations * this.vocabSize(model) * CANDIDATE_BYTES);
  }

  /**
   * Asks for a collection at the next pause whatever is pending: after a model load, whose GGUF
   * metadata parsing (the whole vocabulary, in JS, once by the memory guard and once by
   * node-llama-cpp) leaves V8's heap ~130 MB larger than what stays alive.
   */
  collectSoon(): void {
    this.shrink = true;
    this.add(IDLE_THRESHOLD);
  }

  private add(bytes: number): void {
    if (!this.collect) return;
    this.pending += bytes;
    if (this.pending >= HARD_LIMIT) {
      this.run();
      return;
    }
    if (this.pending < IDLE_THRESHOLD) return;
    // Each new generation postpones the collection, so it lands in a pause in typing.
    this.schedule();
  }

  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => (this.work.running > 0 ? this.schedule() : this.run()), this.idleMs);
    this.timer.unref();
  }

  /** Memory waiting for a collection, bytes (for tests and diagnostics). */
  pendingBytes(): number {
    return this.pending;
  }

  private run(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.pending = 0;
    const flavor = this.shrink ? "last-resort" : "regular";
    this.shrink = false;
    this.collect?.({ type: "major", execution: "sync", flavor });
  }

  private vocabSize(model: LlamaModel): number {
    let size = this.vocab.get(model);
    if (size === undefined) {
      const tokens = (model.fileInfo.metadata as { tokenizer?: { ggml?: { tokens?: unknown } } }).tokenizer?.ggml?.tokens;
      size = Array.isArray(tokens) && tokens.length > 0 ? tokens.length : 32_000;
      this.vocab.set(model, size);
    }
    return size;
  }
}

let gc: Collect | null | undefined;

/**
 * V8's full collector: `globalThis.gc` when node runs with --expose-gc, else the same function
 * taken from a fresh context with the flag switched on just for that (the flag only decides
 * whether new contexts get a `gc` global; it is switched off again at once). Null if neither works.
 */
export function exposedGc(): Collect | null {
  if (gc !== undefined) return gc;
  gc = null;
  const global = (globalThis as { gc?: unknown }).gc;
  if (typeof global === "function") return (gc = global as Collect);
  try {
    v8.setFlagsFromString("--expose-gc");
    const fn: unknown = vm.runInNewContext("gc");
    if (typeof fn === "function") gc = fn as Collect;
  } catch {
    // A runtime that refuses the flag keeps its own collection schedule.
  } finally {
    v8.setFlagsFromString("--no-expose-gc");
  }
  return gc;
}

/** The process-wide instance the local backends report to. */
export const nativeGarbage = new NativeGarbage();
