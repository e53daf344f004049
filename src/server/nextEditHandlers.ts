import type { Connection, TextDocuments } from "vscode-languageserver/node";
import type { TextDocument } from "vscode-languageserver-textdocument";
import type { CompletionBackend } from "../inference/types.js";
import type { Settings } from "../config/schema.js";
import { EditHistory } from "../features/nextEdit/EditHistory.js";
import { NextEditService, type NextEditSettings } from "../features/nextEdit/NextEditService.js";
import { RoutedCompletionBackend } from "../inference/router/RoutedCompletionBackend.js";
import type { Logger } from "../util/logger.js";
import type { AppliedChange } from "./documents.js";
import type { FeedbackApi } from "./feedbackHandlers.js";
import { guard } from "./guard.js";
import {
  CopilotInlineEditRequest,
  NextEditCommands,
  type CopilotInlineEditParams,
  type CopilotInlineEditResult,
} from "./protocol.js";
import type { RouterApi } from "./routerHandlers.js";
import type { WorkspaceApi } from "./workspace.js";

export function nextEditSettings(settings: Settings): NextEditSettings {
  return {
    enabled: settings["nextEdit.enabled"],
    format: settings["nextEdit.format"],
    maxTokens: settings["nextEdit.maxTokens"],
    maxTimeMs: settings["nextEdit.maxTimeMs"],
    historyEdits: settings["nextEdit.historyEdits"],
    region: {
      linesAbove: settings["nextEdit.linesAbove"],
      linesBelow: settings["nextEdit.linesBelow"],
      // About 3 characters a token: a region the answer budget can hold when rewritten whole.
      maxChars: Math.max(200, settings["nextEdit.maxTokens"] * 3),
      contextLines: settings["nextEdit.contextLines"],
    },
  };
}

export interface NextEditDeps {
  connection: Connection;
  logger: Logger;
  documents: TextDocuments<TextDocument>;
  workspace: WorkspaceApi;
  /** Ids for the suggestions' accept commands, and where next edits are quiet. */
  feedback: FeedbackApi;
  /** The local model's next-edit backend (its own context, in process or in the shared engine). */
  local: CompletionBackend;
  routing: Pick<RouterApi, "router" | "cloud" | "reportCloudProblem">;
  settings: () => Settings;
}

export interface NextEditApi {
  /** Feed for every applied document change (from the documents' change observer). */
  onChange(change: AppliedChange): void;
  configure(settings: Settings): void;
}

/**
 * Serves `textDocument/copilotInlineEdit`: the edit history is fed from every applied change,
 * which also cancels the suggestion in flight (typing makes it moot); a request for a version
 * the document no longer has, or whose document changes while the model runs, gets no edits.
 * The model runs where the router sends task "nextEdit" (local: it needs the raw prompt parts).
 */
export function registerNextEditHandlers(deps: NextEditDeps): NextEditApi {
  const { connection, logger, documents } = deps;
  const log = logger.child({ component: "nextEdit" });
  const history = new EditHistory();
  const backend = new RoutedCompletionBackend(deps.local, deps.routing.router, deps.routing.cloud, log, (error) => deps.routing.reportCloudProblem(error));
  const service = new NextEditService(backend, history, nextEditSettings(deps.settings()), log);

  documents.onDidClose((event) => history.forget(event.document.uri));

  connection.onRequest(
    CopilotInlineEditRequest.method,
    guard(logger, CopilotInlineEditRequest.method, async (params: CopilotInlineEditParams, signal): Promise<CopilotInlineEditResult> => {
      const { uri, version } = params.textDocument;
      const document = documents.get(uri);
      if (!document) {
        log.warn({ uri }, "next edit for a document that is not open; answering no edits");
        return { edits: [] };
      }
      if (document.version !== version) return { edits: [] };
      // Where the user keeps dismissing next edits, the editor's automatic requests get none for
      // a while (the model does not run); a request the user made is always answered.
      if (params.context?.triggerKind !== 1 && deps.feedback.quiet("nextEdit", document.languageId)) {
        log.debug({ uri, version, languageId: document.languageId, reason: "quiet" }, "next edit: none");
        return { edits: [] };
      }
      const outcome = await service.suggest(
        {
          uri,
          path: deps.workspace.locate(uri).relativePath,
          languageId: document.languageId,
          version,
          text: document.getText(),
          offset: document.offsetAt(params.position),
          currentVersion: () => documents.get(uri)?.version,
        },
        signal,
      );
      // The document object is updated in place: positions are only right for the version asked about.
      if (outcome.edits.length === 0 || documents.get(uri) !== document || document.version !== version) return { edits: [] };
      // One id for the whole suggestion: its edits are accepted (or dismissed) together.
      const id = deps.feedback.issue("nextEdit", document.languageId);
      return {
        edits: outcome.edits.map((e) => ({
          range: { start: document.positionAt(e.start), end: document.positionAt(e.end) },
          text: e.text,
          textDocument: { uri, version },
          command: { title: "Accept next edit", command: NextEditCommands.accepted, arguments: [{ uri, version, id }] },
        })),
      };
    }),
  );

  return {
    onChange(change) {
      history.record({ ...change, path: deps.workspace.locate(change.uri).relativePath });
      service.cancel();
    },
    configure(settings) {
      service.updateSettings(nextEditSettings(settings));
    },
  };
}
