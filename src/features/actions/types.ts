import type { ChatTurn, StopReason } from "../../inference/types.js";
import type { ContextResult, BuildContextParams } from "../../index/types.js";
import type { TaskType } from "../../config/tasks.js";

/** The AI code actions, by what they do to the code. */
export type ActionKind = "rewrite" | "docs" | "extract" | "tests" | "fix" | "explain";

/** A zero-based position, characters in UTF-16 code units (as documents are strings here). */
export interface Pos {
  line: number;
  character: number;
}

export interface Span {
  start: Pos;
  end: Pos;
}

export interface Diagnostic {
  message: string;
  range: Span;
  source?: string;
  code?: string | number;
}

/** What one action works on: a snapshot of the document and where the user is. */
export interface ActionTarget {
  uri: string;
  /** File system path of the document, when it is a file: URI. */
  filePath?: string;
  languageId: string;
  text: string;
  /** The selection (start = end at a cursor). */
  range: Span;
  /** For fix: the diagnostic to fix. */
  diagnostic?: Diagnostic;
}

/** One text replacement in a file, in document coordinates. */
export interface TextChange {
  range: Span;
  newText: string;
}

export interface FileChange {
  uri: string;
  /** A file that does not exist yet: the client creates it before applying the changes. */
  create?: boolean;
  changes: TextChange[];
}

export interface ActionOutcome {
  /** The edit to offer, when there is one. */
  edit?: FileChange[];
  /** For explain: the answer. */
  explanation?: string;
  /** Something the user must read: why nothing was applied, a default that was assumed. */
  message?: string;
  /** True when the action produced nothing usable (the message says why). */
  refused?: boolean;
  /** Who answered ("local" or "cloud:<provider>") and why. */
  servedBy?: string;
  reason?: string;
  model?: string;
  /** Context chunks from the index used in the prompt. */
  sources?: Array<{ uri: string; range: Span; score: number }>;
}

export interface RoutedChatRequest {
  task: TaskType;
  messages: ChatTurn[];
  maxTokens: number;
  maxTimeMs: number;
  temperature: number;
  uri?: string;
  /** Every other file whose content is in the messages (context chunks, the existing test file), for the privacy gate. */
  sources: readonly string[];
  /** Forces a backend (the cloud retry of a reply that broke the syntax). */
  override?: "local" | "cloud";
  onText?: (textSoFar: string) => void;
}

export interface RoutedChatAnswer {
  text: string;
  stopReason: StopReason;
  servedBy: string;
  reason: string;
  model?: string;
}

/** Runs a chat where the router decides; undefined when it was cancelled. */
export type RoutedChat = (request: RoutedChatRequest, signal: AbortSignal) => Promise<RoutedChatAnswer | undefined>;

/** The index's context builder (IndexService.buildContext), or nothing when there is no index. */
export type ContextBuilder = (params: BuildContextParams) => Promise<ContextResult>;

/** Reads files the action needs to look at (package.json, existing tests); undefined when missing. */
export interface ProjectFiles {
  read(filePath: string): Promise<string | undefined>;
  exists(filePath: string): Promise<boolean>;
  list(dir: string): Promise<string[]>;
}

export interface ActionSettings {
  maxTokens: number;
  maxTimeMs: number;
  temperature: number;
  contextTokens: number;
  /** Ask the cloud once more when the local reply could not be used, where the router allows it. */
  cloudRetry: boolean;
}
