import {
  CompletionItemKind,
  InlineCompletionTriggerKind,
  InsertTextFormat,
  MarkupKind,
  type CompletionItem,
  type CompletionList,
  type CompletionParams,
  type Connection,
  type InlineCompletionList,
  type InlineCompletionParams,
  type TextDocuments,
} from "vscode-languageserver/node";
import type { TextDocument } from "vscode-languageserver-textdocument";
import type { CompletionService } from "../features/completion/CompletionService.js";
import type { CompletionRequest, DocumentSnapshot } from "../features/completion/types.js";
import type { Logger } from "../util/logger.js";
import type { FeedbackApi } from "./feedbackHandlers.js";
import { guard } from "./guard.js";
import { CompletionCommands } from "./protocol.js";
import type { WorkspaceApi } from "./workspace.js";

export interface CompletionHandlerDeps {
  connection: Connection;
  logger: Logger;
  documents: TextDocuments<TextDocument>;
  workspace: WorkspaceApi;
  service: CompletionService;
  inline: boolean;
  items: () => boolean;
  /** Ids for the inline items' accept command, and where automatic ghost text is quiet. */
  feedback?: Pick<FeedbackApi, "issue" | "quiet">;
  /** Told the cursor of every completion request (the prefill learns where the user is). */
  onRequest?: (document: TextDocument, offset: number) => void;
}

/** The feature's request for a cursor in an open document. */
export function completionRequestFor(
  deps: Pick<CompletionHandlerDeps, "documents" | "workspace">,
  document: TextDocument,
  offset: number,
  trigger: CompletionRequest["trigger"],
): CompletionRequest {
  const location = deps.workspace.locate(document.uri);
  return {
    document: snapshot(document),
    offset,
    trigger,
    relativePath: location.relativePath,
    repoName: location.repoName,
    displayPath: (uri) => deps.workspace.locate(uri).relativePath,
    otherDocuments: () => deps.documents.all().filter((d) => d.uri !== document.uri).map(snapshot),
  };
}

/** Characters after which editors without inline completion ask for items. */
export const COMPLETION_TRIGGER_CHARACTERS = [".", "(", "[", "{", ",", ":", "=", " "];

/**
 * Serves AI completions two ways: `textDocument/inlineCompletion` (ghost text, LSP 3.18) for
 * clients that have it, and `textDocument/completion` items for the many that do not. Both go
 * through the same service, so typing-through and the cache serve both.
 */
export function registerCompletionHandlers(deps: CompletionHandlerDeps): void {
  const { connection, logger, documents } = deps;

  const toRequest = (document: TextDocument, offset: number, trigger: CompletionRequest["trigger"]): CompletionRequest => {
    deps.onRequest?.(document, offset);
    return completionRequestFor(deps, document, offset, trigger);
  };

  if (deps.inline) {
    connection.languages.inlineCompletion.on(
      guard(logger, "textDocument/inlineCompletion", async (params: InlineCompletionParams, signal): Promise<InlineCompletionList> => {
        const document = documents.get(params.textDocument.uri);
        if (!document) {
          logger.warn({ uri: params.textDocument.uri }, "inline completion for a document that is not open; answering empty");
          return { items: [] };
        }
        const offset = document.offsetAt(params.position);
        const trigger = params.context?.triggerKind === InlineCompletionTriggerKind.Invoked ? "invoked" : "automatic";
        // Where the user keeps dismissing ghost text, automatic requests get none for a while.
        if (trigger === "automatic" && deps.feedback?.quiet("completion", document.languageId)) return { items: [] };
        const outcome = await deps.service.complete(toRequest(document, offset, trigger), signal);
        return {
          items: outcome.suggestions.map((s) => ({
            insertText: s.insertText,
            range: { start: document.positionAt(s.replaceStart), end: document.positionAt(s.replaceEnd) },
            // Run by the client when the user accepts the whole item (Copilot's items carry one too).
            ...(deps.feedback
              ? { command: { title: "Accept completion", command: CompletionCommands.accepted, arguments: [{ id: deps.feedback.issue("completion", document.languageId) }] } }
              : {}),
          })),
        };
      }),
    );
  }

  connection.onCompletion(
    guard(logger, "textDocument/completion", async (params: CompletionParams, signal): Promise<CompletionList> => {
      const empty: CompletionList = { isIncomplete: true, items: [] };
      if (!deps.items()) return { isIncomplete: false, items: [] };
      const document = documents.get(params.textDocument.uri);
      if (!document) {
        logger.warn({ uri: params.textDocument.uri }, "completion for a document that is not open; answering empty");
        return empty;
      }
      const offset = document.offsetAt(params.position);
      const outcome = await deps.service.complete(toRequest(document, offset, "automatic"), signal);
      const text = document.getText();
      const wordStart = currentWordStart(text, offset);
      const word = text.slice(wordStart, offset);
      const items: CompletionItem[] = outcome.suggestions.map((s) => {
        const newText = word + s.insertText;
        return {
          label: itemLabel(newText),
          kind: CompletionItemKind.Text,
          detail: outcome.metrics.backend?.startsWith("cloud:") ? `ifai (${outcome.metrics.backend.slice(6)}, cloud)` : "ifai (local model)",
          documentation: { kind: MarkupKind.Markdown, value: "```" + document.languageId + "\n" + newText + "\n```" },
          filterText: newText,
          sortText: "0",
          insertTextFormat: InsertTextFormat.PlainText,
          // The item replaces the word typed so far, so editors that filter by that word keep it.
          textEdit: { range: { start: document.positionAt(wordStart), end: document.positionAt(s.replaceEnd) }, newText },
        };
      });
      // Incomplete: the answer depends on the exact text typed, so the editor must ask again.
      return { isIncomplete: true, items };
    }),
  );
}

function snapshot(document: TextDocument): DocumentSnapshot {
  return { uri: document.uri, languageId: document.languageId, version: document.version, text: document.getText() };
}

function currentWordStart(text: string, offset: number): number {
  let start = offset;
  while (start > 0 && /[\p{L}\p{N}_$]/u.test(text[start - 1]!)) start--;
  return start;
}

function itemLabel(text: string): string {
  const firstLine = text.split(/\r?\n/, 1)[0]!.trim();
  const label = firstLine.length > 60 ? `${firstLine.slice(0, 59)}…` : firstLine;
  return text.includes("\n") ? `${label} …` : label || "…";
}
