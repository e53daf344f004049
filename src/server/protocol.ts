/**
 * The custom LSP methods of ifai-lsp and their types: the one place both the server and the
 * editor clients (clients/vscode imports this module) take them from. Only plain types here, so
 * a client needs no server code to use it.
 */
// Split by area to keep files small; this module stays the one place clients import from.
export * from "./protocol/models.js";
export * from "./protocol/chat.js";
export * from "./protocol/feedback.js";
import type { FeedbackStatus } from "./protocol/feedback.js";

export type ModelState = "unloaded" | "loading" | "ready" | "error";

/** `ifai/status` (server → client notification): sent whenever something a status line shows changes. */
export const StatusNotification = { method: "ifai/status" } as const;
export interface StatusParams {
  model: {
    state: ModelState;
    path: string;
    /** For "error": what is wrong and what to configure. */
    message?: string;
    gpu?: string;
    threads?: number;
    lastTokensPerSecond?: number;
  };
  completion: { enabled: boolean; inline: boolean };
  /** The router's global preference and where it came from (the setting, or ifai.switchBackend). */
  backend?: { preference: "auto" | "local" | "cloud"; source: "settings" | "command"; localOnly: boolean };
  /** The codebase index: its state and search mode. */
  index?: { state: IndexStateName; mode: "lexical" | "hybrid"; chunks: number };
  /** The last chat answer: who served it and how fast it streamed. */
  chat?: { busy: boolean; lastServedBy?: string; lastTokensPerSecond?: number };
  /** What became of the suggestions shown (stored locally only), and where they are quiet now. */
  feedback?: FeedbackStatus;
}

/**
 * `ifai/didFocus` (client → server notification): the editor shows this document to the user
 * (a window or tab got focus, or the cursor rested somewhere new). The server evaluates the
 * document's prompt in the background so the first suggestion there is fast, and on the shared
 * engine this window's completions go before other windows' from then on. `position` is the
 * cursor when the client knows it; without it the server assumes the top of the file.
 */
export const DidFocusNotification = { method: "ifai/didFocus" } as const;
export interface DidFocusParams {
  textDocument: { uri: string };
  position?: { line: number; character: number };
}

/** One background prefill, as `ifai/completionMetrics` reports it. */
export interface PrefillMetricsRecord {
  uri: string;
  /** What started it: open (didOpen), focus (ifai/didFocus or an edit in another document), pause (no request after an edit), upgrade (an answer came from the short first prompt). */
  reason: "open" | "focus" | "pause" | "upgrade";
  /** Which prompt: the document's full one, or its short first one (completion.firstPrefixTokens). */
  lane: "full" | "first";
  /** done: the prompt is cached; aborted: a request or a newer prefill stopped it; skipped: nothing evaluated (see detail). */
  state: "done" | "aborted" | "skipped";
  promptTokens: number;
  reusedTokens: number;
  evaluatedTokens: number;
  totalMs: number;
  detail?: string;
}

/** `ifai/completionMetrics` (client → server request): timings and token counts of recent completions. */
export const CompletionMetricsRequest = { method: "ifai/completionMetrics" } as const;
export interface CompletionMetricsParams {
  /** Only the last N records (default: all kept, up to 500). */
  last?: number;
}
export interface CompletionMetricsRecord {
  requestId: number;
  uri: string;
  /** model | cache | typed-through | superseded | cancelled | unavailable | disabled | skipped */
  source: string;
  mode?: "single-line" | "multi-line";
  totalMs: number;
  firstTokenMs?: number;
  /** Of firstTokenMs, the wait for the local model's sequence (the request before it ending its evaluation step). */
  waitMs?: number;
  promptTokens: number;
  reusedTokens: number;
  evaluatedTokens: number;
  generatedTokens: number;
  stopReason?: string;
  /** Which prompt a model request used: the document's full one, or its short first one. */
  lane?: "full" | "first";
  detail?: string;
  /** Which backend served it: "local" or "cloud:<provider>". */
  backend?: string;
  /** Why, in words: the router's reasons, fallbacks included. */
  reason?: string;
}
export interface CompletionMetricsResult {
  records: CompletionMetricsRecord[];
  /** Recent background prefills (ifai/didFocus, didOpen, pauses), oldest first; `last` applies too. */
  prefills?: PrefillMetricsRecord[];
  /** Documents whose prompt the local model holds evaluated, most recently used first. */
  warmDocuments?: string[];
  /** Resident memory of the server process, bytes. */
  rss: number;
  /** Where that memory is (anonymous vs file-backed, V8 heap), bytes. */
  memory?: MemorySnapshot;
}
/**
 * Where the server's resident memory is, bytes. `anon` is what only this process holds (heaps,
 * KV cache, llama.cpp buffers, and the GGUF weights, which are read into memory rather than mapped
 * from the file so that replacing the file cannot crash the server), `file` the file-backed rest
 * (the node binary, libraries).
 */
