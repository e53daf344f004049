import { watch, type FSWatcher } from "node:fs";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Llama, LlamaContext, LlamaContextSequence, LlamaModel } from "node-llama-cpp";
import type { Logger } from "../../util/logger.js";
import { ModelUnavailableError, ModelUnloadedError, type ModelStatus } from "../types.js";
import { getLlamaRuntime, type GpuSetting } from "./llamaRuntime.js";
import { estimateMemory, InsufficientMemoryError, planContext, type ContextPlan } from "./memoryGuard.js";
import { nativeGarbage } from "./nativeGarbage.js";

export interface LocalModelOptions {
  modelPath: string;
  gpu: GpuSetting;
  threads: number;
  contextSize: number;
  batchSize: number;
  /**
   * Completion sequences in the context (default 1): each keeps the KV cache of one recently used
   * document, and each costs a KV cache of `contextSize` tokens (12 KiB per token for the 0.5B
   * model: 24 MiB at 2,048).
   */
  sequences?: number;
  /** 0 or keepLoaded: never unload. */
  idleUnloadMs: number;
  keepLoaded: boolean;
  /** Compare the estimated memory need with free memory before loading (default true; CPU only). */
  memoryCheck?: boolean;
  /** Free memory in bytes; injectable for tests (default os.freemem()). */
  freeMemory?: () => number;
}

/** What a loaded model gives its users: one context whose sequences are reserved for completions. */
export interface LoadedModel {
  model: LlamaModel;
  context: LlamaContext;
  /** The first of `sequences`. */
  sequence: LlamaContextSequence;
  /** One per recently used document (LocalModelOptions.sequences); the completion backend assigns them. */
  sequences: LlamaContextSequence[];
  options: LocalModelOptions;
}

/** The completion sequences a context is created with: at least 1, at most 16. */
export function sequenceCount(options: LocalModelOptions): number {
  return Math.max(1, Math.min(16, Math.floor(options.sequences ?? 1)));
}

/**
 * Owns the lifecycle of the local GGUF model: lazy load on first use, idle unload, status with a
 * user-facing message, and reload when the configuration changes. Users hold the model through
 * `use()`, which keeps it from being unloaded while they work.
 */
export class LocalModel {
  private options: LocalModelOptions;
  private loaded: LoadedModel | undefined;
  private loading: Promise<LoadedModel> | undefined;
  private current: ModelStatus;
  private users = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  private failedFileStamp: string | undefined;
  private readonly listeners = new Set<(status: ModelStatus) => void>();
  /** Contexts beside the completion context (chat, next edits), by name, created on first use. */
  private readonly extra = new Map<string, { model: LlamaModel; context: Promise<LlamaContext> }>();
  /** Watches the loaded model's file; a change unloads the model so the next use loads the new file. */
  private fileWatch: { watcher: FSWatcher; stamp: string; changed: boolean } | undefined;
  /** One per request running on the loaded model (inside `use`); an unload aborts them all. */
  private readonly holders = new Set<AbortController>();
  /** Called when the last holder is done, while an unload waits for it. */
  private released: (() => void) | undefined;
  private unloading: Promise<void> | undefined;

  constructor(
    options: LocalModelOptions,
    private readonly logger: Logger,
  ) {
    this.options = { ...options };
    this.current = { state: "unloaded", modelPath: options.modelPath };
  }

  status(): ModelStatus {
    return { ...this.current };
  }

