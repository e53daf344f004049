import {
  DidChangeWatchedFilesNotification,
  DidChangeWorkspaceFoldersNotification,
  ErrorCodes,
  FileChangeType,
  MessageType,
  ResponseError,
  type ClientCapabilities,
  type Connection,
  type DidChangeWorkspaceFoldersParams,
  type ServerCapabilities,
  type TextDocuments,
  type WorkDoneProgressServerReporter,
} from "vscode-languageserver/node";
import type { TextDocument } from "vscode-languageserver-textdocument";
import type { Settings } from "../config/schema.js";
import { OpenDocumentSnippets, type SnippetSource } from "../features/completion/snippets.js";
import { CombinedSnippetSource, IndexSnippetSource } from "../features/completion/indexSnippets.js";
import { IndexService, type IndexSettings } from "../index/IndexService.js";
import type { Logger } from "../util/logger.js";
import { guardNotification } from "./guard.js";
import { IndexStatusRequest, type IndexStatusResult } from "./protocol.js";
import type { WorkspaceApi } from "./workspace.js";

export function indexSettings(settings: Settings): IndexSettings {
  return {
    enabled: settings["index.enabled"],
    uri: settings["index.uri"],
    readOnly: settings["index.readOnly"],
    maxFileBytes: settings["index.maxFileBytes"],
    maxFiles: settings["index.maxFiles"],
    watch: settings["index.watch"],
    embeddingModelDir: settings["index.embeddingModelDir"],
    embeddingModel: settings["index.embeddingModel"],
    lexicalWeight: settings["index.search.lexicalWeight"],
    vectorWeight: settings["index.search.vectorWeight"],
    searchCandidates: settings["index.search.candidates"],
  };
}

export interface IndexApi {
  service: IndexService;
  /** Cross-file snippets for completion: open documents plus the index. */
  snippetSource: SnippetSource;
  /** Capabilities the index adds (workspace folder change notifications). */
  capabilities: ServerCapabilities;
  /** Completion activity pauses indexing: pass the completion service. */
  attach(foreground: { onActivity(listener: (busy: boolean) => void): void }): void;
  /** After `initialized` and the first configuration pull: starts indexing. */
  initialized(): void;
  configure(settings: Settings): Promise<void>;
  dispose(): Promise<void>;
}

export interface IndexHandlerDeps {
  connection: Connection;
  logger: Logger;
  documents: TextDocuments<TextDocument>;
  workspace: WorkspaceApi;
  settings: () => Settings;
  capabilities: ClientCapabilities;
}

/** How often `$/progress` reports are sent while indexing. */
const PROGRESS_INTERVAL_MS = 250;

/**
 * Wires the codebase index into the server: workspace folders (initialize and
 * workspace/didChangeWorkspaceFolders), file events (workspace/didChangeWatchedFiles, plus the
 * index's own watcher), unsaved buffers, settings, `ifai/indexStatus`, and work-done progress
 * while indexing (only for clients that support it).
 */
