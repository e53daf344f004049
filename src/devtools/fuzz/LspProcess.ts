import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** bin/ifai-lsp.js beside this file's dist/ folder (or src/, when run from TypeScript). */
export const SERVER_BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../bin/ifai-lsp.js");

export interface JsonRpcMessage {
  jsonrpc?: string;
  id?: number | string | null;
  method?: string;
  params?: unknown;
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
}

/**
 * The real server spawned over stdio, spoken to with raw bytes: a client that can send anything
 * (broken headers, wrong types) and that checks every byte the server writes to stdout is a
 * well-formed LSP frame — a strict parser, unlike an editor's, so pollution is caught. It answers
 * the server's own requests (workspace/configuration with `workspaceSettings`, others null).
 */
export class LspProcess {
  readonly process: ChildProcess;
  /** Problems found in stdout: anything that is not `Content-Length: N\r\n\r\n` + JSON. */
  readonly pollution: string[] = [];
  readonly received: JsonRpcMessage[] = [];
  stderrTail = "";
  private readonly stderrWaiters: Array<{ pattern: RegExp; resolve: (tail: string) => void }> = [];
  workspaceSettings: unknown = {};
  private stdout = Buffer.alloc(0);
  private readonly waiters = new Map<string, (message: JsonRpcMessage) => void>();
  private notificationWaiters: Array<{ predicate: (m: JsonRpcMessage) => boolean; resolve: (m: JsonRpcMessage) => void }> = [];
  private nextId = 1;
  private readonly listeners: Array<(message: JsonRpcMessage) => void> = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(options: { env?: NodeJS.ProcessEnv; args?: string[]; node?: string; keepReceived?: boolean; cwd?: string } = {}) {
    this.process = spawn(options.node ?? process.execPath, [SERVER_BIN, ...(options.args ?? ["--stdio"])], {
      stdio: ["pipe", "pipe", "pipe"],
      ...(options.cwd ? { cwd: options.cwd } : {}),
      env: { ...process.env, ...options.env },
    });
    const keep = options.keepReceived ?? true;
    this.exited = new Promise((resolve) => this.process.once("exit", (code, signal) => resolve({ code, signal })));
    this.process.stdin!.on("error", () => undefined);
    this.process.stdout!.on("data", (chunk: Buffer) => this.onStdout(chunk, keep));
    this.process.stderr!.setEncoding("utf8");
    this.process.stderr!.on("data", (chunk: string) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-20_000);
      for (const waiter of [...this.stderrWaiters]) {
        if (!waiter.pattern.test(this.stderrTail)) continue;
        this.stderrWaiters.splice(this.stderrWaiters.indexOf(waiter), 1);
        waiter.resolve(this.stderrTail);
      }
    });
  }

  /**
   * Resolves with the log tail once it matches. stdout and stderr are separate pipes, so a log
   * line the server wrote before a response may still reach this process after it.
   */
  stderrMatching(pattern: RegExp): Promise<string> {
    if (pattern.test(this.stderrTail)) return Promise.resolve(this.stderrTail);
    return new Promise((resolve) => this.stderrWaiters.push({ pattern, resolve }));
  }

  /** Writes raw bytes to the server's stdin. */
  write(bytes: string | Buffer): void {
    if (!this.process.stdin!.writable) return;
    this.process.stdin!.write(bytes);
  }

  /** Frames and writes one message (any JSON value, valid JSON-RPC or not). */
  send(message: unknown): void {
    this.write(frame(JSON.stringify(message)));
  }

  notify(method: string, params?: unknown): void {
    this.send(params === undefined ? { jsonrpc: "2.0", method } : { jsonrpc: "2.0", method, params });
  }

  /** Sends a request and resolves with its response (result or error). */
  request(method: string, params?: unknown, id: number | string = `c${this.nextId++}`): Promise<JsonRpcMessage> {
    const answered = this.response(id);
    this.send(params === undefined ? { jsonrpc: "2.0", id, method } : { jsonrpc: "2.0", id, method, params });
    return answered;
  }

  /** Resolves with the next response carrying this id. */
  response(id: number | string | null): Promise<JsonRpcMessage> {
    return new Promise((resolve) => this.waiters.set(key(id), resolve));
  }

  /** Resolves with the first message (received from now on) that matches. */
  waitFor(predicate: (m: JsonRpcMessage) => boolean): Promise<JsonRpcMessage> {
    return new Promise((resolve) => this.notificationWaiters.push({ predicate, resolve }));
  }

  async initialize(capabilities: unknown = {}, initializationOptions?: unknown): Promise<JsonRpcMessage> {
    const answer = await this.request("initialize", { processId: process.pid, rootUri: null, capabilities, initializationOptions, clientInfo: { name: "ifai-raw-client" } });
    if (!answer.error) this.notify("initialized", {});
    return answer;
  }

  kill(): void {
    this.process.kill("SIGKILL");
  }

  private onStdout(chunk: Buffer, keep: boolean): void {
    this.stdout = Buffer.concat([this.stdout, chunk]);
    for (;;) {
      const headerEnd = this.stdout.indexOf("\r\n\r\n");
      if (headerEnd < 0) {
        if (this.stdout.length > 200 && !/^Content-Length: \d+\r?\n?\r?$/.test(this.stdout.subarray(0, 200).toString("latin1"))) this.polluted("a header that never ends");
        return;
      }
      const header = this.stdout.subarray(0, headerEnd).toString("latin1");
      const match = /^Content-Length: (\d+)$/.exec(header);
      if (!match) {
        this.polluted(`not an LSP header: ${JSON.stringify(header.slice(0, 100))}`);
        return;
      }
      const length = Number(match[1]);
      if (this.stdout.length < headerEnd + 4 + length) return;
      const body = this.stdout.subarray(headerEnd + 4, headerEnd + 4 + length).toString("utf8");
      this.stdout = this.stdout.subarray(headerEnd + 4 + length);
      let message: JsonRpcMessage;
      try {
        message = JSON.parse(body) as JsonRpcMessage;
      } catch {
        this.polluted(`a body that is not JSON: ${JSON.stringify(body.slice(0, 100))}`);
        continue;
      }
      if (message.jsonrpc !== "2.0") this.polluted(`a message without jsonrpc 2.0: ${body.slice(0, 100)}`);
      if (keep) this.received.push(message);
      this.dispatch(message);
    }
  }

  /** Calls `listener` with every message the server sends; returns the way to stop. */
  onMessage(listener: (message: JsonRpcMessage) => void): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  private dispatch(message: JsonRpcMessage): void {
    for (const listener of [...this.listeners]) listener(message);
    if (message.method !== undefined && message.id !== undefined) {
      // A request from the server: answer as an editor would.
      const result = message.method === "workspace/configuration" ? [this.workspaceSettings] : message.method === "workspace/applyEdit" ? { applied: false } : null;
      this.send({ jsonrpc: "2.0", id: message.id, result });
    }
    if (message.method === undefined && message.id !== undefined) {
      const waiter = this.waiters.get(key(message.id));
      if (waiter) {
        this.waiters.delete(key(message.id));
        waiter(message);
      }
    }
    this.notificationWaiters = this.notificationWaiters.filter((w) => {
      if (!w.predicate(message)) return true;
      w.resolve(message);
      return false;
    });
  }

  private polluted(what: string): void {
    this.pollution.push(what);
    // Nothing after a broken frame can be trusted; drop it and stop parsing.
    this.stdout = Buffer.alloc(0);
  }
}

export function frame(body: string | Buffer): Buffer {
  const bytes = typeof body === "string" ? Buffer.from(body, "utf8") : body;
  return Buffer.concat([Buffer.from(`Content-Length: ${bytes.length}\r\n\r\n`, "latin1"), bytes]);
}

function key(id: number | string | null): string {
  return `${typeof id}:${String(id)}`;
}
