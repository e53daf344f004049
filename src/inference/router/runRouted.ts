import { CloudError } from "../cloud/errors.js";
import { ModelUnavailableError } from "../types.js";
import type { Router } from "./Router.js";
import type { BackendKind, RouteDecision, RouteOutcome, RouteRequest } from "./types.js";

export interface RoutedRun<T> {
  local(signal: AbortSignal): Promise<T>;
  cloud(provider: string, signal: AbortSignal): Promise<T>;
  /** Whether a result means the work was cancelled (the local backend resolves rather than throws). */
  cancelled?(value: T): boolean;
  /** The cloud attempts behind a result, for the log. */
  attempts?(value: T): number | undefined;
}

export interface RoutedAnswer<T> {
  value: T;
  /** "local" or "cloud:<provider>". */
  servedBy: string;
  /** The decision's reasons and any fallback, in words. */
  reason: string;
  decision: RouteDecision;
}

/** Cloud failures a user must fix rather than wait out. */
const USER_PROBLEMS = new Set(["auth", "config", "not-found", "bad-response", "forbidden"]);

/**
 * Runs one task where the router decides, with the fallback it allows, and records the outcome
 * in the route log. Resolves undefined when the work was cancelled. Any task type can use it:
 * completion does through RoutedCompletionBackend; chat and code actions pass their own runs.
 */
export async function runRouted<T>(
  router: Router,
  request: RouteRequest,
  run: RoutedRun<T>,
  signal: AbortSignal,
  onCloudProblem: (error: CloudError) => void = () => undefined,
): Promise<RoutedAnswer<T> | undefined> {
  const entry = router.route(request);
  const started = performance.now();
  const reasons = [...entry.reasons];
  const finish = (outcome: Omit<RouteOutcome, "ms">): void => router.finish(entry, { ...outcome, ms: performance.now() - started });
  const attempt = async (backend: BackendKind): Promise<T> => (backend === "local" ? run.local(signal) : run.cloud(entry.provider ?? "", signal));
  const servedBy = (backend: BackendKind): string => (backend === "local" ? "local" : `cloud:${entry.provider}`);
  const answered = (backend: BackendKind, value: T, status: "ok" | "fallback", error?: unknown): RoutedAnswer<T> | undefined => {
    const cancelled = run.cancelled?.(value) ?? false;
    const n = error instanceof CloudError ? error.attempts : run.attempts?.(value);
    finish({ servedBy: servedBy(backend), status: cancelled ? "cancelled" : status, ...(error ? { error: describe(error) } : {}), ...(n ? { attempts: n } : {}) });
    if (backend === "cloud" && entry.provider && !cancelled) router.noteCloudSuccess(entry.provider);
    return cancelled ? undefined : { value, servedBy: servedBy(backend), reason: reasons.join("; "), decision: entry };
  };

  let firstError: unknown;
  try {
    return answered(entry.backend, await attempt(entry.backend), "ok");
  } catch (error) {
    if (signal.aborted || isAborted(error)) {
      finish({ servedBy: "none", status: "cancelled" });
      return undefined;
    }
    firstError = error;
  }

  const why = describe(firstError);
  const failed = entry.backend === "cloud" ? `cloud provider ${entry.provider} failed${attemptText(firstError)} (${why})` : `local model failed (${why})`;
  if (entry.backend === "cloud" && entry.provider) router.noteCloudFailure(entry.provider, firstError instanceof CloudError ? firstError.short : "error");
  if (firstError instanceof CloudError && USER_PROBLEMS.has(firstError.kind)) onCloudProblem(firstError);
  const fallback = entry.fallback;
  if (!fallback) {
    finish({ servedBy: "none", status: "error", error: why, ...(firstError instanceof CloudError ? { attempts: firstError.attempts } : {}) });
    // Without a fallback a local failure surfaces exactly as it would without the router.
    if (entry.backend === "local") throw firstError;
    throw new ModelUnavailableError(`${failed}; no fallback (${reasons.join("; ")})`);
  }
  reasons.push(`${failed} → fallback to ${fallback === "cloud" ? `cloud (${entry.provider})` : "local"}`);
  try {
    return answered(fallback, await attempt(fallback), "fallback", firstError);
  } catch (error) {
    if (signal.aborted || isAborted(error)) {
      finish({ servedBy: "none", status: "cancelled" });
      return undefined;
    }
    if (fallback === "cloud" && entry.provider) router.noteCloudFailure(entry.provider, error instanceof CloudError ? error.short : "error");
    if (error instanceof CloudError && USER_PROBLEMS.has(error.kind)) onCloudProblem(error);
    finish({ servedBy: "none", status: "error", error: `${why}; then ${describe(error)}` });
    throw new ModelUnavailableError(`${failed}; the fallback failed too (${describe(error)})`);
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function attemptText(error: unknown): string {
  return error instanceof CloudError && error.attempts > 1 ? ` after ${error.attempts} attempts` : "";
}

function isAborted(error: unknown): boolean {
  return error instanceof CloudError && error.kind === "aborted";
}
