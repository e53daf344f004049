import {
  AbstractMessageReader,
  Disposable,
  ErrorCodes,
  type DataCallback,
  type Message,
  type MessageReader,
  type MessageWriter,
} from "vscode-jsonrpc/node";
import type { Logger } from "../../util/logger.js";
import { checkParams, jsonDepth } from "./paramSchemas.js";

/** The deepest JSON a message may carry: LSP's own shapes stay under ten levels. */
export const MAX_MESSAGE_DEPTH = 64;

type Lifecycle = "new" | "initializing" | "running" | "shutdown";

/** The request being handled, as far as the gate can tell, for the watchdog's reports. */
export interface Activity {
  /** The last message received: method and id. */
  last: string;
  /** Requests answered by nobody yet, oldest first (at most a few). */
  inFlight: string[];
}

type RawMessage = { jsonrpc?: unknown; id?: unknown; method?: unknown; params?: unknown; result?: unknown; error?: unknown };

/**
 * Sits between the framed reader/writer and vscode-jsonrpc's connection and enforces, in one
 * place, what the protocol promises before any handler runs:
 * - the JSON-RPC envelope (an object with jsonrpc "2.0", a string method, an id that is a number
 *   or a string) — anything else gets InvalidRequest with id null;
 * - the LSP lifecycle — requests before `initialize` get ServerNotInitialized, a second
 *   `initialize` and any request after `shutdown` get InvalidRequest, notifications then are dropped
 *   (except `exit`);
 * - one answer per request id — a request whose id is still pending gets InvalidRequest instead of
 *   silently replacing the first in the connection's queue;
 * - params shapes (paramSchemas.ts) and a nesting bound — wrong shapes get InvalidParams, or for
 *   notifications a log line and no dispatch.
 * It watches the writer to learn when requests are answered and whether `initialize` succeeded.
 */
export class MessageGate {
  readonly reader: MessageReader;
  readonly writer: MessageWriter;
  private state: Lifecycle = "new";
  private initializeId: string | undefined;
  private readonly pending = new Map<string, string>();
  private lastMessage = "";
  private activityListener: ((activity: Activity) => void) | undefined;

  constructor(
    inner: MessageReader,
    private readonly out: MessageWriter,
    private readonly logger: Logger,
  ) {
    this.reader = new GatedReader(inner, (message, deliver) => this.admit(message, deliver));
    const gate = this;
    this.writer = {
      write(message: Message): Promise<void> {
        gate.observeOutgoing(message as RawMessage);
        return out.write(message);
      },
      onError: out.onError,
      onClose: out.onClose,
      end: () => out.end(),
      dispose: () => out.dispose(),
    };
  }

  /** Whether the client asked for shutdown: the exit code is 0 then, 1 otherwise (LSP spec). */
  get shutdownRequested(): boolean {
    return this.state === "shutdown";
  }

  /** Called on every received message and answer, with what is in progress. */
  onActivity(listener: (activity: Activity) => void): void {
    this.activityListener = listener;
  }

  /** Answers a body that was not JSON (from the framed reader). */
  parseError(reason: string): void {
    void this.reply(null, ErrorCodes.ParseError, `Parse error: ${reason}`);
  }

