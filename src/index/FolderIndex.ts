import type { Logger } from "../util/logger.js";
import { Mutex } from "../util/Mutex.js";
import { contentHash } from "./chunking/chunkFile.js";
import { discoverFiles, statIndexable, type DiscoveredFile } from "./discovery.js";
import type { Embedder } from "./embedding/types.js";
import { IgnoreRules } from "./ignoreRules.js";
import type { ForegroundActivity } from "./priority.js";
import { IndexStore, MissingIndexError, type ChunkRow, type FileRecord, type StoredHit } from "./store/IndexStore.js";
import { emptyStats, type FolderStatus, type HashedChunk, type IndexState, type PassStats } from "./types.js";
import type { ChunkPool } from "./worker/ChunkPool.js";
import type { PoolOutcome } from "./worker/protocol.js";

export interface FolderIndexOptions {
  /** Workspace folder URI and path. */
  uri: string;
  root: string;
  /** LanceDB URI of this folder's index. */
  location: string;
  readOnly: boolean;
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
}

/** Files per write: bounded so progress shows and a completion never waits behind a long write. */
const BATCH_FILES = 200;
const BATCH_CHUNKS = 3000;
/** Texts per embedder call (the embedder batches further by tokens). */
const EMBED_BATCH = 32;
/** Table writes after which a compaction runs at the next quiet moment. */
const COMPACT_AFTER_WRITES = 60;
/** Compaction after the last write, so the full-text index catches up with live edits. */
const COMPACT_IDLE_MS = 30_000;
/** Recovering from a broken store is tried at most this often. */
const RECOVERY_INTERVAL_MS = 20_000;

export class EmbedderDimensionError extends Error {
  constructor(readonly expected: number, readonly actual: number) {
    super(`the embedder returned vectors of ${actual} dimensions, not ${expected}`);
  }
}

