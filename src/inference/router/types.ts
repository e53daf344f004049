import type { TaskType } from "../../config/tasks.js";

export type Preference = "auto" | "local" | "cloud";
export type BackendKind = "local" | "cloud";

/** One rule of the engine: when it matches a request in auto mode, it names the backend. */
export interface Rule {
  /** Stable name, used for counts in the route log. */
  id: string;
  /** The task types it applies to; absent: every task. */
  tasks?: readonly TaskType[];
  /** Matches when the context has fewer tokens than this. */
  below?: number;
  /** Matches when the context has more tokens than this. */
  above?: number;
  backend: BackendKind;
}

export interface RouterConfig {
  preference: Preference;
  /** Per task type; a task absent here follows `preference`. */
  taskPreference: Partial<Record<TaskType, Preference>>;
  /** Tried in order in auto mode; the first match decides. */
  rules: readonly Rule[];
  localOnly: boolean;
  /** What turned local-only mode on, as the user would change it (privacy.localOnly or IFAI_LOCAL_ONLY). */
  localOnlyBy?: string;
  /** Auto prefers the cloud when the local model's measured speed is below this (0: off). */
  minLocalTokensPerSecond: number;
  fallback: boolean;
  /** After a failed cloud request, auto routes stay local this long. */
  cooldownMs: number;
  logSize: number;
}

/** What the router is asked to decide. */
export interface RouteRequest {
  task: TaskType;
  /** Tokens of context: exact, or an upper bound when `countContextTokens` can give the exact number. */
  contextTokens: number;
  /** Counts exactly; called only when the bound leaves a rule undecided (tokenizing costs time per keystroke). */
  countContextTokens?: () => number;
  override?: BackendKind;
  /** The document (URI or path), to keep sensitive files away from cloud APIs. */
  uri?: string;
  /**
   * Every other file whose content is in the request (context chunks, an existing test file, an
   * open document's snippet), as URIs or absolute paths. Each must pass the privacy gate's context
   * check (secrets by name, ignore files, inside a workspace folder) or the cloud is refused.
   */
  sources?: readonly string[];
  /** Whether a cloud backend could serve this request at all (e.g. completion needs the raw FIM parts). */
  cloudCapable?: boolean;
}

export interface RouteDecision {
  id: number;
  /** ISO time of the decision. */
  time: string;
  task: TaskType;
  contextTokens: number;
  /** Whether contextTokens is exact or an upper bound. */
  exact: boolean;
  backend: BackendKind;
  /** The cloud provider when backend is "cloud", or the one a fallback would use. */
  provider?: string;
  /** What decided: "override", "preference", "rule:<id>", "auto-default", "low-end", "local-unavailable", "cooldown", "local-only", "sensitive", "no-cloud". */
  rule: string;
  /** The decision in words, in the order it was reached. */
  reasons: string[];
  /** Where a failure of the chosen backend may fall back; absent when no fallback is allowed. */
  fallback?: BackendKind;
  /** Set when a cloud route was refused (local-only mode, a sensitive file): the reason. */
  refused?: string;
}

/** How a routed request ended, appended to its decision in the log. */
export interface RouteOutcome {
  /** "local", "cloud:<provider>", or "none" when nothing could serve. */
  servedBy: string;
  status: "ok" | "fallback" | "error" | "cancelled";
  ms: number;
  /** For fallback and error: what went wrong. */
  error?: string;
  /** Cloud attempts made (retries included). */
  attempts?: number;
}