  onStatus(listener: (status: ModelStatus) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Applies new options; a change that affects the loaded model unloads it so the next use reloads. */
  async configure(options: LocalModelOptions): Promise<void> {
    const before = this.options;
    this.options = { ...options };
    const reload =
      before.modelPath !== options.modelPath ||
      before.gpu !== options.gpu ||
      before.threads !== options.threads ||
      before.contextSize !== options.contextSize ||
      before.batchSize !== options.batchSize ||
      sequenceCount(before) !== sequenceCount(options);
    if (reload) {
      this.failedFileStamp = undefined;
      await this.unload();
      this.setStatus({ state: "unloaded", modelPath: options.modelPath });
    } else {
      this.scheduleIdleUnload();
    }
  }

  /**
   * Runs `fn` with the loaded model, loading it first if needed. The model is not disposed while
   * `fn` runs: an unload (the command, a configuration change, the idle timer) first aborts the
   * signal `fn` gets and then waits for `fn` to return. A run cut short that way rejects with
   * `ModelUnloadedError` unless the caller's own signal was aborted too; a request that arrives
   * while the model unloads waits for the unload and then loads the model again.
   */
  async use<T>(signal: AbortSignal, fn: (loaded: LoadedModel, signal: AbortSignal) => Promise<T>): Promise<T> {
    this.users++;
    this.clearIdleTimer();
    try {
      let loaded = await this.load(signal);
      // An unload that began while this request waited for the load would dispose what it got.
      while (this.unloading || this.loaded !== loaded) {
        signal.throwIfAborted();
        loaded = await this.load(signal);
      }
      const holder = new AbortController();
      this.holders.add(holder);
      try {
        const result = await fn(loaded, AbortSignal.any([signal, holder.signal]));
        if (holder.signal.aborted && !signal.aborted) throw holder.signal.reason;
        return result;
      } catch (error) {
        if (holder.signal.aborted && !signal.aborted) throw holder.signal.reason;
        throw error;
      } finally {
        this.holders.delete(holder);
        if (this.holders.size === 0) this.released?.();
      }
    } finally {
      this.users--;
      if (this.users === 0 && this.fileWatch?.changed) void this.unloadChangedFile();
      else this.scheduleIdleUnload();
    }
  }

  /** Loads the model now (the `ifai.loadModel` command and warm-up use this). */
  async load(signal?: AbortSignal): Promise<LoadedModel> {
    // A model being unloaded is never handed out; the next load starts once it is gone.
    while (this.unloading) await this.unloading;
    if (this.loaded) return this.loaded;
    if (this.current.state === "error" && !(await this.fileChangedSinceFailure())) {
      throw new ModelUnavailableError(this.current.message ?? "the local model failed to load");
    }
    if (!this.loading) {
      const options = this.options;
      this.loading = this.doLoad(options).finally(() => {
        this.loading = undefined;
      });
    }
    const loading = this.loading;
    if (!signal) return loading;
    // Loading continues for the next request even when this one is cancelled.
    return new Promise<LoadedModel>((resolve, reject) => {
      const onAbort = (): void => reject(signal.reason ?? new Error("aborted"));
      if (signal.aborted) return onAbort();
      signal.addEventListener("abort", onAbort, { once: true });
      loading.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
    });
  }

  /**
   * A second, small context on the loaded model for chat and code actions, created on first use and
   * disposed with the model: their long prompts then never evict the completion sequence's KV cache.
   */
  chatContext(loaded: LoadedModel, contextSize: number, threads: number = loaded.options.threads): Promise<LlamaContext> {
    return this.extraContext("chat", loaded, contextSize, threads);
  }

  /**
   * A small context of its own for one kind of background work (`name`: "chat", "nextEdit"),
   * created on first use and disposed with the model, so that work never evicts another's KV cache.
   */
  extraContext(name: string, loaded: LoadedModel, contextSize: number, threads: number = loaded.options.threads): Promise<LlamaContext> {
    const held = this.extra.get(name);
    if (held?.model === loaded.model) return held.context;
    const context = loaded.model.createContext({
      contextSize: Math.min(contextSize, loaded.model.trainContextSize || contextSize),
      sequences: 1,
      threads: Math.max(1, Math.min(threads, loaded.options.threads)),
      batchSize: Math.max(loaded.options.batchSize, 512),
    });
    this.extra.set(name, { model: loaded.model, context });
    // A failed creation is retried on the next use rather than cached.
    context.catch(() => {
      if (this.extra.get(name)?.context === context) this.extra.delete(name);
    });
    return context;
  }

  /**
   * Unloads the model. Requests running on it are aborted first (they end within one evaluation
   * step) and waited for, so no native context is disposed under a running evaluation; a second
   * call while one runs shares it.
   */
  unload(): Promise<void> {
    if (!this.unloading) {
      this.unloading = this.doUnload().finally(() => {
        this.unloading = undefined;
      });
    }
    return this.unloading;
  }

  private async doUnload(): Promise<void> {
    this.clearIdleTimer();
    const pending = this.loading;
    if (pending) await pending.catch(() => undefined);
    const loaded = this.loaded;
    this.stopWatching();
    if (!loaded) return;
    const reason = new ModelUnloadedError(`the local model ${path.basename(loaded.options.modelPath)} was unloaded while this request ran; run it again to reload the model`);
    for (const holder of this.holders) holder.abort(reason);
    if (this.holders.size > 0) {
      await new Promise<void>((resolve) => (this.released = resolve));
      this.released = undefined;
    }
    this.loaded = undefined;
    const extra = [...this.extra.values()];
    this.extra.clear();
    for (const held of extra) await held.context.then((c) => c.dispose()).catch(() => undefined);
    try {
      await loaded.context.dispose();
      await loaded.model.dispose();
    } catch (error) {
      this.logger.warn({ err: error }, "error while unloading the model");
    }
    this.logger.info({ modelPath: loaded.options.modelPath }, "model unloaded");
    if (this.current.state === "ready") this.setStatus({ state: "unloaded", modelPath: this.options.modelPath });
  }

  async dispose(): Promise<void> {
    await this.unload();
    this.listeners.clear();
  }

  /** Records the speed of the last generation so status lines can show it. */
  reportSpeed(tokensPerSecond: number): void {
    if (this.current.state !== "ready") return;
    this.setStatus({ ...this.current, lastTokensPerSecond: Math.round(tokensPerSecond * 10) / 10 });
  }

  private async doLoad(options: LocalModelOptions): Promise<LoadedModel> {
    const started = performance.now();
    this.setStatus({ state: "loading", modelPath: options.modelPath });
    try {
      await checkGguf(options.modelPath);
      const llama = await getLlamaRuntime(options.gpu, options.threads, this.logger);
      const plan = await this.planMemory(llama, options);
      const stamp = await fileStamp(options.modelPath);
      const model = await llama.loadModel({
        modelPath: options.modelPath,
        gpuLayers: llama.gpu === false ? 0 : "auto",
        // The weights are read into the process's own memory instead of being mapped from the
        // file: a mapped file truncated in place (`cp other.gguf model.gguf`) kills the process
        // with SIGBUS at the next access. Same resident size, ~0.2 s more per load; see
        // ARCHITECTURE.md, "Replacing the model file".
        useMmap: false,
      });
      let context: LlamaContext;
      try {
        context = await model.createContext({
          contextSize: Math.min(plan.contextSize, model.trainContextSize || plan.contextSize),
          sequences: sequenceCount(options),
          threads: options.threads,
          // Completions evaluate prompts in model.batchSize steps, so a larger batch would only
          // size llama.cpp's compute buffers for decodes that never come.
          batchSize: options.batchSize,
        });
      } catch (error) {
        await model.dispose();
        throw error;
      }
      const sequences = Array.from({ length: sequenceCount(options) }, () => context.getSequence());
      const loaded: LoadedModel = { model, context, sequence: sequences[0]!, sequences, options };
      const loadMs = Math.round(performance.now() - started);
      // A configuration change during the load is handled by configure(), which waits for this
      // load to finish and then unloads the stale model.
      this.loaded = loaded;
      this.failedFileStamp = undefined;
      this.watchFile(options.modelPath, stamp);
      this.setStatus({
        state: "ready",
        modelPath: options.modelPath,
        gpu: llama.gpu === false ? "cpu" : llama.gpu,
        threads: options.threads,
        loadMs,
        contextSize: context.contextSize,
        ...(plan.notice ? { notice: plan.notice } : {}),
      });
      if (plan.notice) this.logger.warn({ modelPath: options.modelPath }, plan.notice);
      this.logger.info({ modelPath: options.modelPath, loadMs, gpu: llama.gpu, threads: options.threads }, "model loaded");
      nativeGarbage.collectSoon();
      return loaded;
    } catch (error) {
      const message = describeLoadError(options.modelPath, error);
      this.failedFileStamp = await fileStamp(options.modelPath);
      this.setStatus({ state: "error", modelPath: options.modelPath, message });
      this.logger.error({ err: error, modelPath: options.modelPath }, "model failed to load");
      throw new ModelUnavailableError(message);
    }
  }

  /**
   * The memory guard runs on the CPU backend only: with a GPU, node-llama-cpp's "auto" layer
   * placement already fits the weights to free VRAM. It reads only the GGUF header (a few ms).
   */
  private async planMemory(llama: Llama, options: LocalModelOptions): Promise<ContextPlan> {
    if (options.memoryCheck === false || llama.gpu !== false) return { contextSize: options.contextSize };
    let estimate;
    try {
      estimate = await estimateMemory(llama, options.modelPath, Math.max(options.batchSize, 512), sequenceCount(options));
    } catch (error) {
      // An estimate that fails (an architecture the insights do not know) must not block a model llama.cpp can load.
      this.logger.warn({ err: error, modelPath: options.modelPath }, "memory estimate failed; loading without the memory check");
      return { contextSize: options.contextSize };
    }
    const wanted = Math.min(options.contextSize, estimate.trainContextSize ?? options.contextSize);
    const free = options.freeMemory ? options.freeMemory() : os.freemem();
    return planContext(wanted, estimate, free, path.basename(options.modelPath));
  }

  /** A failed load is retried only once the file appears or changes, so a bad path costs one stat per request. */
  private async fileChangedSinceFailure(): Promise<boolean> {
    return (await fileStamp(this.options.modelPath)) !== this.failedFileStamp;
  }

  /**
   * Watches the folder of the loaded file (a replacement by rename gives the name a new inode, so
   * the file itself cannot be watched) and compares inode, size and modification time on each
   * event for its name. The weights are in memory, so the loaded model keeps working; it is unloaded as soon
   * as no request uses it, and the next use loads whatever the file then holds.
   */
  private watchFile(file: string, stamp: string): void {
    this.stopWatching();
    const name = path.basename(file);
    let watcher: FSWatcher;
    try {
      watcher = watch(path.dirname(file), { persistent: false }, (_event, changed) => {
        if (changed !== null && changed !== name) return;
        void this.checkFile(watched, file);
      });
    } catch (error) {
      this.logger.warn({ err: error, modelPath: file }, "cannot watch the model file; a replaced file is noticed only after the next unload");
      return;
    }
    watcher.on("error", (error) => this.logger.warn({ err: error, modelPath: file }, "watching the model file failed"));
    const watched = { watcher, stamp, changed: false };
    this.fileWatch = watched;
    // A change during the load itself came before the watcher: compare once now.
    void this.checkFile(watched, file);
  }

  private async checkFile(watched: NonNullable<LocalModel["fileWatch"]>, file: string): Promise<void> {
    if (this.fileWatch !== watched || watched.changed) return;
    const now = await fileStamp(file);
    if (this.fileWatch !== watched || watched.changed || now === watched.stamp) return;
    watched.changed = true;
    this.logger.warn({ modelPath: file }, "the model file changed on disk; the model is unloaded and loaded again on next use");
    if (this.users === 0) await this.unloadChangedFile();
  }

  private async unloadChangedFile(): Promise<void> {
    if (!this.fileWatch?.changed) return;
    const modelPath = this.options.modelPath;
    // unload() lets go of the model synchronously when no load is pending, so the status set
    // right after it is the one a request that loads the file again replaces.
    const unloading = this.unload();
    this.setStatus({ state: "unloaded", modelPath, message: `The model file ${modelPath} changed on disk; the model was unloaded and is loaded again on next use.` });
    await unloading;
  }

  private stopWatching(): void {
    this.fileWatch?.watcher.close();
    this.fileWatch = undefined;
  }

  private scheduleIdleUnload(): void {
    this.clearIdleTimer();
    const { idleUnloadMs, keepLoaded } = this.options;
    if (keepLoaded || idleUnloadMs <= 0 || this.users > 0 || !this.loaded) return;
    this.idleTimer = setTimeout(() => {
      if (this.users === 0) void this.unload();
    }, idleUnloadMs);
    this.idleTimer.unref();
  }

  private clearIdleTimer(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }

  private setStatus(status: ModelStatus): void {
    this.current = status;
    for (const listener of this.listeners) listener({ ...status });
  }
}

async function fileStamp(file: string): Promise<string> {
  try {
    const st = await fs.stat(file);
    return `${st.ino}:${st.size}:${st.mtimeMs}`;
  } catch {
    return "missing";
  }
}

/** Rejects early, with a clear reason, a path that is missing, unreadable or not a GGUF file. */
async function checkGguf(file: string): Promise<void> {
  let handle;
  try {
    if ((await fs.stat(file)).isDirectory()) throw Object.assign(new Error("is a directory"), { code: "EISDIR" });
    handle = await fs.open(file, "r");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new ModelFileError(`no model file at ${file}`);
    if (code === "EACCES" || code === "EPERM") throw new ModelFileError(`the model file ${file} is not readable (permission denied)`);
    if (code === "EISDIR") throw new ModelFileError(`${file} is a folder, not a GGUF file`);
    throw new ModelFileError(`the model file ${file} cannot be opened (${code ?? String(error)})`);
  }
  try {
    const magic = Buffer.alloc(4);
    const { bytesRead } = await handle.read(magic, 0, 4, 0);
    if (bytesRead < 4 || magic.toString("latin1") !== "GGUF") throw new ModelFileError(`${file} is not a GGUF model file`);
  } finally {
    await handle.close();
  }
}

class ModelFileError extends Error {}

function describeLoadError(file: string, error: unknown): string {
  const fix =
    'Set "model.path" (initializationOptions or workspace settings "ifai.model.path") to a Qwen2.5-Coder GGUF file, or place one at the default path; see docs/models.md.';
  if (error instanceof ModelFileError) return `Local model unavailable: ${error.message}. ${fix}`;
  if (error instanceof InsufficientMemoryError) return error.message;
  const detail = error instanceof Error ? error.message : String(error);
  return `Local model ${file} failed to load: ${detail}. ${fix}`;
}
