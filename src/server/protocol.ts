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
}
export interface CompletionMetricsResult {
  records: CompletionMetricsRecord[];
  /** Resident memory of the server process, bytes. */
  rss: number;
}

/** `initializationOptions` may carry any setting (nested or dotted keys), e.g. { completion: { inline: "on" } }. */
export type InitializationOptions = Record<string, unknown>;
