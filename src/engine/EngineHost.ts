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
import type { ModelStatus } from "../inference/types.js";
import type { Logger } from "../util/logger.js";
import { Session } from "./EngineSession.js";
import type { EngineInfo, EngineKey } from "./wire.js";

export interface EngineHostOptions {
  socketPath: string;
  logger: Logger;
  /** How long the process (and a model no window uses) stays after its last client left. */
  idleMs: number;
  /** Called once the process has had no client for `idleMs`. */
  onIdle: () => void;
}

/** One model and its backends, shared by the sessions whose settings agree. */
export interface Hosted {
  key: string;
  model: LocalModel;
  backend: LocalCompletionBackend;
  chat: LocalChatBackend;
  nextEdit: LocalNextEditBackend;
  sessions: Set<Session>;
  stopStatus: () => void;
  disposeTimer?: NodeJS.Timeout;
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
