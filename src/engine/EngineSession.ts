/**
 * One language server connected to the shared engine (EngineHost): its messages checked and run
 * on the model its settings chose, its running requests, and its slots, which are its own even
 * where another window shows the same file.
 */
import type net from "node:net";
import { ModelUnavailableError, ModelUnloadedError, type GenerateRequest } from "../inference/types.js";
import type { Logger } from "../util/logger.js";
import type { EngineHost, Hosted } from "./EngineHost.js";
import { validClientMessage } from "./validate.js";
import { encode, LineReader, WIRE_VERSION, type ClientMessage, type EngineMessage, type ErrorKind } from "./wire.js";

interface Running {
  controller: AbortController;
  /** Background work (a prefill), which a completion asked for in any window stops at once. */
  background: boolean;
  /** The answer to the text last sent, while generation waits for the server's `shouldStop`. */
  verdict?: (stop: boolean) => void;
}

/** One connected language server. */
export class Session {
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
