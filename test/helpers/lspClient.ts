import { spawn, type ChildProcess } from "node:child_process";
import { PassThrough } from "node:stream";
import {
  createMessageConnection,
  StreamMessageReader,
  StreamMessageWriter,
  type MessageConnection,
  CancellationTokenSource,
} from "vscode-jsonrpc/node";
import type {
  ClientCapabilities,
  CompletionList,
  InitializeResult,
  InlineCompletionList,
  Position,
} from "vscode-languageserver-protocol";
import { createConnection } from "vscode-languageserver/node";
import { startServer } from "../../src/server/server.js";
import { silentLogger } from "../../src/util/logger.js";
import { binPath, nodeBinary } from "./paths.js";

export interface Notification {
  method: string;
  params: unknown;
}

/** Client capabilities of an editor with inline completion (VS Code, Neovim 0.12). */
export const INLINE_CLIENT: ClientCapabilities = {
  textDocument: { inlineCompletion: { dynamicRegistration: false }, completion: { completionItem: {} } },
  workspace: { configuration: true, didChangeConfiguration: { dynamicRegistration: false } },
  window: { workDoneProgress: true },
};
/** Client capabilities of an editor without it (Helix, eglot, Neovim 0.7). */
export const ITEMS_CLIENT: ClientCapabilities = { textDocument: { completion: { completionItem: {} } } };

/**
 * An LSP client for tests, speaking JSON-RPC to the server exactly as an editor does. It records
 * every notification the server sends and answers the server's requests (configuration pulls,
 * registrations) from `workspaceSettings`.
 */
export class TestClient {
  readonly notifications: Notification[] = [];
  readonly serverRequests: Notification[] = [];
  workspaceSettings: unknown = {};
  /** The edits the server asked to apply (workspace/applyEdit), in order; each is answered with `applyEditResult`. */
  readonly appliedEdits: any[] = [];
  applyEditResult: { applied: boolean; failureReason?: string } = { applied: true };
  private waiters: Array<{ method: string; predicate: (params: unknown) => boolean; resolve: (params: unknown) => void }> = [];
  private version = new Map<string, number>();

  constructor(
    readonly connection: MessageConnection,
    readonly process?: ChildProcess,
    readonly stderr: { text: string } = { text: "" },
  ) {
    connection.onNotification((method, params) => {
      this.notifications.push({ method, params });
      this.waiters = this.waiters.filter((w) => {
        if (w.method !== method || !w.predicate(params)) return true;
        w.resolve(params);
        return false;
      });
    });
    connection.onRequest((method, params) => {
      this.serverRequests.push({ method, params });
      if (method === "workspace/configuration") return [this.workspaceSettings];
      if (method === "workspace/applyEdit") {
        this.appliedEdits.push(params);
        return this.applyEditResult;
      }
      return null;
    });
    connection.listen();
  }

  async initialize(capabilities: ClientCapabilities, initializationOptions?: unknown, rootUri: string | null = null): Promise<InitializeResult> {
    const result = (await this.connection.sendRequest("initialize", {
      processId: process.pid,
      rootUri,
      capabilities,
      initializationOptions,
      clientInfo: { name: "ifai-test-client" },
    })) as InitializeResult;
    await this.connection.sendNotification("initialized", {});
    return result;
  }

  async open(uri: string, languageId: string, text: string): Promise<void> {
    this.version.set(uri, 1);
    await this.connection.sendNotification("textDocument/didOpen", { textDocument: { uri, languageId, version: 1, text } });
  }

  /** Sends an incremental change: `text` replaces the range. */
  async edit(uri: string, range: { start: Position; end: Position }, text: string): Promise<void> {
    const version = (this.version.get(uri) ?? 1) + 1;
    this.version.set(uri, version);
    await this.connection.sendNotification("textDocument/didChange", {
      textDocument: { uri, version },
      contentChanges: [{ range, text }],
    });
  }

  inline(uri: string, position: Position, token?: CancellationTokenSource): Promise<InlineCompletionList | null> {
    const params = { textDocument: { uri }, position, context: { triggerKind: 2 } };
    // A trailing undefined would be sent as a second positional parameter.
    const sent = token
      ? this.connection.sendRequest("textDocument/inlineCompletion", params, token.token)
      : this.connection.sendRequest("textDocument/inlineCompletion", params);
    return sent as Promise<InlineCompletionList | null>;
  }

  complete(uri: string, position: Position): Promise<CompletionList | null> {
    return this.connection.sendRequest("textDocument/completion", { textDocument: { uri }, position }) as Promise<CompletionList | null>;
  }

  /** Resolves with the params of the first matching notification, including ones already received. */
  waitForNotification(method: string, predicate: (params: any) => boolean = () => true): Promise<any> {
    const seen = this.notifications.find((n) => n.method === method && predicate(n.params));
    if (seen) return Promise.resolve(seen.params);
    return new Promise((resolve) => this.waiters.push({ method, predicate, resolve }));
  }

  /** Polite shutdown; resolves with the server process's exit code (stdio servers only). */
  async shutdownAndExit(): Promise<number | null> {
    await this.connection.sendRequest("shutdown");
    const exited = this.process ? waitForExit(this.process) : Promise.resolve(null);
    await this.connection.sendNotification("exit");
    const code = await exited;
    this.connection.dispose();
    return code;
  }

  kill(): void {
    this.connection.dispose();
    this.process?.kill("SIGKILL");
  }
}

export function waitForExit(proc: ChildProcess): Promise<number | null> {
  if (proc.exitCode !== null) return Promise.resolve(proc.exitCode);
  return new Promise((resolve) => proc.once("exit", (code) => resolve(code)));
}

/** Starts the built server (bin/ifai-lsp.js --stdio) as an editor would. */
export function startStdioServer(env: NodeJS.ProcessEnv = {}, args: string[] = ["--stdio"]): TestClient {
  const proc = spawn(nodeBinary, [binPath, ...args], {
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...process.env, IFAI_LOG_LEVEL: "debug", ...env },
  });
  const stderr = { text: "" };
  proc.stderr!.setEncoding("utf8");
  proc.stderr!.on("data", (chunk: string) => {
    stderr.text += chunk;
  });
  const connection = createMessageConnection(new StreamMessageReader(proc.stdout!), new StreamMessageWriter(proc.stdin!));
  return new TestClient(connection, proc, stderr);
}

/** Runs the server in this process over in-memory streams: the fast tier, no build needed. */
export function startInMemoryServer(): TestClient {
  const toServer = new PassThrough();
  const toClient = new PassThrough();
  const serverConnection = createConnection(new StreamMessageReader(toServer), new StreamMessageWriter(toClient));
  startServer(serverConnection, silentLogger());
  const clientConnection = createMessageConnection(new StreamMessageReader(toClient), new StreamMessageWriter(toServer));
  return new TestClient(clientConnection);
}
