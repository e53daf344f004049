/**
 * The shared engine process: one per user per machine, started on demand by the first language
 * server that needs it and gone a little after the last one leaves. It holds each model once, with
 * one thread budget, for every editor window; windows whose model settings agree share one model
 * (and its completion and chat locks, so their requests queue instead of oversubscribing the CPU).
 */
import fs from "node:fs";
import net from "node:net";
import { LocalChatBackend } from "../inference/local/LocalChatBackend.js";
import { LocalCompletionBackend } from "../inference/local/LocalCompletionBackend.js";
import { LocalModel } from "../inference/local/LocalModel.js";
import { LocalNextEditBackend } from "../inference/local/LocalNextEditBackend.js";
import { ModelUnavailableError, ModelUnloadedError, type GenerateRequest, type ModelStatus } from "../inference/types.js";
import type { Logger } from "../util/logger.js";
import { encode, LineReader, WIRE_VERSION, type ClientMessage, type EngineInfo, type EngineKey, type EngineMessage, type ErrorKind } from "./wire.js";
import { validClientMessage } from "./validate.js";

export interface EngineHostOptions {
  socketPath: string;
  logger: Logger;
  /** How long the process (and a model no window uses) stays after its last client left. */
  idleMs: number;
  /** Called once the process has had no client for `idleMs`. */
  onIdle: () => void;
}

/** One model and its backends, shared by the sessions whose settings agree. */
interface Hosted {
  key: string;
  model: LocalModel;
  backend: LocalCompletionBackend;
  chat: LocalChatBackend;
  nextEdit: LocalNextEditBackend;
  sessions: Set<Session>;
  stopStatus: () => void;
  disposeTimer?: NodeJS.Timeout;
}

interface Running {
  controller: AbortController;
  /** Background work (a prefill), which a completion asked for in any window stops at once. */
  background: boolean;
  /** The answer to the text last sent, while generation waits for the server's `shouldStop`. */
  verdict?: (stop: boolean) => void;
}

export class EngineHost {
  private readonly server = net.createServer((socket) => this.accept(socket));
  private readonly hosted = new Map<string, Hosted>();
  private readonly sessions = new Set<Session>();
  private idleTimer: NodeJS.Timeout | undefined;
  /** The window the user last brought to the front (`focus`); its completions go first. */
  private focused: Session | undefined;

  constructor(private readonly options: EngineHostOptions) {}

  /**
   * Listens on the socket. Resolves "already-running" when a live engine answers there (this
   * process is then not needed); a socket file nobody answers is a crashed engine's and is replaced.
   */
  async start(): Promise<"listening" | "already-running"> {
    const { socketPath } = this.options;
    if (!(await this.listen())) {
      if (await answers(socketPath)) return "already-running";
      try {
        fs.unlinkSync(socketPath);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      }
      if (!(await this.listen())) return "already-running";
    }
    if (process.platform !== "win32") fs.chmodSync(socketPath, 0o600);
    this.options.logger.info({ socket: socketPath, pid: process.pid }, "shared engine listening");
    this.armIdle();
    return "listening";
  }

  info(): EngineInfo {
    return { pid: process.pid, clients: this.sessions.size, models: this.hosted.size };
  }

  async close(): Promise<void> {
    clearTimeout(this.idleTimer);
    for (const session of this.sessions) session.end();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await Promise.all([...this.hosted.values()].map((h) => this.disposeHosted(h)));
  }

