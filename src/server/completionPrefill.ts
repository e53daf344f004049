import type { Connection, TextDocuments } from "vscode-languageserver/node";
import type { TextDocument } from "vscode-languageserver-textdocument";
import type { CompletionService } from "../features/completion/CompletionService.js";
import type { CompletionRequest } from "../features/completion/types.js";
import { LruCache } from "../util/LruCache.js";
import type { Logger } from "../util/logger.js";
import { clampRange } from "./documents.js";
import { DidFocusNotification, type DidFocusParams } from "./protocol.js";

export interface CompletionPrefillDeps {
  connection: Connection;
  logger: Logger;
  documents: TextDocuments<TextDocument>;
  service: CompletionService;
  toRequest: (document: TextDocument, offset: number) => CompletionRequest;
  /** `ifai/didFocus` came: this window is in front of the user (the shared engine serves it first). */
  onFocus?: () => void;
}

export interface CompletionPrefillApi {
  /** A completion request arrived for `uri` at `offset`: the cursor is known and no pause prefill is due. */
  noteRequest(document: TextDocument, offset: number): void;
}

/**
 * After an edit with no completion request for this long, the user has paused: warm the prompt at
 * their cursor (clients that ask for completion items only at trigger characters leave such gaps).
 */
export const PAUSE_MS = 300;

/**
 * Learns which document is in front of the user, and has the completion service evaluate that
 * document's prompt while the model is idle.
 *
 * The document in front is the one last opened, last named by `ifai/didFocus` (sent by the
 * project's own clients when a window or buffer gains focus), or last edited. Where the cursor is
 * comes from `ifai/didFocus`'s position or the last completion request in the document, moved by
 * the length the document changed since (typing at the cursor moves it by exactly that); without
 * either, the window from the top of the file is evaluated, which serves any cursor in its reach.
 */
export function registerCompletionPrefill(deps: CompletionPrefillDeps): CompletionPrefillApi {
  const { connection, logger, documents, service } = deps;
  /** The last known cursor per document, with the document's length at that moment. */
  const cursors = new LruCache<string, { offset: number; length: number }>(64);
  let focused: string | undefined;
  /** didOpen also fires a content change; that one is not an edit. */
  let opening: string | undefined;
  let pauseTimer: NodeJS.Timeout | undefined;

  const cancelPause = (): void => {
    if (pauseTimer) clearTimeout(pauseTimer);
    pauseTimer = undefined;
  };

  const start = (document: TextDocument, reason: "open" | "focus" | "pause", offset: number | undefined): void => {
    const request = deps.toRequest(document, offset ?? 0);
    void service.prefill(request, reason, offset === undefined ? "top" : "cursor").then(
      (record) => logger.debug({ ...record }, "prefill"),
      (error: unknown) => logger.warn({ err: error, uri: document.uri }, "prefill failed"),
    );
  };

  /** The cursor guessed from the last request in the document and the edits since. */
  const guessCursor = (document: TextDocument): number | undefined => {
    const known = cursors.get(document.uri);
    if (!known) return undefined;
    const length = document.getText().length;
    return Math.max(0, Math.min(length, known.offset + (length - known.length)));
  };

  documents.onDidOpen((event) => {
    focused = event.document.uri;
    opening = event.document.uri;
    cancelPause();
    start(event.document, "open", undefined);
  });

  documents.onDidChangeContent((event) => {
    const document = event.document;
    if (opening === document.uri) {
      opening = undefined;
      return;
    }
    opening = undefined;
    // An edit in another document makes it the one being edited; the request that usually
    // follows the keystroke finds its KV state kept (one sequence per recent document).
    focused = document.uri;
    cancelPause();
    pauseTimer = setTimeout(() => {
      pauseTimer = undefined;
      const current = documents.get(document.uri);
      if (!current || focused !== document.uri) return;
      start(current, "pause", guessCursor(current));
    }, PAUSE_MS);
    pauseTimer.unref();
  });

  documents.onDidClose((event) => {
    cursors.delete(event.document.uri);
    if (focused === event.document.uri) {
      focused = undefined;
      cancelPause();
    }
  });

  connection.onNotification(DidFocusNotification.method, (params: DidFocusParams | undefined) => {
    // The window is in front even when the document is not one the server knows.
    deps.onFocus?.();
    const uri = params?.textDocument?.uri;
    const document = typeof uri === "string" ? documents.get(uri) : undefined;
    if (!document) {
      logger.debug({ uri }, "ifai/didFocus for a document that is not open; ignored");
      return;
    }
    focused = document.uri;
    cancelPause();
    let offset: number | undefined;
    if (params?.position !== undefined) {
      // The same clamping as every client range: a hostile position lands inside the document.
      offset = clampRange(document, { start: params.position, end: params.position }).start;
      cursors.set(document.uri, { offset, length: document.getText().length });
    } else {
      offset = guessCursor(document);
    }
    start(document, "focus", offset);
  });

  return {
    noteRequest(document, offset) {
      cursors.set(document.uri, { offset, length: document.getText().length });
      if (focused === document.uri) cancelPause();
    },
  };
}
