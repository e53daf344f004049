/** Plain types of the completion feature; the server converts LSP positions to these offsets. */

export interface DocumentSnapshot {
  uri: string;
  languageId: string;
  version: number;
  text: string;
}

export interface CompletionRequest {
  document: DocumentSnapshot;
  /** Cursor position as a UTF-16 offset into document.text (JavaScript string index). */
  offset: number;
  /** "invoked" when the user asked explicitly; it bypasses cached empty answers. */
  trigger: "automatic" | "invoked";
  /** Path shown to the model for the current file, relative to its workspace folder when there is one. */
  relativePath: string;
  /** Name of the repository (workspace folder) for the repo-level prompt. */
  repoName: string;
  /** The path the model sees for another document (relative to its workspace folder). */
  displayPath: (uri: string) => string;
  /** Other open documents, for cross-file snippets. */
  otherDocuments: () => DocumentSnapshot[];
}

export interface CompletionSuggestion {
  /** Text that replaces document.text.slice(replaceStart, replaceEnd). */
  insertText: string;
  replaceStart: number;
  replaceEnd: number;
}

export type CompletionSource =
  | "model"
  | "cache"
  | "typed-through"
  | "superseded"
  | "cancelled"
  | "unavailable"
  | "disabled"
  | "skipped";

/**
 * Which prompt a request or prefill used: the document's full prompt, or its short first prompt
 * (a small prefix window and no snippets) while the full one is not evaluated yet.
 */
export type PromptLane = "full" | "first";

export interface CompletionMetrics {
  requestId: number;
  uri: string;
  source: CompletionSource;
  mode?: "single-line" | "multi-line";
  /** Milliseconds from the request reaching the feature to its answer. */
  totalMs: number;
  /** Milliseconds from the request reaching the feature to the first generated token. */
  firstTokenMs?: number;
  /** Milliseconds from the request reaching the feature until the local model's sequence was free (the request before it stopped). */
  waitMs?: number;
  promptTokens: number;
  reusedTokens: number;
  evaluatedTokens: number;
  generatedTokens: number;
  stopReason?: string;
  /** Which prompt it used (model requests only). */
  lane?: PromptLane;
  /** Why a request was skipped or unavailable. */
  detail?: string;
  /** Which backend served it ("local" or "cloud:<provider>"), when a routing backend is in use. */
  backend?: string;
  /** Why that backend served it: the router's reasons, fallbacks included. */
  reason?: string;
}

export interface CompletionOutcome {
  suggestions: CompletionSuggestion[];
  metrics: CompletionMetrics;
}

export interface Snippet {
  /** Path shown to the model, relative to the workspace when possible. */
  path: string;
  text: string;
  score: number;
  /** The document it came from: the privacy gate decides by it whether the snippet may go to a cloud API. */
  uri?: string;
}