  private admit(raw: unknown, deliver: (message: Message) => void): void {
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
      // JSON-RPC batches are not part of LSP.
      this.refuse(null, ErrorCodes.InvalidRequest, `Invalid request: a message must be a JSON object, got ${Array.isArray(raw) ? "an array (batches are not supported)" : raw === null ? "null" : typeof raw}`);
      return;
    }
    const message = raw as RawMessage;
    const hasId = message.id !== undefined;
    const idOk = typeof message.id === "string" || (typeof message.id === "number" && Number.isFinite(message.id));
    if (message.jsonrpc !== "2.0") {
      this.refuse(idOk && message.method !== undefined ? message.id : null, ErrorCodes.InvalidRequest, 'Invalid request: "jsonrpc" must be "2.0"');
      return;
    }
    if (message.method === undefined) {
      // A response to one of the server's requests.
      if (idOk || message.id === null) {
        if (message.result !== undefined || message.error !== undefined) deliver(raw as Message);
        else this.logger.warn({ id: message.id }, "protocol: a response without result or error ignored");
        return;
      }
      this.refuse(null, ErrorCodes.InvalidRequest, "Invalid request: no method");
      return;
    }
    if (typeof message.method !== "string") {
      this.refuse(idOk ? message.id : null, ErrorCodes.InvalidRequest, "Invalid request: method must be a string");
      return;
    }
    if (hasId && !idOk) {
      this.refuse(null, ErrorCodes.InvalidRequest, "Invalid request: id must be a number or a string");
      return;
    }
    const method = message.method;
    this.lastMessage = hasId ? `${method} (id ${String(message.id)})` : method;
    if (hasId) this.admitRequest(message, method, deliver);
    else this.admitNotification(message, method, deliver);
    this.reportActivity();
  }

  private admitRequest(message: RawMessage, method: string, deliver: (message: Message) => void): void {
    const id = message.id as string | number;
    const key = String(id);
    if (this.pending.has(key)) {
      this.refuse(id, ErrorCodes.InvalidRequest, `Invalid request: id ${JSON.stringify(id)} is already in use by a request not yet answered (${this.pending.get(key)})`);
      return;
    }
    if (method === "initialize") {
      if (this.state !== "new") {
        this.refuse(id, ErrorCodes.InvalidRequest, `Invalid request: initialize was already ${this.state === "initializing" ? "sent and is in progress" : "done"}; the server is initialized once`);
        return;
      }
    } else if (this.state === "new" || this.state === "initializing") {
      this.refuse(id, ErrorCodes.ServerNotInitialized, `Server not initialized: ${method} arrived before the initialize request was answered`);
      return;
    } else if (this.state === "shutdown") {
      this.refuse(id, ErrorCodes.InvalidRequest, `Invalid request: ${method} arrived after shutdown; only exit is accepted now`);
      return;
    }
    const problem = this.checkShape(method, message.params);
    if (problem) {
      this.refuse(id, ErrorCodes.InvalidParams, `Invalid params for ${method}: ${problem}`);
      return;
    }
    if (method === "initialize") {
      this.state = "initializing";
      this.initializeId = key;
    } else if (method === "shutdown") {
      this.state = "shutdown";
    }
    this.pending.set(key, method);
    deliver(message as Message);
  }

  private admitNotification(message: RawMessage, method: string, deliver: (message: Message) => void): void {
    if (method !== "exit" && method !== "$/cancelRequest" && this.state !== "running") {
      this.logger.warn({ method, state: this.state }, `protocol: notification ${method} dropped ${this.state === "shutdown" ? "after shutdown" : "before initialize"}`);
      return;
    }
    const problem = this.checkShape(method, message.params);
    if (problem) {
      this.logger.warn({ method }, `protocol: notification ${method} ignored: ${problem}`);
      return;
    }
    deliver(message as Message);
  }

  private checkShape(method: string, params: unknown): string | undefined {
    if (params !== undefined && params !== null && typeof params !== "object") return "params must be an object or an array";
    if (jsonDepth(params, MAX_MESSAGE_DEPTH) > MAX_MESSAGE_DEPTH) return `params are nested deeper than ${MAX_MESSAGE_DEPTH} levels`;
    return checkParams(method, params);
  }

  private observeOutgoing(message: RawMessage): void {
    if (message.method !== undefined || message.id === undefined || message.id === null) return;
    const key = String(message.id);
    if (!this.pending.delete(key)) return;
    if (key === this.initializeId && this.state === "initializing") {
      this.state = message.error === undefined ? "running" : "new";
      this.initializeId = undefined;
    }
    this.reportActivity();
  }

  private refuse(id: unknown, code: number, text: string): void {
    this.logger.warn({ id, code }, `protocol: ${text}`);
    void this.reply(id as string | number | null, code, text);
  }

  private reply(id: string | number | null, code: number, text: string): Promise<void> {
    return this.out.write({ jsonrpc: "2.0", id, error: { code, message: text } } as Message).catch((error: unknown) => {
      this.logger.warn({ err: error }, "protocol: could not write an error answer");
    });
  }

  private reportActivity(): void {
    if (!this.activityListener) return;
    const inFlight: string[] = [];
    for (const [id, method] of this.pending) {
      inFlight.push(`${method} (id ${id})`);
      if (inFlight.length >= 5) break;
    }
    this.activityListener({ last: this.lastMessage, inFlight });
  }
}

/** A reader that passes each message through the gate before the connection sees it. */
class GatedReader extends AbstractMessageReader {
  constructor(
    private readonly inner: MessageReader,
    private readonly admit: (message: unknown, deliver: (message: Message) => void) => void,
  ) {
    super();
    inner.onError((error) => this.fireError(error));
    inner.onClose(() => this.fireClose());
    inner.onPartialMessage((info) => this.firePartialMessage(info));
  }

  listen(callback: DataCallback): Disposable {
    return this.inner.listen((message) => this.admit(message, callback));
  }

  override dispose(): void {
    super.dispose();
    this.inner.dispose();
  }
}
