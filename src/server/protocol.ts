/**
 * The custom LSP methods of ifai-lsp and their types: the one place both the server and the
 * editor clients (clients/vscode imports this module) take them from. Only plain types here, so
 * a client needs no server code to use it.
 */

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
  promptTokens: number;
  reusedTokens: number;
  evaluatedTokens: number;
  generatedTokens: number;
  stopReason?: string;
  detail?: string;
  /** Which backend served it: "local" or "cloud:<provider>". */
  backend?: string;
  /** Why, in words: the router's reasons, fallbacks included. */
  reason?: string;
}
export interface CompletionMetricsResult {
  records: CompletionMetricsRecord[];
  /** Resident memory of the server process, bytes. */
  rss: number;
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

/**
 * Model manager commands (`workspace/executeCommand`, advertised in executeCommandProvider).
 * list: no arguments → ModelsListResult. pull: [id or https URL] or [{ id, sha256?, name? }] →
 * ModelsPullResult, reporting `$/progress` on the request's workDoneToken (or a server-created
 * one when the client supports window.workDoneProgress). remove: [id] → ModelsRemoveResult.
 * verify: [id or file path] → ModelsVerifyResult. In privacy.localOnly mode pull is refused.
 */
export const ModelCommands = {
  list: "ifai.models.list",
  pull: "ifai.models.pull",
  remove: "ifai.models.remove",
  verify: "ifai.models.verify",
} as const;

export interface ModelInfo {
  id: string;
  name: string;
  source: "catalogue" | "custom";
  format: string;
  roles: readonly string[];
  licence?: string;
  parameters?: string;
  quantization?: string;
  description?: string;
  approxBytes: number;
  installed: boolean;
  partialBytes: number;
  installedBytes: number;
  path: string;
  /** The file configured as model.path. */
  inUse: boolean;
  hashKnown: boolean;
}
export interface ModelsListResult {
  modelsDir: string;
  models: ModelInfo[];
}
export interface ModelsPullArgs {
  id: string;
  sha256?: string;
  name?: string;
}
export interface ModelsPullResult {
  id: string;
  path: string;
  files: Array<{
    path: string;
    bytes: number;
    sha256: string;
    verifiedBy: "pinned" | "x-linked-etag" | "none";
    url: string;
    resumedFromBytes: number;
    ms: number;
    alreadyPresent: boolean;
  }>;
}
export interface ModelsRemoveResult {
  id: string;
  removed: string[];
  freedBytes: number;
}
export interface ModelsVerifyResult {
  id: string;
  ok: boolean;
  files: Array<{ path: string; status: "ok" | "mismatch" | "missing" | "unverified" | "not-gguf"; bytes?: number; sha256?: string; expected?: string; detail: string }>;
  ms: number;
}

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