export interface MemorySnapshot {
  rss: number;
  /** Anonymous resident memory (Linux only). */
  anon?: number;
  /** File-backed resident memory (Linux only). */
  file?: number;
  /** V8's heap: committed and in use. */
  heapTotal: number;
  heapUsed: number;
  /** Memory of JS objects held outside V8's heap (Buffers, ArrayBuffers). */
  external: number;
  arrayBuffers: number;
}

/** `ifai/indexStatus` (client → server request): the state of the codebase index. */
export const IndexStatusRequest = { method: "ifai/indexStatus" } as const;
export type IndexStateName = "disabled" | "starting" | "scanning" | "indexing" | "ready" | "error";
export interface IndexFolderStatus {
  /** Workspace folder URI. */
  folder: string;
  state: IndexStateName;
  /** LanceDB URI of the folder's index. */
  location: string;
  table: string;
  readOnly: boolean;
  files: number;
  indexedFiles: number;
  /** Found but not indexed: binary, minified, generated, invalid UTF-8, secret content, empty. */
  skippedFiles: number;
  chunks: number;
  /** Files done / to do in the current pass. */
  progress?: { done: number; total: number };
  lastIndexedAt?: string;
  message?: string;
}
export interface IndexStatusResult {
  state: IndexStateName;
  /** "lexical": full-text search; "hybrid": vector + full-text with reciprocal-rank fusion. */
  mode: "lexical" | "hybrid";
  /** Embedding model id when hybrid. */
  model?: string;
  folders: IndexFolderStatus[];
  message?: string;
}

/** `initializationOptions` may carry any setting (nested or dotted keys), e.g. { completion: { inline: "on" } }. */
export type InitializationOptions = Record<string, unknown>;

/** `ifai/routeLog` (client → server request): the router's recent decisions, with counts. */
export const RouteLogRequest = { method: "ifai/routeLog" } as const;
export interface RouteLogParams {
  /** Only the last N decisions (default: all kept, router.logSize). */
  last?: number;
}
export interface RouteLogDecision {
  id: number;
  /** ISO time. */
  time: string;
  /** completion | simpleRefactor | unitTests | architecture | deepRefactor | chat | explain | fix | docs */
  task: string;
  contextTokens: number;
  /** Whether contextTokens is exact or an upper bound from the budgets. */
  exact: boolean;
  /** The backend decided on: "local" or "cloud". */
  backend: "local" | "cloud";
  provider?: string;
  /** What decided: override | preference | rule:<id> | auto-default | low-end | local-unavailable | cooldown | local-only | sensitive | no-cloud */
  rule: string;
  /** The decision in words, e.g. "completion, 1,210 tokens < 2,048 → local". */
  reasons: string[];
  /** Where a failure may fall back to, when allowed. */
  fallback?: "local" | "cloud";
  /** Why a cloud route was refused (local-only mode, a sensitive file). */
  refused?: string;
  outcome?: {
    /** "local", "cloud:<provider>" or "none". */
    servedBy: string;
    status: "ok" | "fallback" | "error" | "cancelled";
    ms: number;
    error?: string;
    attempts?: number;
  };
}
export interface RouteLogResult {
  decisions: RouteLogDecision[];
  counts: {
    /** Every decision since the server started. */
    total: number;
    decided: Partial<Record<"local" | "cloud", number>>;
    servedBy: Record<string, number>;
    rule: Record<string, number>;
    status: Record<string, number>;
  };
  /** The settings the router works with now, in words (preference, local-only, providers). */
  summary: string[];
}

/**
 * Model, backend and index commands (`workspace/executeCommand`).
 * loadModel: [] → ModelStatusResult (loads now). unloadModel: [] → ModelStatusResult.
 * downloadModel: like ifai.models.pull (id or URL, `$/progress`) → ModelsPullResult.
 * modelStatus: [] → ModelStatusResult. switchBackend: ["Local" | "Cloud" | "Auto"] → SwitchBackendResult
 * (the router's global preference until the setting router.preference changes).
 * reindex: [] → IndexStatusResult (after the restart began). explainRoute: [{ task?, contextTokens?, uri?, backend? }]
 * → the decision with reasons, without running anything. chat: [ChatParams] → ChatResponse, streaming through
 * `ifai/chatDelta` (for clients that cannot send custom requests).
 */