interface Processed {
  file: DiscoveredFile | { rel: string; size: number; mtimeMs: number };
  outcome: PoolOutcome & { bytes?: number };
}

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
  private progress: { done: number; total: number } | undefined;
  private lastIndexedAt: string | undefined;
  private compactTimer: NodeJS.Timeout | undefined;
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

  constructor(readonly options: FolderIndexOptions) {
    this.rules = new IgnoreRules(options.root, { maxFileBytes: options.maxFileBytes });
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
    const indexed = [...this.files.values()].filter((f) => f.status === "indexed").length;
    return {
      folder: this.options.uri,
      state: this.state,
      location: this.options.location,
      table: this.store?.chunksName ?? "",
      readOnly: this.options.readOnly,
      files: this.options.readOnly ? this.files.size : this.scanned,
      indexedFiles: indexed,
      skippedFiles: this.files.size - indexed,
      chunks: this.chunkCount,
      ...(this.progress ? { progress: { ...this.progress } } : {}),
      ...(this.lastIndexedAt ? { lastIndexedAt: this.lastIndexedAt } : {}),
      ...(this.message ? { message: this.message } : {}),
    };
  }

  /** Opens the store and brings the index up to date with the folder. */
  async start(): Promise<PassStats> {
    await this.openStore();
    if (this.options.readOnly) {
      await this.refreshCounts();
      this.setState("ready");
      return emptyStats();
    }
    return this.sync();
  }

  private async openStore(): Promise<void> {
    const embedding = this.options.embedder ? { modelId: this.options.embedder.modelId, dimensions: this.options.embedder.dimensions } : undefined;
    try {
      this.store = await IndexStore.open({ location: this.options.location, readOnly: this.options.readOnly, logger: this.options.logger, ...(embedding ? { embedding } : {}) });
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
      return await this.runSync();
    } catch (error) {
      if (this.signal.aborted) return this.lastPass;
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
    this.files = await store.loadFiles();
    this.chunkCount = await store.countChunks();
    const fresh = this.files.size === 0 && this.chunkCount === 0;
    const found = await discoverFiles(this.rules, { maxFiles: this.options.maxFiles, signal: this.signal });
    if (found.truncated) {
      this.options.onProblem?.(`ifai: ${this.options.root} has more than ${this.options.maxFiles} indexable files; only the first ${this.options.maxFiles} are indexed (setting index.maxFiles).`);
    }
    stats.scanned = this.scanned = found.files.length;
    const present = new Set(found.files.map((f) => f.rel));
    const removed = [...this.files.keys()].filter((p) => !present.has(p));
    const changed = found.files.filter((f) => {
      const record = this.files.get(f.rel);
      return !record || record.size !== f.size || record.mtime !== f.mtimeMs;
    });
    this.options.logger.info({ files: found.files.length, changed: changed.length, removed: removed.length, tooLarge: found.tooLarge }, "index scan");
    // New files first, removed ones after: a moved file's vectors are still there to be reused.
    if (changed.length > 0) {
      this.setState("indexing");
      await this.processFiles(changed, stats, !fresh);
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
   * Reads, chunks, embeds and writes files; `mayExist`: their old rows may be in the table.
   * Chunking (worker threads) and writing (LanceDB's threads) overlap: one batch is written while
   * the next is being chunked.
   */
  private async processFiles(files: ReadonlyArray<DiscoveredFile>, stats: PassStats, mayExist: boolean): Promise<void> {
    const { pool, activity } = this.options;
    const window = Math.max(4, pool.size * 4);
    const inflight = new Map<number, Promise<{ index: number; result: Processed }>>();
    let batch: Processed[] = [];
    let batchChunks = 0;
    let next = 0;
    const progress = { done: 0, total: files.length };
    this.progress = progress;
    this.options.onChange?.();
    let lastReport = performance.now();
    let writing: Promise<void> = Promise.resolve();
    let writeError: unknown;

    const launch = async (): Promise<void> => {
      while (inflight.size < window && next < files.length && writeError === undefined) {
        await activity.idle(this.signal);
        const index = next++;
        const file = files[index]!;
        inflight.set(
          index,
          pool.chunkFile(file.abs, file.rel, this.options.maxFileBytes).then((outcome) => ({ index, result: { file, outcome } })),
        );
      }
    };
    const flush = async (): Promise<void> => {
      const full = batch;
      batch = [];
      batchChunks = 0;
      // One write at a time; the next batch collects meanwhile.
      await writing;
      if (writeError !== undefined) return;
      writing = this.writeBatch(full, stats, mayExist).then(
        () => {
          progress.done += full.length;
          if (performance.now() - lastReport > 200 || progress.done === progress.total) {
            lastReport = performance.now();
            this.options.onChange?.();
          }
        },
        (error: unknown) => {
          writeError = error;
        },
      );
    };
    await launch();
    while (inflight.size > 0) {
      const { index, result } = await Promise.race(inflight.values());
      inflight.delete(index);
      batch.push(result);
      if (result.outcome.status === "indexed") batchChunks += result.outcome.chunks.length;
      await launch();
      if (batch.length >= BATCH_FILES || batchChunks >= BATCH_CHUNKS || inflight.size === 0) await flush();
      if (writeError !== undefined) break;
    }
    await writing;
    if (writeError !== undefined) {
      await Promise.allSettled(inflight.values());
      throw writeError;
    }
  }

  private async writeBatch(batch: readonly Processed[], stats: PassStats, mayExist: boolean): Promise<void> {
    const store = this.store!;
    const replace: Array<{ record: FileRecord; chunks: ChunkRow[]; existed: boolean }> = [];
    const touched: FileRecord[] = [];
    const embedQueue: Array<{ rows: ChunkRow[]; chunks: HashedChunk[] }> = [];
    for (const { file, outcome } of batch) {
      stats.read++;
      if (outcome.bytes) stats.bytesRead += outcome.bytes;
      const previous = this.files.get(file.rel);
      if (outcome.status === "unreadable") {
        this.options.logger.debug({ path: file.rel, reason: outcome.message }, "file not readable; skipped");
        stats.skipped++;
        // Not recorded: it is tried again on the next pass. Its old rows, if any, go.
        if (previous) {
          replace.push({ record: { ...previous, status: "unreadable", chunks: 0, hash: "", mtime: -2 }, chunks: [], existed: true });
        }
        continue;
      }
      const record: FileRecord = {
        path: file.rel,
        size: file.size,
        mtime: file.mtimeMs,
        hash: outcome.hash,
        chunks: outcome.status === "indexed" ? outcome.chunks.length : 0,
        status: outcome.status === "indexed" ? "indexed" : outcome.reason,
      };
      if (previous && previous.hash === outcome.hash && previous.status === record.status) {
        // Touched, not changed: only the size/mtime record moves.
        touched.push(record);
        continue;
      }
      if (outcome.status === "skipped") stats.skipped++;
      stats.changed++;
      const rows = outcome.status === "indexed" ? outcome.chunks.map((c) => toRow(file.rel, c, this.options.embedder?.modelId ?? "")) : [];
      if (outcome.status === "indexed" && this.options.embedder) embedQueue.push({ rows, chunks: outcome.chunks });
      replace.push({ record, chunks: rows, existed: mayExist || previous !== undefined });
    }
    const embedStarted = performance.now();
    if (embedQueue.length > 0) await this.embedRows(embedQueue, stats);
    stats.embedMs = (stats.embedMs ?? 0) + (performance.now() - embedStarted);
    await this.options.activity.idle(this.signal);
    const writeStarted = performance.now();
    if (replace.length > 0) await store.replaceFiles(replace);
    if (touched.length > 0) await store.recordFiles(touched);
    stats.writeMs = (stats.writeMs ?? 0) + (performance.now() - writeStarted);
    for (const r of replace) {
      this.chunkCount += r.chunks.length - (this.files.get(r.record.path)?.chunks ?? 0);
      if (r.record.status === "unreadable") this.files.delete(r.record.path);
      else this.files.set(r.record.path, r.record);
      stats.chunksWritten += r.chunks.length;
    }
    for (const t of touched) this.files.set(t.path, t);
    // The full-text index is made as soon as there are rows, so search works while the rest is indexed.
    if (!store.ftsIndexed && replace.some((r) => r.chunks.length > 0)) await store.ensureFtsIndex();
  }

  /** Vectors for new chunks: reused by content hash when the table has them, embedded otherwise. */
  private async embedRows(items: ReadonlyArray<{ rows: ChunkRow[]; chunks: HashedChunk[] }>, stats: PassStats): Promise<void> {
    const embedder = this.options.embedder!;
    const rows = items.flatMap((i) => i.rows);
    const known = await this.store!.vectorsByHash(rows.map((r) => r.hash));
    const missing = new Map<string, ChunkRow[]>();
    for (const row of rows) {
      const vector = known.get(row.hash);
      if (vector) {
        row.vector = vector;
        stats.vectorsReused++;
      } else {
        const list = missing.get(row.hash) ?? [];
        list.push(row);
        missing.set(row.hash, list);
      }
    }
    const hashes = [...missing.keys()];
    for (let i = 0; i < hashes.length; i += EMBED_BATCH) {
      await this.options.activity.idle(this.signal);
      const part = hashes.slice(i, i + EMBED_BATCH);
      const vectors = await embedder.embed(
        part.map((h) => missing.get(h)![0]!.text),
        "document",
        this.signal,
      );
      part.forEach((h, j) => {
        const vector = vectors[j];
        if (!vector || vector.length !== embedder.dimensions) throw new EmbedderDimensionError(embedder.dimensions, vector?.length ?? 0);
        for (const row of missing.get(h)!) row.vector = vector;
      });
      stats.chunksEmbedded += part.length;
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
      await this.applyChanges(rels);
    } catch (error) {
      if (!this.signal.aborted) await this.handleFailure(error, "live index update failed");
    } finally {
      release();
      this.scheduleCompaction();
    }
  }

  private async applyChanges(rels: readonly string[]): Promise<void> {
    const store = this.store!;
    const stats = emptyStats();
    const removed: string[] = [];
    const files: DiscoveredFile[] = [];
    for (const raw of rels) {
      const rel = raw.endsWith("/") ? raw.slice(0, -1) : raw;
      const stat = await statIndexable(this.rules, rel);
      if (stat === "directory") {
        // A folder appeared, moved or changed: files below it are compared with the index.
        const below = [...this.files.keys()].filter((p) => p.startsWith(`${rel}/`));
        const found = (await discoverFiles(new SubtreeRules(this.rules, rel), { maxFiles: this.options.maxFiles, signal: this.signal })).files;
        const present = new Set(found.map((f) => f.rel));
        removed.push(...below.filter((p) => !present.has(p)));
        files.push(...found.filter((f) => changedFrom(this.files.get(f.rel), f)));
        continue;
      }
      if (stat === "gone" || stat === "excluded") {
        // A file or a whole folder went (editors report deleted folders without saying so).
        if (this.files.has(rel)) removed.push(rel);
        for (const p of this.files.keys()) if (p.startsWith(`${rel}/`)) removed.push(p);
        continue;
      }
      if (changedFrom(this.files.get(rel), stat)) files.push(stat);
    }
    const unique = [...new Map(files.map((f) => [f.rel, f])).values()];
    if (unique.length > 0) await this.processFiles(unique, stats, true);
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
      await this.writeBatch([{ file: { rel, size: Buffer.byteLength(text), mtimeMs: -1 }, outcome }], stats, true);
      await this.refreshCounts();
      this.options.onChange?.();
    } catch (error) {
      if (!this.signal.aborted) await this.handleFailure(error, "indexing an open buffer failed");
    } finally {
      release();
      this.scheduleCompaction();
    }
  }

  async search(query: string, options: { k: number; vector?: Float32Array; where?: string }): Promise<StoredHit[]> {
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

  /** Compacts now (tests, benchmarks, the CLI at the end of a run). */
  async compact(): Promise<void> {
    if (!this.store || this.options.readOnly) return;
    const release = await this.work.acquire(this.signal);
    try {
      await this.store.compact();
    } finally {
      release();
    }
  }

  private scheduleCompaction(): void {
    if (!this.store || this.options.readOnly || this.disposed) return;
    if (this.store.writesSinceCompaction === 0) return;
    if (this.compactTimer) clearTimeout(this.compactTimer);
    const delay = this.store.writesSinceCompaction >= COMPACT_AFTER_WRITES ? 1000 : COMPACT_IDLE_MS;
    this.compactTimer = setTimeout(() => {
      this.compactTimer = undefined;
      void this.compactWhenIdle();
    }, delay);
    this.compactTimer.unref?.();
  }

  private async compactWhenIdle(): Promise<void> {
    try {
      await this.options.activity.idle(this.signal);
      const started = performance.now();
      await this.compact();
      this.options.logger.debug({ ms: Math.round(performance.now() - started) }, "index compacted");
    } catch (error) {
      if (!this.signal.aborted) this.options.logger.warn({ err: error }, "index compaction failed");
    }
  }

  private async refreshCounts(): Promise<void> {
    try {
      if (this.options.readOnly && this.store) this.files = await this.store.loadFiles();
      this.chunkCount = this.store ? await this.store.countChunks() : 0;
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
    this.controller.abort(new Error("index disposed"));
    if (this.pendingTimer) clearTimeout(this.pendingTimer);
    if (this.compactTimer) clearTimeout(this.compactTimer);
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

function changedFrom(record: FileRecord | undefined, file: DiscoveredFile): boolean {
  return !record || record.size !== file.size || record.mtime !== file.mtimeMs;
}

function toRow(path: string, chunk: HashedChunk, model: string): ChunkRow {
  return {
    path,
    start_line: chunk.startLine,
    start_col: chunk.startCol,
    end_line: chunk.endLine,
    end_col: chunk.endCol,
    language: chunk.language,
    symbol: chunk.symbol,
    kind: chunk.kind,
    text: chunk.text,
    symbols: chunk.symbols,
    hash: chunk.hash,
    model,
  };
}

export function errorMessage(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split("\n")[0]!.slice(0, 300);
}

/** The folder's rules, walking only below `dir`. */
class SubtreeRules extends IgnoreRules {
  constructor(
    private readonly base: IgnoreRules,
    private readonly dir: string,
  ) {
    super(base.root, { maxFileBytes: base.maxFileBytes });
  }

  override ignores(rel: string, isDir: boolean): boolean {
    if (rel === "" || rel === ".") return false;
    // discoverFiles starts at "" and asks about the root's entries: keep only the path to `dir`.
    if (!(rel === this.dir || rel.startsWith(`${this.dir}/`) || this.dir.startsWith(`${rel}/`))) return true;
    return this.base.ignores(rel, isDir);
  }
}
