import type { Logger } from "../../util/logger.js";

/*
 * LanceDB commits are optimistic: a write that meets a newer version made by another process
 * fails with a "commit conflict" (merge-insert retries by itself; delete, index and compaction
 * commits may not). Such a failure says nothing about the data, so it is retried here and logged
 * at debug level: it is never something the user must act on.
 */

const ATTEMPTS = 8;

/** True for LanceDB's retryable concurrent-commit failures. */
export function isCommitConflict(error: unknown): boolean {
  const text = error instanceof Error ? error.message : String(error);
  return /commit conflict|preempted by concurrent transaction|concurrent (?:write|commit|transaction)|retryable/i.test(text);
}

/**
 * Runs one commit, again after a conflict (a short, growing pause lets the other commit land).
 * `what` names it in the debug log.
 */
export async function withConflictRetry<T>(logger: Logger, what: string, commit: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await commit();
    } catch (error) {
      if (!isCommitConflict(error) || attempt >= ATTEMPTS) throw error;
      logger.debug({ what, attempt, err: firstLine(error) }, "index commit met a concurrent commit; retrying");
      await new Promise((resolve) => setTimeout(resolve, 10 * 2 ** Math.min(attempt, 6) * (0.5 + Math.random())));
    }
  }
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split("\n")[0]!.slice(0, 200);
}
