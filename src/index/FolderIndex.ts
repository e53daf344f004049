import type { Logger } from "../util/logger.js";
import { Mutex } from "../util/Mutex.js";
import { contentHash } from "./chunking/chunkFile.js";
import { CompactionScheduler } from "./CompactionScheduler.js";
import { discoverFiles, type DiscoveredFile } from "./discovery.js";
import type { Embedder } from "./embedding/types.js";
import { changedSinceRead, collectChanges, diffScan } from "./folderChanges.js";
import { IgnoreRules } from "../privacy/ignoreRules.js";
import { EmbedderDimensionError, indexFiles, writeBatch, type IndexingHost } from "./indexFiles.js";
import type { ForegroundActivity } from "./priority.js";
import { IndexStore, MissingIndexError, type FileRecord, type StoredHit, type StoreSearchOptions } from "./store/IndexStore.js";
import { FolderWriter } from "./FolderWriter.js";
import { isCommitConflict } from "./store/commits.js";
import { LeaseLostError, type LeaseHolder } from "./store/WriterLease.js";
import { emptyStats, type FolderStatus, type IndexState, type PassStats } from "./types.js";
import type { ChunkPool } from "./worker/ChunkPool.js";

// IndexService imports the error from here; it is defined with the indexing pass that throws it.
export { EmbedderDimensionError };

export interface FolderIndexOptions {
  /** Workspace folder URI and path. */
  uri: string;
  root: string;
  /** LanceDB URI of this folder's index. */
  location: string;
  readOnly: boolean;
  /** False: start() opens the store without a pass (a process that only compacts). Default true. */
  passOnStart?: boolean;
  maxFileBytes: number;
  maxFiles: number;
  logger: Logger;
  pool: ChunkPool;
  activity: ForegroundActivity;
  embedder?: Embedder;
  /** Progress of a pass (done/total files), and state changes. */
  onChange?: () => void;
  /** Called with a user-facing message when something went wrong that the user should know. */
  onProblem?: (message: string) => void;
  /** The embedder's vectors no longer have the size it declared (the model files changed). */
  onEmbedderMismatch?: (error: EmbedderDimensionError) => void;
  /** What this process is, in the writer lock ("ifai-lsp server", "ifai-lsp index"). */
  writerLabel?: string;
  /** Another process is writing this index; this one waits for it (once per wait). */
  onWaitForWriter?: (holder: LeaseHolder | undefined) => void;
}

/** Recovering from a broken store is tried at most this often. */
const RECOVERY_INTERVAL_MS = 20_000;

/**
 * The index of one workspace folder: scans, chunks (in the worker pool), embeds when an embedder
 * is configured, and writes to its LanceDB store; keeps it current from file events and unsaved
 * buffers. All work on the store goes through one queue, and waits whenever foreground work
 * (a completion) runs.
 */
export class FolderIndex {
  readonly rules: IgnoreRules;
  private store: IndexStore | undefined;
  private readonly work = new Mutex();
  private state: IndexState = "starting";
  private message: string | undefined;
  private files: Map<string, FileRecord> = new Map();
  private scanned = 0;
  private chunkCount = 0;
  /** File counts as the files table has them (all processes' writes), from the last refresh. */
  private fileCounts: { files: number; indexedFiles: number } | undefined;
  /** Writes take turns with other processes through it (the folder's writer lease). */
  private readonly writer: FolderWriter | undefined;
  private progress: { done: number; total: number } | undefined;
  private lastIndexedAt: string | undefined;
  private lastRecovery = 0;
  private disposed = false;
  private readonly controller = new AbortController();
  /** Paths and folders (ending in "/") changed on disk, waiting to be indexed. */
  private readonly pending = new Set<string>();
  private pendingTimer: NodeJS.Timeout | undefined;
  private rescanRequested = false;
  private processing: Promise<void> | undefined;
  /** Stats of the last completed pass. */
  lastPass: PassStats = emptyStats();
  /** The folder as the indexing pass sees it; its functions read the current store and records. */
  private readonly host: IndexingHost;
  private readonly compaction: CompactionScheduler;

