import type { Logger } from "../util/logger.js";
import type { ForegroundActivity } from "./priority.js";
import { isCommitConflict } from "./store/commits.js";
import { LeaseLostError } from "./store/WriterLease.js";

/** Table writes after which a compaction runs at the next quiet moment. */
const COMPACT_AFTER_WRITES = 60;
/** Compaction after the last write, so the full-text index catches up with live edits. */
const COMPACT_IDLE_MS = 30_000;
/** Below this many rows a compaction is cheap and follows every quiet moment. */
const SMALL_TABLE_ROWS = 100_000;
/** Writes (each a small data file) after which even a large table is compacted. */
const MAX_WRITES = 600;

/** What a folder's table went through since its last compaction. */
export interface CompactionNeed {
  writes: number;
  /** Rows written since (new and replaced chunks). */
  newRows: number;
  /** Rows in the table. */
  tableRows: number;
}

/**
 * How long after this write to compact, or undefined for not yet. LanceDB's compaction rebuilds
 * the full-text index of the whole table, which took ~650 MB and about a minute at 1.3M chunks
 * (bench:scale): a large table is compacted only once its unindexed rows are worth it (1% of the
 * table) or its small data files many; until then searches read the few new rows directly.
 */
export function compactionDelay(need: CompactionNeed): number | undefined {
  if (need.writes === 0) return undefined;
  const worth = need.tableRows < SMALL_TABLE_ROWS || need.newRows >= need.tableRows / 100 || need.writes >= MAX_WRITES;
  if (!worth) return undefined;
  return need.writes >= COMPACT_AFTER_WRITES ? 1000 : COMPACT_IDLE_MS;
}

/** What a folder lends its scheduler: how to compact, and when to wait or give up. */
export interface CompactionTarget {
  readonly activity: ForegroundActivity;
  readonly signal: AbortSignal;
  readonly logger: Logger;
  compact(): Promise<void>;
}

/**
 * When a folder's table is compacted: soon after many writes, else once writes have gone quiet,
 * and never while foreground work runs. It is a class of its own so the timer policy is separate
 * from the folder's queue of work, which the compaction itself still goes through.
 */
export class CompactionScheduler {
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly target: CompactionTarget) {}

  /** Called after each write; a later call moves the compaction back, so it waits for a quiet moment. */
  schedule(need: CompactionNeed): void {
    const delay = compactionDelay(need);
    if (delay === undefined) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.compactWhenIdle();
    }, delay);
    // A pending compaction must not keep the process alive (the CLI, tests).
    this.timer.unref?.();
  }

  /** Drops a pending compaction; one already running finishes or fails through the abort signal. */
  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
  }

  private async compactWhenIdle(): Promise<void> {
    const { activity, signal, logger } = this.target;
    try {
      await activity.idle(signal);
      const started = performance.now();
      await this.target.compact();
      logger.debug({ ms: Math.round(performance.now() - started) }, "index compacted");
    } catch (error) {
      if (signal.aborted) return;
      // Another process's commits won the race (after the store's retries) or took the lease:
      // nothing is wrong, and the next write schedules another compaction.
      if (isCommitConflict(error) || error instanceof LeaseLostError) logger.debug({ err: error }, "index compaction deferred: another process is writing");
      else logger.warn({ err: error }, "index compaction failed");
    }
  }
}
