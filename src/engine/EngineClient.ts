/**
 * A language server's side of the shared engine: the same completion, chat and model-control
 * interfaces as the in-process model, served by the engine process over its socket. The engine is
 * started on the first request that needs it; when it goes away (it crashed, or was killed), the
 * requests in flight fail once with ModelUnavailableError and the next request starts it again.
 */
import net from "node:net";
import path from "node:path";
import type { LlamaModel } from "node-llama-cpp";
import { cacheDir } from "../config/paths.js";
import { getLlamaRuntime } from "../inference/local/llamaRuntime.js";
import { cachedTokenCounter } from "../inference/tokenizer/counterCache.js";
import {
  ModelUnavailableError,
  ModelUnloadedError,
  type ChatBackend,
  type ChatRequest,
  type ChatResult,
  type CompletionBackend,
  type GenerateRequest,
  type GenerateResult,
  type ModelControl,
  type ModelStatus,
  type PrefillRequest,
  type PrefillResult,
  type Tokenizer,
} from "../inference/types.js";
import type { Logger } from "../util/logger.js";
import { encode, LineReader, WIRE_VERSION, type ClientMessage, type EngineInfo, type EngineKey, type EngineMessage } from "./wire.js";

export interface EngineClientOptions {
  socketPath: string;
  key: EngineKey;
  logger: Logger;
  /** Names this server in the engine's log (editor and process id). */
  label: string;
  /** Starts the engine process and resolves once it listens (or another one already does). */
  start: () => Promise<void>;
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  onText?: (text: string) => boolean | void;
  onProgress?: (evaluated: number, total: number) => void;
}

type Request = ClientMessage extends infer M ? (M extends { id: number } ? Omit<M, "id"> : never) : never;

export class EngineClient implements CompletionBackend, ChatBackend {
  private key: EngineKey;
  private socket: net.Socket | undefined;
  private connecting: Promise<net.Socket> | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private current: ModelStatus;
  private engine: EngineInfo | undefined;
  private readonly listeners = new Set<(status: ModelStatus) => void>();
  /**
   * Token counting here, for prompt windows (synchronous, every keystroke): a JavaScript BPE
   * counter built from the GGUF's merges where it reproduces the model's tokenizer (Qwen), else
   * llama.cpp's vocabulary loaded without weights.
   */
  private vocab: { modelPath: string; counter: Promise<Tokenizer>; dispose?: () => void } | undefined;
  private disposed = false;
  /** As last reported by the engine with a generate or prefill result. */
  private slots: string[] = [];
  /** focus() came before a connection: say it once connected. */
  private focusOnConnect = false;

  /** The model as the server's commands and status line see it. */
  readonly model: ModelControl = {
    status: () => this.current,
    onStatus: (listener) => {
      this.listeners.add(listener);
      return () => this.listeners.delete(listener);
    },
    load: async (signal) => {
      this.setStatus((await this.call({ t: "load" }, signal)) as ModelStatus);
    },
    unload: async () => {
      if (!this.socket) return;
      this.setStatus((await this.call({ t: "unload" })) as ModelStatus);
    },
  };

  constructor(private readonly options: EngineClientOptions) {
    this.key = options.key;
    this.current = { state: "unloaded", modelPath: options.key.model.modelPath };
  }

  status(): ModelStatus {
    return this.current;
  }

  /** The engine process as last reported (pid, connected servers, models held). */
  info(): EngineInfo | undefined {
    return this.engine;
  }

  async tokenizer(signal: AbortSignal): Promise<Tokenizer> {
    // The engine loads the model and checks its fill-in-the-middle tokens; the count is local.
    await this.call({ t: "tokenizer" }, signal);
    return this.vocabulary();
  }

  /** Next edits, on the engine's next-edit context. */
  readonly nextEdit: CompletionBackend = {
    status: () => this.status(),
    tokenizer: (signal) => this.tokenizer(signal),
    generate: (request, signal) => this.generateFor("nextEdit", request, signal),
  };

  generate(request: GenerateRequest, signal: AbortSignal): Promise<GenerateResult> {
    return this.generateFor("completion", request, signal);
  }