  private listen(): Promise<boolean> {
    return new Promise((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException): void => {
        this.server.off("listening", onListening);
        if (error.code === "EADDRINUSE") resolve(false);
        else reject(error);
      };
      const onListening = (): void => {
        this.server.off("error", onError);
        resolve(true);
      };
      this.server.once("error", onError);
      this.server.once("listening", onListening);
      this.server.listen(this.options.socketPath);
    });
  }

  private accept(socket: net.Socket): void {
    const session = new Session(socket, this, this.options.logger);
    this.sessions.add(session);
    clearTimeout(this.idleTimer);
    socket.on("close", () => {
      if (this.focused === session) this.focused = undefined;
      session.detach();
      session.abortAll();
      this.sessions.delete(session);
      this.broadcastAll();
      if (this.sessions.size === 0) this.armIdle();
    });
  }

  private armIdle(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      if (this.sessions.size === 0) this.options.onIdle();
    }, this.options.idleMs);
    this.idleTimer.unref?.();
  }

  /** The user brought `session`'s window to the front. */
  focus(session: Session): void {
    this.focused = session;
  }

  /**
   * How a completion of `session` is ordered against the other windows' now: the focused window's
   * go first and the others' pause while one runs; with no window focused (clients that never
   * say), all run side by side.
   */
  order(session: Session): "first" | "after-first" | undefined {
    if (!this.focused) return undefined;
    return this.focused === session ? "first" : "after-first";
  }

  /** A completion was asked for in `session`'s window: the other windows' background work stops. */
  stopBackground(session: Session): void {
    for (const other of this.sessions) if (other !== session) other.stopBackground();
  }

  /** The model for these settings, created on first use (it loads lazily, on the first request). */
  attach(session: Session, key: EngineKey): Hosted {
    const id = JSON.stringify(key);
    let hosted = this.hosted.get(id);
    if (!hosted) {
      const logger = this.options.logger.child({ model: key.model.modelPath });
      const model = new LocalModel(key.model, logger.child({ part: "local-model" }));
      const chatOptions = key.chat;
      const created: Hosted = {
        key: id,
        model,
        backend: new LocalCompletionBackend(model, logger.child({ part: "completion-backend" })),
        chat: new LocalChatBackend(model, logger.child({ part: "chat-backend" }), () => chatOptions),
        nextEdit: new LocalNextEditBackend(model, logger.child({ part: "next-edit-backend" }), () => key.nextEdit),
        sessions: new Set(),
        stopStatus: () => undefined,
      };
      created.stopStatus = model.onStatus((status) => this.broadcast(created, status));
      this.hosted.set(id, created);
      hosted = created;
    }
    clearTimeout(hosted.disposeTimer);
    hosted.sessions.add(session);
    this.broadcastAll();
    return hosted;
  }

  detach(session: Session, hosted: Hosted): void {
    hosted.sessions.delete(session);
    if (hosted.sessions.size > 0) return;
    // A window that restarts comes back within seconds: keep its model loaded for a while.
    hosted.disposeTimer = setTimeout(() => {
      if (hosted.sessions.size === 0) void this.disposeHosted(hosted);
    }, this.options.idleMs);
    hosted.disposeTimer.unref?.();
  }

  private async disposeHosted(hosted: Hosted): Promise<void> {
    clearTimeout(hosted.disposeTimer);
    if (this.hosted.get(hosted.key) === hosted) this.hosted.delete(hosted.key);
    hosted.stopStatus();
    await hosted.model.dispose().catch((error: unknown) => this.options.logger.warn({ err: error }, "model dispose failed"));
  }

  private broadcast(hosted: Hosted, status: ModelStatus): void {
    const engine = this.info();
    for (const session of hosted.sessions) session.send({ t: "status", status, engine });
  }

  /** Client counts changed: every session's status line shows them. */
  private broadcastAll(): void {
    for (const hosted of this.hosted.values()) this.broadcast(hosted, hosted.model.status());
  }
}

/** One connected language server. */
class Session {
  private static count = 0;
  private readonly id = ++Session.count;
  private hosted: Hosted | undefined;
  private readonly running = new Map<number, Running>();
  private readonly reader: LineReader;

  constructor(
    private readonly socket: net.Socket,
    private readonly host: EngineHost,
    private readonly logger: Logger,
  ) {
    this.reader = new LineReader(
      (message) => this.receive(message),
      (reason) => {
        this.logger.warn({ reason }, "a client sent something this engine does not understand; closing its connection");
        this.socket.destroy();
      },
    );
    socket.on("data", (chunk: Buffer) => this.reader.push(chunk));
    socket.on("error", () => undefined);
  }

  send(message: EngineMessage): void {
    if (!this.socket.destroyed) this.socket.write(encode(message));
  }

  end(): void {
    this.socket.end();
  }

  detach(): void {
    if (this.hosted) this.host.detach(this, this.hosted);
    this.hosted = undefined;
  }

  /** Stops this window's background prefills (another window is being typed in). */
  stopBackground(): void {
    for (const entry of this.running.values()) if (entry.background) entry.controller.abort(new Error("another window is being typed in"));
  }

  /** The client went away: its requests stop at their next step and waiting verdicts say stop. */
  abortAll(): void {
    for (const entry of this.running.values()) {
      entry.controller.abort(new Error("the client went away"));
      entry.verdict?.(true);
    }
    this.running.clear();
  }

  /**
   * Slots are per window: two windows showing one file may hold different text, so each keeps its
   * own KV state (the sequences themselves are shared, most recently used kept).
   */
  private slot(slot: string | undefined): string {
    return `${this.id}\u0000${slot ?? ""}`;
  }

  private warmSlots(hosted: Hosted): string[] {
    const mine = `${this.id}\u0000`;
    return hosted.backend.warmSlots().filter((s) => s.startsWith(mine)).map((s) => s.slice(mine.length));
  }