export function registerIndexHandlers(deps: IndexHandlerDeps): IndexApi {
  const { connection, documents, workspace } = deps;
  // IndexService binds `component: "index"` on its own logger; binding it here too wrote the key
  // twice into every index log line.
  const logger = deps.logger.child({ component: "index-lsp" });
  const shown = new Set<string>();
  const service = new IndexService({
    logger: deps.logger,
    writerLabel: "ifai-lsp server",
    onProblem: (message) => {
      if (shown.has(message)) return;
      shown.add(message);
      void connection.sendNotification("window/showMessage", { type: MessageType.Warning, message });
    },
  });
  const indexSource = new IndexSnippetSource(service, { onError: (error) => logger.debug({ err: error }, "index snippets lookup failed") });
  const snippetSource = new CombinedSnippetSource(indexSource, new OpenDocumentSnippets(), () => {
    const s = deps.settings();
    return s["index.enabled"] && s["index.completionSnippets"];
  });
  let started = false;

  // No parameters: vscode-jsonrpc then passes the cancellation token first, so no guard() here.
  // The counts come from the tables, which other processes (editor windows, `ifai-lsp index`) write too.
  connection.onRequest(IndexStatusRequest.method, async (): Promise<IndexStatusResult | ResponseError<void>> => {
    try {
      return await service.freshStatus();
    } catch (error) {
      logger.error({ err: error }, "ifai/indexStatus failed");
      return new ResponseError(ErrorCodes.InternalError, `ifai/indexStatus failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  });

  connection.onNotification(
    DidChangeWorkspaceFoldersNotification.type,
    guardNotification(logger, "workspace/didChangeWorkspaceFolders", async (params: DidChangeWorkspaceFoldersParams) => {
      const removed = new Set(params.event.removed.map((f) => f.uri));
      const next = [...workspace.folders().filter((f) => !removed.has(f.uri)), ...params.event.added.filter((a) => !workspace.folders().some((f) => f.uri === a.uri))];
      workspace.setFolders(next.map((f) => ({ uri: f.uri, name: f.name })));
      if (started) await service.setFolders(workspace.folders());
    }),
  );

  connection.onDidChangeWatchedFiles(
    guardNotification(logger, "workspace/didChangeWatchedFiles", (params) => {
      service.fileEvents(
        params.changes.map((c) => ({ uri: c.uri, type: c.type === FileChangeType.Created ? "created" : c.type === FileChangeType.Deleted ? "deleted" : "changed" })),
      );
    }),
  );

  documents.onDidChangeContent((event) => {
    if (started) service.bufferChanged(event.document.uri, event.document.getText());
  });
  documents.onDidClose((event) => {
    indexSource.forget(event.document.uri);
    if (started) service.bufferClosed(event.document.uri);
  });
  documents.onDidSave((event) => {
    if (started) service.fileEvents([{ uri: event.document.uri, type: "changed" }]);
  });

  // Work-done progress while a pass runs.
  const progressSupported = deps.capabilities.window?.workDoneProgress === true;
  let reporter: Promise<WorkDoneProgressServerReporter | undefined> | undefined;
  let lastReport = 0;
  service.onChange(() => {
    if (!progressSupported) return;
    const status = service.status();
    const busy = status.state === "scanning" || status.state === "indexing";
    if (busy && !reporter) {
      reporter = connection.window.createWorkDoneProgress().then(
        (r) => {
          r.begin("ifai: indexing", 0, "scanning the workspace", false);
          return r;
        },
        (error: unknown) => {
          logger.debug({ err: error }, "window/workDoneProgress/create failed");
          return undefined;
        },
      );
      lastReport = 0;
    } else if (busy && reporter) {
      const now = Date.now();
      if (now - lastReport < PROGRESS_INTERVAL_MS) return;
      lastReport = now;
      let done = 0;
      let total = 0;
      for (const f of status.folders) {
        if (f.progress) {
          done += f.progress.done;
          total += f.progress.total;
        }
      }
      const message = total > 0 ? `${done}/${total} files` : "scanning the workspace";
      const percentage = total > 0 ? Math.min(99, Math.floor((done / total) * 100)) : 0;
      void reporter.then((r) => r?.report(percentage, message));
    } else if (!busy && reporter) {
      const ended = reporter;
      reporter = undefined;
      const chunks = status.folders.reduce((n, f) => n + f.chunks, 0);
      void ended.then((r) => r?.done());
      logger.debug({ state: status.state, chunks }, "index progress ended");
    }
  });

  return {
    service,
    snippetSource,
    capabilities: { workspace: { workspaceFolders: { supported: true, changeNotifications: true } } },
    attach(foreground) {
      foreground.onActivity((busy) => service.activity.set(busy));
    },
    initialized() {
      started = true;
      const settings = deps.settings();
      const watchRegistration = !settings["index.watch"] && deps.capabilities.workspace?.didChangeWatchedFiles?.dynamicRegistration === true;
      if (watchRegistration) {
        void connection.client.register(DidChangeWatchedFilesNotification.type, { watchers: [{ globPattern: "**/*" }] }).catch((error: unknown) => {
          logger.debug({ err: error }, "could not register file watchers with the client");
        });
      }
      void service
        .configure(indexSettings(settings))
        .then(() => service.setFolders(workspace.folders()))
        .catch((error: unknown) => logger.error({ err: error }, "index start failed"));
    },
    async configure(settings) {
      if (!started) return;
      await service.configure(indexSettings(settings));
    },
    dispose: () => service.dispose(),
  };
}