  private async generateFor(task: "completion" | "nextEdit", request: GenerateRequest, signal: AbortSignal): Promise<GenerateResult> {
    const started = performance.now();
    try {
      return (await this.call(
        {
          t: "generate",
          request: {
            ...(task === "nextEdit" ? { task } : {}),
            ...(request.copySource !== undefined ? { copySource: request.copySource } : {}),
            prompt: request.prompt,
            ...(request.slot !== undefined ? { slot: request.slot } : {}),
            maxTokens: request.maxTokens,
            maxTimeMs: request.maxTimeMs,
            temperature: request.temperature,
            stopCallback: request.shouldStop !== undefined,
            progress: request.onPromptProgress !== undefined,
          },
        },
        signal,
        { ...(request.shouldStop ? { onText: request.shouldStop } : {}), ...(request.onPromptProgress ? { onProgress: request.onPromptProgress } : {}) },
      )) as GenerateResult;
    } catch (error) {
      // As in process: a completion cut short by an unload is as good as superseded.
      if (error instanceof ModelUnloadedError || signal.aborted) {
        return { text: "", stopReason: "aborted", promptTokens: 0, reusedTokens: 0, evaluatedTokens: 0, generatedTokens: 0, totalMs: performance.now() - started };
      }
      throw error;
    }
  }

  async prefill(request: PrefillRequest, signal: AbortSignal): Promise<PrefillResult> {
    // Background work never starts an engine: like the in-process model, it never loads one.
    if (!this.socket) return { state: "skipped", promptTokens: 0, reusedTokens: 0, evaluatedTokens: 0, totalMs: 0 };
    try {
      return (await this.call(
        { t: "prefill", request: { prompt: request.prompt, ...(request.slot !== undefined ? { slot: request.slot } : {}), progress: request.onProgress !== undefined } },
        signal,
        request.onProgress ? { onProgress: request.onProgress } : {},
      )) as PrefillResult;
    } catch (error) {
      if (error instanceof ModelUnavailableError) return { state: "skipped", promptTokens: 0, reusedTokens: 0, evaluatedTokens: 0, totalMs: 0 };
      throw error;
    }
  }

  /** This window's documents whose KV state the engine holds, most recently used first. */
  warmSlots(): string[] {
    return this.slots;
  }

  async chat(request: ChatRequest, signal: AbortSignal): Promise<ChatResult> {
    const { onText, ...rest } = request;
    return (await this.call({ t: "chat", request: { ...rest, stream: onText !== undefined } }, signal, onText ? { onText } : {})) as ChatResult;
  }

  /**
   * The user brought this window to the front: the engine runs its completions before other
   * windows'. Told on connecting when there is no connection yet; never starts the engine.
   */
  focus(): void {
    if (this.socket) this.send({ t: "focus" });
    else this.focusOnConnect = true;
  }

  /** New model settings: the engine moves this window to the model for them (shared when they agree). */
  configure(key: EngineKey): void {
    if (JSON.stringify(key) === JSON.stringify(this.key)) return;
    if (key.model.modelPath !== this.key.model.modelPath) this.dropVocabulary();
    this.key = key;
    if (this.socket) this.send({ t: "configure", key });
    else this.setStatus({ state: "unloaded", modelPath: key.model.modelPath });
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    this.socket?.end();
    this.dropVocabulary();
  }