  private receive(raw: unknown): void {
    const message = validClientMessage(raw);
    if (!message) {
      this.logger.warn("a malformed message from a client; closing its connection");
      this.socket.destroy();
      return;
    }
    switch (message.t) {
      case "hello":
        if (message.version !== WIRE_VERSION) {
          this.send({ t: "refused", reason: `wire version ${message.version} is not this engine's ${WIRE_VERSION}` });
          this.end();
          return;
        }
        this.hosted = this.host.attach(this, message.key);
        this.logger.info({ client: message.label, clients: this.host.info().clients }, "client connected");
        this.send({ t: "welcome", version: WIRE_VERSION, engine: this.host.info(), status: this.hosted.model.status() });
        return;
      case "configure":
        this.detach();
        this.hosted = this.host.attach(this, message.key);
        this.send({ t: "status", status: this.hosted.model.status(), engine: this.host.info() });
        return;
      case "verdict":
        this.running.get(message.id)?.verdict?.(message.stop);
        return;
      case "focus":
        this.host.focus(this);
        return;
      case "cancel": {
        const entry = this.running.get(message.id);
        entry?.controller.abort(new Error("cancelled by the client"));
        entry?.verdict?.(true);
        return;
      }
      default:
        this.run(message);
    }
  }

  private run(message: Extract<ClientMessage, { id: number }>): void {
    const hosted = this.hosted;
    if (!hosted) {
      this.send({ t: "failed", id: message.id, kind: "other", message: "hello first" });
      return;
    }
    if (this.running.has(message.id)) {
      this.send({ t: "failed", id: message.id, kind: "other", message: `request id ${message.id} is already running` });
      return;
    }
    const entry: Running = { controller: new AbortController(), background: message.t === "prefill" };
    // A keystroke in one window never waits for another window's background prefill. Real
    // completions of different windows never cancel each other (that would starve both when two
    // windows type at once, measured by bench:engine): they run side by side, evaluated in the
    // same batches, or, once a window has said it is in front, the others pause between their
    // steps while its completions run (see host.order).
    if (message.t === "generate" && message.request.task !== "nextEdit") this.host.stopBackground(this);
    this.running.set(message.id, entry);
    const { signal } = entry.controller;
    const work = ((): Promise<unknown> => {
      switch (message.t) {
        case "generate": {
          const w = message.request;
          const request: GenerateRequest = {
            prompt: w.prompt,
            maxTokens: w.maxTokens,
            maxTimeMs: w.maxTimeMs,
            temperature: w.temperature,
            slot: this.slot(w.slot),
            ...(w.copySource !== undefined ? { copySource: w.copySource } : {}),
          };
          const answerLater = !w.stopCallback
            ? undefined
            : (text: string): Promise<boolean> =>
              new Promise<boolean>((resolve) => {
                entry.verdict = (stop) => {
                  entry.verdict = undefined;
                  resolve(stop);
                };
                if (signal.aborted) entry.verdict(true);
                else this.send({ t: "text", id: message.id, text, verdict: true });
              });
          if (w.progress) request.onPromptProgress = (evaluated, total) => this.send({ t: "progress", id: message.id, evaluated, total });
          if (w.task === "nextEdit") return hosted.nextEdit.generate(request, signal, answerLater);
          return hosted.backend.generate(request, signal, answerLater, () => this.host.order(this));
        }
        case "prefill": {
          const w = message.request;
          return hosted.backend.prefill(
            { prompt: w.prompt, slot: this.slot(w.slot), ...(w.progress ? { onProgress: (evaluated: number, total: number) => this.send({ t: "progress", id: message.id, evaluated, total }) } : {}) },
            signal,
          );
        }
        case "chat": {
          const { stream, ...request } = message.request;
          return hosted.chat.chat({ ...request, ...(stream ? { onText: (text: string) => this.send({ t: "text", id: message.id, text, verdict: false }) } : {}) }, signal);
        }
        case "tokenizer":
          return hosted.backend.tokenizer(signal).then(() => null);
        case "load":
          return hosted.model.load(signal).then(() => hosted.model.status());
        case "unload":
          return hosted.model.unload().then(() => hosted.model.status());
        default:
          return Promise.reject(new Error("unknown request"));
      }
    })();
    work.then(
      (result) => {
        this.running.delete(message.id);
        const warm = message.t === "generate" || message.t === "prefill" ? { warmSlots: this.warmSlots(hosted) } : {};
        this.send({ t: "done", id: message.id, result: result as EngineMessage extends { t: "done"; result?: infer R } ? R : never, ...warm });
      },
      (error: unknown) => {
        this.running.delete(message.id);
        this.send({ t: "failed", id: message.id, kind: errorKind(error), message: error instanceof Error ? error.message : String(error) });
      },
    );
  }
}

function errorKind(error: unknown): ErrorKind {
  if (error instanceof ModelUnloadedError) return "unloaded";
  if (error instanceof ModelUnavailableError) return "unavailable";
  return "other";
}

/** Whether something accepts connections on the socket (a live engine, as opposed to a stale file). */
export function answers(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.connect(socketPath);
    probe.once("connect", () => {
      probe.destroy();
      resolve(true);
    });
    probe.once("error", () => resolve(false));
  });
}