export const ServerCommands = {
  loadModel: "ifai.loadModel",
  unloadModel: "ifai.unloadModel",
  downloadModel: "ifai.downloadModel",
  modelStatus: "ifai.modelStatus",
  switchBackend: "ifai.switchBackend",
  reindex: "ifai.reindex",
  explainRoute: "ifai.explainRoute",
  chat: "ifai.chat",
} as const;
export interface ModelStatusResult {
  state: ModelState;
  path: string;
  message?: string;
  gpu?: string;
  threads?: number;
  loadMs?: number;
  contextSize?: number;
  lastTokensPerSecond?: number;
  notice?: string;
  /**
   * Where the model runs: "in-process" (this server holds it) or "shared" (one engine process
   * holds it for every editor window; `pid` and `clients` once connected). `fallback`: why a
   * shared engine could not be started, so this server runs the model in process.
   */
  engine?: { mode: "in-process" | "shared"; pid?: number; clients?: number; models?: number; fallback?: string };
}
export interface SwitchBackendResult {
  preference: "auto" | "local" | "cloud";
  previous: "auto" | "local" | "cloud";
  /** The router's settings in words after the switch. */
  summary: string[];
}
export interface ExplainRouteArgs {
  task?: string;
  contextTokens?: number;
  uri?: string;
  backend?: "local" | "cloud" | "auto";
}
export type ExplainRouteResult = Omit<RouteLogDecision, "id" | "time" | "outcome">;

/**
 * AI code actions. `textDocument/codeAction` lists them without a model call; clients with
 * `codeAction.resolveSupport` (properties include "edit") get the edit from `codeAction/resolve`;
 * others get a command, `ifai.codeAction` with [CodeActionData], which computes the edit and
 * applies it through `workspace/applyEdit` (→ CodeActionRunResult). Explain always runs as that
 * command: the answer streams as `ifai/chatDelta` (chatId "explain-N"), then comes as a
 * `window/showMessage` and in the result.
 */
export const ActionCommands = { run: "ifai.codeAction" } as const;
export interface CodeActionData {
  ifai: "action";
  kind: "rewrite" | "docs" | "extract" | "tests" | "fix" | "explain";
  uri: string;
  range: { start: { line: number; character: number }; end: { line: number; character: number } };
  diagnostic?: { message: string; range: { start: { line: number; character: number }; end: { line: number; character: number } }; source?: string; code?: string | number };
}
export interface CodeActionRunResult {
  /** "applied": the client applied the edit; "rejected": it refused it; "refused": nothing usable was generated; "explained"; "cancelled". */
  status: "applied" | "rejected" | "refused" | "explained" | "cancelled";
  message?: string;
  explanation?: string;
  /** For explain: the id of the `ifai/chatDelta` notifications that streamed the explanation. */
  chatId?: string;
  servedBy?: string;
  reason?: string;
}

/**
 * `textDocument/copilotInlineEdit` (client → server request): a next-edit suggestion, with the
 * shapes of GitHub Copilot's language server so the clients written for it (copilot-lsp and
 * sidekick.nvim for Neovim, copilot.el for Emacs) can use ifai-lsp. The edits are against the
 * version asked about, in document order and non-overlapping, and meant to be applied together;
 * none come back when the document has moved on. Each carries a command the client runs when the
 * user accepts it.
 */
export const CopilotInlineEditRequest = { method: "textDocument/copilotInlineEdit" } as const;
export interface CopilotInlineEditParams {
  textDocument: { uri: string; version: number };
  position: { line: number; character: number };
  context?: CopilotInlineEditContext;
}
export interface CopilotInlineEdit {
  range: { start: { line: number; character: number }; end: { line: number; character: number } };
  text: string;
  textDocument: { uri: string; version: number };
  command?: { title: string; command: string; arguments?: unknown[] };
}
export interface CopilotInlineEditResult {
  edits: CopilotInlineEdit[];
}
/** The command in each next edit: the client runs it when the user accepts the suggestion (arguments: `[{ uri, version, id }]`, the same in every edit of one suggestion). */
export const NextEditCommands = { accepted: "ifai.nextEdit.accepted" } as const;
/**
 * `context` of a `textDocument/copilotInlineEdit` request (ifai's addition; Copilot's clients
 * leave it out): triggerKind 1 is a request the user made (a key), 2 (the default) one the editor
 * made after a pause. A request the user made is answered even where next edits are quiet.
 */
export interface CopilotInlineEditContext {
  triggerKind: 1 | 2;
}