  private async call(request: Request, signal?: AbortSignal, handlers: Pick<Pending, "onText" | "onProgress"> = {}): Promise<unknown> {
    if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new Error("cancelled");
    await this.connection();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      // The engine answers a cancel with the request's own end (an aborted result), so the
      // promise settles from the engine's answer, not from here.
      const onAbort = (): void => this.send({ t: "cancel", id });
      signal?.addEventListener("abort", onAbort, { once: true });
      const settle = (): void => {
        signal?.removeEventListener("abort", onAbort);
        this.pending.delete(id);
      };
      this.pending.set(id, {
        resolve: (value) => {
          settle();
          resolve(value);
        },
        reject: (error) => {
          settle();
          reject(error);
        },
        ...handlers,
      });
      this.send({ ...request, id } as ClientMessage);
      if (signal?.aborted) onAbort();
    });
  }

  private connection(): Promise<net.Socket> {
    if (this.disposed) return Promise.reject(new ModelUnavailableError("the server is shutting down"));
    if (this.socket) return Promise.resolve(this.socket);
    this.connecting ??= this.open().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async open(): Promise<net.Socket> {
    let socket: net.Socket;
    try {
      socket = await connect(this.options.socketPath).catch(async (error: NodeJS.ErrnoException) => {
        if (error.code !== "ENOENT" && error.code !== "ECONNREFUSED") throw error;
        await this.options.start();
        return connect(this.options.socketPath);
      });
    } catch (error) {
      throw new ModelUnavailableError(
        `the shared engine could not be started (${(error as Error).message}); see its log, or set engine.mode to "in-process" to run the model inside each server`,
      );
    }
    const welcome = await new Promise<Extract<EngineMessage, { t: "welcome" }>>((resolve, reject) => {
      const reader = new LineReader(
        (message) => this.receive(message as EngineMessage, resolve, reject),
        (reason) => {
          this.options.logger.error({ reason }, "the shared engine sent something unreadable; disconnecting");
          socket.destroy();
        },
      );
      socket.on("data", (chunk: Buffer) => reader.push(chunk));
      socket.on("error", (error) => this.options.logger.warn({ err: error }, "shared engine connection error"));
      socket.on("close", () => {
        reject(new Error("the engine closed the connection"));
        this.lost(socket);
      });
      socket.write(encode({ t: "hello", version: WIRE_VERSION, key: this.key, label: this.options.label }));
    }).catch((error: Error) => {
      socket.destroy();
      throw new ModelUnavailableError(`the shared engine refused this server: ${error.message}`);
    });
    this.socket = socket;
    this.engine = welcome.engine;
    if (this.focusOnConnect) {
      this.focusOnConnect = false;
      this.send({ t: "focus" });
    }
    this.options.logger.info({ engine: welcome.engine }, "connected to the shared engine");
    this.setStatus(welcome.status);
    return socket;
  }

  private receive(message: EngineMessage, welcomed: (m: Extract<EngineMessage, { t: "welcome" }>) => void, refused: (error: Error) => void): void {
    switch (message.t) {
      case "welcome":
        welcomed(message);
        return;
      case "refused":
        refused(new Error(message.reason));
        return;
      case "status":
        this.engine = message.engine;
        this.setStatus(message.status);
        return;
      case "text": {
        const pending = this.pending.get(message.id);
        let stop = false;
        try {
          stop = pending?.onText?.(message.text) === true;
        } catch (error) {
          this.options.logger.warn({ err: error }, "a text callback failed; stopping that generation");
          stop = true;
        }
        if (message.verdict) this.send({ t: "verdict", id: message.id, stop: stop || !pending });
        return;
      }
      case "progress":
        this.pending.get(message.id)?.onProgress?.(message.evaluated, message.total);
        return;
      case "done":
        if (message.warmSlots) this.slots = message.warmSlots;
        this.pending.get(message.id)?.resolve(message.result ?? null);
        return;
      case "failed": {
        const error =
          message.kind === "unloaded" ? new ModelUnloadedError(message.message) : message.kind === "unavailable" ? new ModelUnavailableError(message.message) : new Error(message.message);
        this.pending.get(message.id)?.reject(error);
        return;
      }
    }
  }

  /** The engine went away: what was running fails once, and the next request starts it again. */
  private lost(socket: net.Socket): void {
    if (this.socket !== socket) return;
    this.socket = undefined;
    const gone = new ModelUnavailableError("the shared engine stopped while this request ran; the next request starts it again");
    for (const pending of [...this.pending.values()]) pending.reject(gone);
    if (!this.disposed) {
      this.options.logger.warn("the shared engine went away; it is started again on the next request");
      this.setStatus({ state: "unloaded", modelPath: this.key.model.modelPath, message: "the shared engine stopped; it starts again on the next request" });
    }
  }

  private send(message: ClientMessage): void {
    if (this.socket && !this.socket.destroyed) this.socket.write(encode(message));
  }

  private setStatus(status: ModelStatus): void {
    this.current = status;
    for (const listener of this.listeners) listener(status);
  }

  private vocabulary(): Promise<Tokenizer> {
    const modelPath = this.key.model.modelPath;
    if (this.vocab?.modelPath !== modelPath) {
      this.dropVocabulary();
      const entry: NonNullable<typeof this.vocab> = { modelPath, counter: Promise.resolve({ countTokens: () => 0 }) };
      entry.counter = (async (): Promise<Tokenizer> => {
        // Stored beside the other caches: the first window builds it, the others read 4 MB.
        const counter = await cachedTokenCounter(modelPath, path.join(cacheDir(), "tokenizers"));
        if (counter) return counter;
        this.options.logger.info({ modelPath }, "this model's tokenizer is counted with llama.cpp's vocabulary (no JavaScript counter for it)");
        const llama = await getLlamaRuntime("cpu", 1, this.options.logger);
        const model: LlamaModel = await llama.loadModel({ modelPath, vocabOnly: true, useMmap: false });
        entry.dispose = () => void model.dispose().catch(() => undefined);
        return { countTokens: (text) => (text ? model.tokenize(text, false).length : 0) };
      })();
      this.vocab = entry;
      entry.counter.catch(() => {
        if (this.vocab === entry) this.vocab = undefined;
      });
    }
    return this.vocab.counter;
  }

  private dropVocabulary(): void {
    const held = this.vocab;
    this.vocab = undefined;
    void held?.counter.then(() => held.dispose?.()).catch(() => undefined);
  }
}

function connect(socketPath: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath);
    socket.once("connect", () => {
      socket.off("error", reject);
      resolve(socket);
    });
    socket.once("error", reject);
  });
}
