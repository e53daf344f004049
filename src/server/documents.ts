import { TextDocuments, type TextDocumentContentChangeEvent } from "vscode-languageserver/node";
import { TextDocument, type Position, type Range } from "vscode-languageserver-textdocument";
import type { Logger } from "../util/logger.js";

/**
 * The most UTF-16 code units one open document may hold (16 Mi, about 32 MB of string). Bigger
 * documents are not code a completion model can use, and a client that keeps appending must not be
 * able to grow the server's heap without bound.
 */
export const MAX_DOCUMENT_LENGTH = 16 * 1024 * 1024;

/**
 * Documents whose text went past the cap. Their content is kept empty: the real text is unknown
 * from then on (incremental edits against it are ignored) until the client sends the full text
 * again (reopen or a full-content change) and it fits.
 */
const oversized = new WeakSet<TextDocument>();

export function isOversized(document: TextDocument): boolean {
  return oversized.has(document);
}

/** A line or character number from the client, as a non-negative integer; anything else is 0. */
function coordinate(value: unknown): number {
  if (typeof value !== "number" || Number.isNaN(value) || value <= 0) return 0;
  return value >= Number.MAX_SAFE_INTEGER ? Number.MAX_SAFE_INTEGER : Math.floor(value);
}

/** A client position with usable coordinates; a negative line is before the document: its start. */
function position(value: unknown): Position {
  const p = (value !== null && typeof value === "object" ? value : {}) as { line?: unknown; character?: unknown };
  if (typeof p.line === "number" && p.line < 0) return { line: 0, character: 0 };
  return { line: coordinate(p.line), character: coordinate(p.character) };
}

/**
 * The offsets a client range denotes in `document`, clamped as the LSP spec says: a line past the
 * end means the end of the document, a character past the end of its line means the end of that
 * line (before its line break), a negative line means the start of the document, other negative or
 * non-numeric coordinates mean 0, and a range whose start lies after its end is taken with its ends
 * swapped. O(1) after the document's line table exists.
 */
export function clampRange(document: TextDocument, range: unknown): { start: number; end: number } {
  const r = (range !== null && typeof range === "object" ? range : {}) as { start?: unknown; end?: unknown };
  const a = document.offsetAt(position(r.start));
  const b = document.offsetAt(position(r.end));
  return a <= b ? { start: a, end: b } : { start: b, end: a };
}

export type DocumentWarning = (fields: Record<string, unknown>, message: string) => void;

/**
 * One change as it is applied, for the next-edit history: the text before it, the replaced
 * offsets (clamped), the new text and the line of its start. A full-text change is narrowed to
 * the part that differs first.
 */
export interface AppliedChange {
  uri: string;
  version: number;
  text: string;
  start: number;
  end: number;
  insert: string;
  line: number;
}
export type ChangeObserver = (change: AppliedChange) => void;

/**
 * Applies `changes` to `document` (in place, like `TextDocument.update`): each incremental range
 * is clamped first, so the implementation's line table only ever sees positions inside the text
 * (a raw line of 1e9 made it write a sparse array of a billion entries). Malformed changes are
 * skipped with a warning; a change that would take the text past MAX_DOCUMENT_LENGTH empties the
 * document and marks it oversized.
 */
export function applyChanges(document: TextDocument, changes: unknown, version: number, warn: DocumentWarning, observe?: ChangeObserver): TextDocument {
  if (!Array.isArray(changes)) {
    warn({ uri: document.uri }, "didChange without a contentChanges array ignored");
    return document;
  }
  for (const change of changes as unknown[]) {
    const c = (change !== null && typeof change === "object" ? change : {}) as { range?: unknown; text?: unknown };
    if (typeof c.text !== "string") {
      warn({ uri: document.uri }, "content change without text ignored");
      continue;
    }
    if (c.range === undefined) {
      if (observe && !oversized.has(document) && c.text.length <= MAX_DOCUMENT_LENGTH) observeFull(document, c.text, version, observe);
      replaceAll(document, c.text, version, warn);
      continue;
    }
    if (oversized.has(document)) continue;
    const { start, end } = clampRange(document, c.range);
    const length = document.getText().length - (end - start) + c.text.length;
    if (length > MAX_DOCUMENT_LENGTH) {
      replaceAll(document, "", version, warn, length);
      continue;
    }
    const clamped: Range = { start: document.positionAt(start), end: document.positionAt(end) };
    observe?.({ uri: document.uri, version, text: document.getText(), start, end, insert: c.text, line: clamped.start.line });
    TextDocument.update(document, [{ range: clamped, text: c.text }], version);
  }
  TextDocument.update(document, [], version);
  return document;
}

/** Reports a full-text change as the one span that differs (common prefix and suffix left out). */
function observeFull(document: TextDocument, after: string, version: number, observe: ChangeObserver): void {
  const before = document.getText();
  const max = Math.min(before.length, after.length);
  let prefix = 0;
  while (prefix < max && before.charCodeAt(prefix) === after.charCodeAt(prefix)) prefix++;
  let suffix = 0;
  while (suffix < max - prefix && before.charCodeAt(before.length - 1 - suffix) === after.charCodeAt(after.length - 1 - suffix)) suffix++;
  if (prefix === before.length && prefix === after.length) return;
  const line = document.positionAt(prefix).line;
  observe({ uri: document.uri, version, text: before, start: prefix, end: before.length - suffix, insert: after.slice(prefix, after.length - suffix), line });
}

function replaceAll(document: TextDocument, text: string, version: number, warn: DocumentWarning, length = text.length): void {
  if (length > MAX_DOCUMENT_LENGTH) {
    if (!oversized.has(document)) warn({ uri: document.uri, length, cap: MAX_DOCUMENT_LENGTH }, "document exceeds the size cap: its text is dropped until the client sends a full text that fits");
    oversized.add(document);
    TextDocument.update(document, [{ text: "" }], version);
    return;
  }
  oversized.delete(document);
  TextDocument.update(document, [{ text }], version);
}

/** Creates a document from a client's didOpen, with the same cap and type checks as edits. */
export function createDocument(uri: string, languageId: string, version: number, content: unknown, warn: DocumentWarning): TextDocument {
  const document = TextDocument.create(uri, languageId, version, "");
  if (typeof content !== "string") {
    warn({ uri }, "didOpen without text: the document is opened empty");
    return document;
  }
  replaceAll(document, content, version, warn);
  return document;
}

/**
 * The open documents with incremental sync, hardened against hostile input: the
 * `TextDocuments(TextDocument)` of vscode-languageserver with `update` and `create` replaced by
 * the clamping versions above. `logger` is read at each warning because the server replaces its
 * logger once the settings are known.
 */
export function createDocuments(logger: () => Logger, observe?: ChangeObserver): TextDocuments<TextDocument> {
  const warn: DocumentWarning = (fields, message) => logger().warn(fields, message);
  return new TextDocuments<TextDocument>({
    create: (uri, languageId, version, content) => createDocument(uri, languageId, version, content, warn),
    update: (document, changes: TextDocumentContentChangeEvent[], version) => applyChanges(document, changes, version, warn, observe),
  });
}