  constructor(readonly options: FolderIndexOptions) {
    this.rules = new IgnoreRules(options.root, { maxFileBytes: options.maxFileBytes });
    this.host = {
      options,
      signal: this.signal,
      store: () => this.store!,
      files: () => this.files,
      addChunks: (delta) => {
        this.chunkCount += delta;
      },
      showProgress: (progress) => {
        this.progress = progress;
      },
    };
    this.compaction = new CompactionScheduler({ activity: options.activity, signal: this.signal, logger: options.logger, compact: () => this.compact() });
    if (!options.readOnly) {
      this.writer = new FolderWriter({
        location: options.location,
        logger: options.logger,
        label: options.writerLabel ?? "ifai-lsp",
        onWait: (who, holder) => {
          this.options.onWaitForWriter?.(holder);
          this.setState(this.state === "starting" ? "scanning" : this.state, `waiting for ${who}, which is writing this index`);
        },
      });
    }
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get ready(): boolean {
    return this.store !== undefined;
  }

  get hybrid(): boolean {
    return this.store?.hybrid ?? false;
  }

  status(): FolderStatus {
    const known = this.fileCounts ?? { files: this.files.size, indexedFiles: [...this.files.values()].filter((f) => f.status === "indexed").length };
    const indexed = known.indexedFiles;
    return {
      folder: this.options.uri,
      state: this.state,
      location: this.options.location,
      table: this.store?.chunksName ?? "",
      readOnly: this.options.readOnly,
      files: this.options.readOnly || this.scanned === 0 ? known.files : this.scanned,
      indexedFiles: indexed,
      skippedFiles: known.files - indexed,
      chunks: this.chunkCount,
      ...(this.progress ? { progress: { ...this.progress } } : {}),
      ...(this.lastIndexedAt ? { lastIndexedAt: this.lastIndexedAt } : {}),
      ...(this.message ? { message: this.message } : {}),
    };
  }

  /** Opens the store and brings the index up to date with the folder. */
  async start(): Promise<PassStats> {
    await this.openStore();
    if (this.options.readOnly || this.options.passOnStart === false) {
      await this.refreshCounts();
      this.setState("ready");
      return emptyStats();
    }
    return this.sync();
  }

  private async openStore(): Promise<void> {
    const embedding = this.options.embedder ? { modelId: this.options.embedder.modelId, dimensions: this.options.embedder.dimensions } : undefined;
    try {
      this.store = await IndexStore.open({
        location: this.options.location,
        readOnly: this.options.readOnly,
        logger: this.options.logger,
        ...(embedding ? { embedding } : {}),
        ...(this.writer?.beforeWrite() ? { beforeWrite: this.writer.beforeWrite()! } : {}),
      });
    } catch (error) {
      const message =
        error instanceof MissingIndexError ? error.message : `the index at ${this.options.location} cannot be opened: ${errorMessage(error)}`;
      this.setState("error", message);
      throw error;
    }
  }

  /** A full incremental pass: new and changed files are read, deleted ones removed. */
  async sync(): Promise<PassStats> {
    if (this.options.readOnly || !this.store) return emptyStats();
    const release = await this.work.acquire(this.signal);
    try {
      this.rescanRequested = false;
      return await this.withLease(() => this.runSync());
    } catch (error) {
      if (this.signal.aborted) return this.lastPass;
      if (error instanceof LeaseLostError) {
        this.leaseLost(error);
        return this.lastPass;
      }
      await this.handleFailure(error, "indexing failed");
      return this.lastPass;
    } finally {
      release();
      this.scheduleCompaction();
    }
  }

  private async runSync(): Promise<PassStats> {
    const store = this.store!;
    const started = performance.now();
    const stats = emptyStats();
    this.setState("scanning");
    await this.loadRecords();
    this.chunkCount = await store.countChunks();
    const fresh = this.files.size === 0 && this.chunkCount === 0;
    const found = await discoverFiles(this.rules, { maxFiles: this.options.maxFiles, signal: this.signal });
    // The ignore library remembers its answer for every path it was asked about (~14 MB per 35k
    // files); the walk is over, so they go, and the rules are read again on the next question.
    this.rules.invalidate();
    if (found.truncated) {
      this.options.onProblem?.(`ifai: ${this.options.root} has more than ${this.options.maxFiles} indexable files; only the first ${this.options.maxFiles} are indexed (setting index.maxFiles).`);
    }
    stats.scanned = this.scanned = found.files.length;
    const { changed, removed } = diffScan(this.files, found.files);
    this.options.logger.info({ files: found.files.length, changed: changed.length, removed: removed.length, tooLarge: found.tooLarge }, "index scan");
    // New files first, removed ones after: a moved file's vectors are still there to be reused.
    if (changed.length > 0) {
      this.setState("indexing");
      await indexFiles(this.host, changed, stats);
      await this.catchUp(changed, stats);
    }
    if (removed.length > 0) {
      await this.options.activity.idle(this.signal);
      await store.removePaths(removed);
      for (const p of removed) this.files.delete(p);
      stats.removed = removed.length;
    }
    await store.ensureFtsIndex();
    if (fresh && stats.chunksWritten > 0) {
      // A new table is complete: the tables of earlier embedding configurations are garbage.
      const dropped = await store.dropOtherTables();
      if (dropped.length > 0) this.options.logger.info({ dropped }, "dropped the index tables of an earlier embedding configuration");
    }
    stats.ms = performance.now() - started;
    this.lastPass = stats;
    this.progress = undefined;
    this.lastIndexedAt = new Date().toISOString();
    await this.refreshCounts();
    this.setState("ready");
    this.options.logger.info({ ...stats, ms: Math.round(stats.ms) }, "index pass done");
    return stats;
  }

  /**
   * Reads again the files that changed on disk after this pass read them, and removes those
   * deleted meanwhile, until what was written matches the disk (a few rounds at most: a file
   * rewritten all the time is left to the watcher and the next pass).
   */
  private async catchUp(written: readonly DiscoveredFile[], stats: PassStats): Promise<void> {
    for (let round = 0; round < 3 && written.length > 0; round++) {
      const moved = await changedSinceRead(this.rules, () => this.files, written, this.signal);
      if (moved.removed.length > 0) {
        await this.options.activity.idle(this.signal);
        await this.store!.removePaths(moved.removed);
        for (const p of moved.removed) this.files.delete(p);
        stats.removed += moved.removed.length;
        stats.scanned = this.scanned = Math.max(0, this.scanned - moved.removed.length);
      }
      if (moved.changed.length > 0) await indexFiles(this.host, moved.changed, stats);
      written = moved.changed;
    }
  }

  /** Queues files (or folders, with a trailing "/") that changed on disk. */
  enqueue(rels: readonly string[]): void {
    if (this.options.readOnly || this.disposed) return;
    for (const rel of rels) {
      if (IgnoreRules.isIgnoreFile(rel)) {
        this.rules.invalidate();
        this.rescanRequested = true;
      }
      this.pending.add(rel);
    }
    if (this.pendingTimer) clearTimeout(this.pendingTimer);
    this.pendingTimer = setTimeout(() => {
      this.pendingTimer = undefined;
      this.processing = this.processPending();
    }, 30);
  }

  /** Resolves when queued changes have been written. */
  async settled(): Promise<void> {
    for (;;) {
      if (this.pendingTimer) await new Promise((r) => setTimeout(r, 35));
      const p = this.processing;
      if (!p && !this.pendingTimer) break;
      if (p) await p;
      if (this.processing === p && !this.pendingTimer) break;
    }
    const release = await this.work.acquire();
    release();
  }

  private async processPending(): Promise<void> {
    if (!this.store || this.disposed) return;
    const release = await this.work.acquire(this.signal).catch(() => undefined);
    if (!release) return;
    try {
      if (this.rescanRequested) {
        this.rescanRequested = false;
        this.pending.clear();
        release();
        await this.sync();
        return;
      }
      const rels = [...this.pending];
      this.pending.clear();
      if (rels.length === 0) return;
      await this.withLease(() => this.applyChanges(rels));
    } catch (error) {
      if (error instanceof LeaseLostError) this.leaseLost(error);
      else if (!this.signal.aborted) await this.handleFailure(error, "live index update failed");
    } finally {
      release();
      this.scheduleCompaction();
    }
  }

  private async applyChanges(rels: readonly string[]): Promise<void> {
    const store = this.store!;
    const stats = emptyStats();
    const { changed: unique, removed } = await collectChanges(this.rules, () => this.files, rels, { maxFiles: this.options.maxFiles, signal: this.signal });
    if (unique.length > 0) await indexFiles(this.host, unique, stats);
    if (removed.length > 0) {
      await this.options.activity.idle(this.signal);
      await store.removePaths(removed);
      for (const p of removed) this.files.delete(p);
      stats.removed = removed.length;
    }
    this.progress = undefined;
    if (removed.length > 0 || unique.length > 0) {
      this.scanned = [...this.files.values()].length;
      this.lastPass = stats;
      await this.refreshCounts();
      this.options.logger.debug({ changed: stats.changed, removed: stats.removed }, "live update written");
    }
    this.options.onChange?.();
  }

  /** Indexes the text of an unsaved editor buffer in place of the file's content. */
  async indexBuffer(rel: string, text: string): Promise<void> {
    if (this.options.readOnly || !this.store || this.rules.ignores(rel, false)) return;
    if (text.length > this.options.maxFileBytes) return;
    const hash = contentHash(text);
    const previous = this.files.get(rel);
    if (previous && previous.hash === hash) return;
    const release = await this.work.acquire(this.signal).catch(() => undefined);
    if (!release) return;
    try {
      const outcome = await this.options.pool.chunkText(rel, text);
      const stats = emptyStats();
      // mtime -1: the row is not the file on disk, so the next pass reads the file again.
      await this.withLease(() => writeBatch(this.host, [{ file: { rel, size: Buffer.byteLength(text), mtimeMs: -1 }, outcome }], stats));
      await this.refreshCounts();
      this.options.onChange?.();
    } catch (error) {
      if (error instanceof LeaseLostError) this.leaseLost(error);
      else if (!this.signal.aborted) await this.handleFailure(error, "indexing an open buffer failed");
    } finally {
      release();
      this.scheduleCompaction();
    }
  }

  async search(query: string, options: StoreSearchOptions): Promise<StoredHit[]> {
    if (!this.store) return [];
    try {
      return await this.store.search(query, options);
    } catch (error) {
      await this.handleFailure(error, "search failed");
      return [];
    }
  }

  async chunksOf(rel: string): Promise<Awaited<ReturnType<IndexStore["chunksOf"]>>> {
    if (!this.store) return [];
    try {
      return await this.store.chunksOf(rel);
    } catch {
      return [];
    }
  }

  /**
   * Compacts now (tests, benchmarks, the CLI at the end of a run). Skipped while another process
   * writes: compaction is a commit like any other, and that process compacts after its writes.
   */
  async compact(): Promise<void> {
    if (!this.store || this.options.readOnly) return;
    const release = await this.work.acquire(this.signal);
    try {
      const store = this.store;
      await this.writer?.runIfFree(store, () => store.compact());
    } finally {
      release();
    }
  }

  /** Runs a write in this process's turn (see FolderWriter). */
  private async withLease<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await this.writer!.run(this.store!, this.signal, (files) => (this.files = files), work);
    } finally {
      if (this.message?.startsWith("waiting for ")) this.message = undefined;
    }
  }

  private async loadRecords(): Promise<void> {
    await this.writer!.loadRecords(this.store!, (files) => (this.files = files));
  }

  /** The lease went to another process mid-write (this one stalled): that one carries on; this one looks again later. */
  private leaseLost(error: LeaseLostError): void {
    this.options.logger.info({ err: error.message }, "stopped writing the index: another process took over");
    this.writer?.forgetRecords();
    this.rescanRequested = true;
    this.enqueue([]);
  }

  private scheduleCompaction(): void {
    if (!this.store || this.options.readOnly || this.disposed) return;
    this.compaction.schedule({ writes: this.store.writesSinceCompaction, newRows: this.store.rowsSinceCompaction, tableRows: this.chunkCount });
  }

  /** Counts from the tables themselves (every process's writes), for status. */
  async refreshCounts(): Promise<void> {
    try {
      if (!this.store) return;
      const counts = await this.store.counts();
      this.chunkCount = counts.chunks;
      this.fileCounts = { files: counts.files, indexedFiles: counts.indexedFiles };
    } catch {
      // Counts are informative; a failing store shows up in the next real operation.
    }
  }

  /**
   * Something failed on the store (its folder deleted, a table corrupted, a disk error): reopen
   * it — the store recreates what it cannot open — and index the folder again. Rate-limited; the
   * user sees one message per kind of failure.
   */
  private async handleFailure(error: unknown, what: string): Promise<void> {
    if (error instanceof EmbedderDimensionError) {
      this.setState("error", errorMessage(error));
      this.options.onEmbedderMismatch?.(error);
      return;
    }
    if (isCommitConflict(error) && !this.disposed) {
      // Other processes kept committing through every retry: nothing is broken, so nothing is
      // rebuilt; the folder is compared with the table again in a moment.
      this.options.logger.debug({ err: error }, `${what}: concurrent commits; trying again`);
      this.setState("ready");
      this.rescanRequested = true;
      this.enqueue([]);
      return;
    }
    this.options.logger.error({ err: error }, what);
    if (this.options.readOnly || this.disposed) {
      this.setState("error", `${what}: ${errorMessage(error)}`);
      return;
    }
    const now = Date.now();
    if (now - this.lastRecovery < RECOVERY_INTERVAL_MS) {
      this.setState("error", `${what}: ${errorMessage(error)}`);
      return;
    }
    this.lastRecovery = now;
    this.options.onProblem?.(`ifai: the code index of ${this.options.root} failed (${errorMessage(error)}); rebuilding it.`);
    setTimeout(() => void this.recover(), 0);
  }

  private async recover(): Promise<void> {
    if (this.disposed) return;
    try {
      this.store?.close();
    } catch {
      // Already broken.
    }
    this.store = undefined;
    this.files = new Map();
    this.writer?.forgetRecords();
    try {
      await this.openStore();
      await this.sync();
    } catch (error) {
      this.setState("error", `the index could not be rebuilt: ${errorMessage(error)}`);
    }
  }

  private setState(state: IndexState, message?: string): void {
    this.state = state;
    this.message = message;
    this.options.onChange?.();
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    this.writer?.release();
    this.controller.abort(new Error("index disposed"));
    if (this.pendingTimer) clearTimeout(this.pendingTimer);
    this.compaction.cancel();
    const release = await this.work.acquire().catch(() => undefined);
    try {
      this.store?.close();
    } catch {
      // ignore
    }
    this.store = undefined;
    release?.();
  }
}

export function errorMessage(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split("\n")[0]!.slice(0, 300);
}
