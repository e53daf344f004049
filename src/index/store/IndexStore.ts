import "./lancedbEnv.js";
import crypto from "node:crypto";
import fs from "node:fs";
import { createRequire } from "node:module";
import type * as LanceDB from "@lancedb/lancedb";
import type * as Arrow from "apache-arrow";
import type { Logger } from "../../util/logger.js";
import { Mutex } from "../../util/Mutex.js";
import { withConflictRetry } from "./commits.js";
import { isLocalLocation } from "./location.js";
import { COMMON_WORD_FIELDS, FIELD_WEIGHTS, queryTerms, STEMMED_FIELDS, type LexicalField, type WeightedTerm } from "../lexicalFields.js";
import { candidatesFor, DEFAULT_FUSION, fuseRankings, type FusionWeights } from "./fusion.js";
import { findDamage, type Damage } from "./repair.js";
import { SoleWriter } from "./SoleWriter.js";
import { CHUNK_COLUMNS, chunkId, inLists, pick, sqlString, toFloat32, type ChunkRow, type FileRecord } from "./rows.js";
import { ensurePrimaryKeys, openIfPresent, openOrCreateTables, outdatedSchema, recreateTables, type TableSetup } from "./tableSetup.js";

export { chunkId, sqlString, type ChunkRow, type FileRecord } from "./rows.js";

export type StoredChunk = Omit<ChunkRow, "vector" | "body" | "name" | "signature">;

export interface StoredHit extends StoredChunk {
  score: number;
}

export interface StoreSearchOptions {
  k: number;
  /** The query's embedding: hybrid search when the store has vectors. */
  vector?: Float32Array;
  /** A LanceDB filter (SQL) on the rows. */
  where?: string;
  /** Candidates each side of hybrid search contributes (0 or absent: candidatesFor's default). */
  candidates?: number;
  fusion?: FusionWeights;
}

export interface StoreOptions {
  location: string;
  readOnly: boolean;
  logger: Logger;
  /** The embedding model; undefined: full-text only. */
  embedding?: { modelId: string; dimensions: number };
  /**
   * Called before every commit: throws when this process may no longer write (its writer lease
   * was taken over), so a stalled writer stops instead of racing the new one.
   */
  beforeWrite?: () => void;
}

export class ReadOnlyStoreError extends Error {
  constructor() {
    super("the index is read-only");
  }
}

export class MissingIndexError extends Error {}

/**
 * Columns with a B-tree index: the merge key and the column every per-file write filters on. At
 * 1.3M rows, replacing one file's rows scanned both columns whole, ~450 MB and 0.6 s per saved
 * file; with the indexes, ~10 MB and 0.46 s (bench:scale's table).
 */
const KEY_COLUMNS = ["id", "path"] as const;

/** The fields with a full-text index, in the order their clauses are built. */
const LEXICAL_FIELDS: readonly LexicalField[] = ["body", "name", "signature", "symbols"];

/** Table names for an embedding configuration: a model or dimension change means new tables. */
export function tableKey(embedding: StoreOptions["embedding"]): string {
  if (!embedding) return "lexical";
  const slug = embedding.modelId.replace(/[^A-Za-z0-9]+/g, "_").replace(/^_|_$/g, "").slice(0, 40);
  const hash = crypto.hash("sha256", `${embedding.modelId}\0${embedding.dimensions}`, "hex").slice(0, 8);
  return `${slug}_${embedding.dimensions}_${hash}`;
}

/** Seconds between checks for versions other processes committed (reads only; writes always see the latest). */
const READ_CONSISTENCY_S = 1;

/**
 * The LanceDB side of the index: a `chunks_<key>` table (rows as ChunkRow keyed by their stable
 * id, full-text indexes on text and symbols, a vector column when an embedder is configured) and
 * a `files_<key>` table (one row per file seen, keyed by path, for incremental updates).
 *
 * Several processes may open one store; the FolderIndex above makes sure one writes at a time
 * (its writer lease). The writes themselves stay exact whatever the interleaving: a file's rows
 * are replaced by one merge-insert commit keyed on the chunk id (rows of the file that are not in
 * the new set are deleted in the same commit), and both tables carry an unenforced primary key, so
 * LanceDB detects two commits inserting the same key and retries the later one as an update.
 * Readers therefore never see a file half-replaced or twice.
 */
export class IndexStore {
  readonly key: string;
  readonly chunksName: string;
  readonly filesName: string;
  private chunks: LanceDB.Table | undefined;
  private files: LanceDB.Table | undefined;
  private ftsReady = false;
  /** Whether `id` and `path` have their scalar indexes (see KEY_COLUMNS). */
  private keysIndexed = false;
  private ftsStale = false;
  private readonly writes = new Mutex();
  /** Why the tables could not be opened for reading; the writer rebuilds them in prepareWrites. */
  private damaged: unknown;
  private prepared = false;
  /** Write operations since the last compaction. */
  writesSinceCompaction = 0;
  /** Chunk rows written since the last compaction (the full-text index has not seen them). */
  rowsSinceCompaction = 0;
  /** True when prepareWrites had to recreate damaged or outdated tables. */
  recreated = false;
  /** While no other process has committed, rows of files without a record are appended, not merged. */
  private readonly sole = new SoleWriter();

  private constructor(
    private readonly db: LanceDB.Connection,
    readonly options: StoreOptions,
  ) {
    this.key = tableKey(options.embedding);
    this.chunksName = `chunks_${this.key}`;
    this.filesName = `files_${this.key}`;
  }

  get readOnly(): boolean {
    return this.options.readOnly;
  }

  get hybrid(): boolean {
    return this.options.embedding !== undefined;
  }

  private get logger(): Logger {
    return this.options.logger;
  }

  /**
   * Opens the tables for reading. Nothing is created or repaired here: that is a write, and only
   * the process holding the writer lease may do it (prepareWrites). A read-only store without
   * tables throws MissingIndexError; a writable one starts empty until its first prepareWrites.
   */
  static async open(options: StoreOptions): Promise<IndexStore> {
    if (!options.readOnly && isLocalLocation(options.location)) fs.mkdirSync(options.location, { recursive: true });
    await loadLance();
    const db = await lancedb.connect(options.location, { session: sharedSession(), readConsistencyInterval: READ_CONSISTENCY_S });
    const store = new IndexStore(db, options);
    await store.openForReading();
    return store;
  }

  private async openForReading(): Promise<void> {
    try {
      this.chunks = await openIfPresent(this.db, this.chunksName);
      if (!this.chunks) {
        if (this.options.readOnly) {
          throw new MissingIndexError(`no index table ${this.chunksName} at ${this.options.location} (build it with \`ifai-lsp index\`)`);
        }
        return;
      }
      this.files = await openIfPresent(this.db, this.filesName);
      if (this.options.readOnly) {
        // A writer would rebuild it; a reader can only say so (its searches would find nothing).
        const outdated = await outdatedSchema(this.chunks, this.options.embedding);
        if (outdated) throw new MissingIndexError(`the index table ${this.chunksName} at ${this.options.location} has an older layout (${outdated}); rebuild it with \`ifai-lsp index\``);
      }
      await this.probe();
    } catch (error) {
      if (error instanceof MissingIndexError) throw error;
      if (this.options.readOnly) throw error;
      this.damaged = error;
      this.chunks = undefined;
      this.files = undefined;
    }
  }

  /** Reads from each table, so damaged data fails here rather than mid-search. */
  private async probe(): Promise<void> {
    if (this.chunks) {
      await this.refreshFtsState();
      await this.chunks.query().select(["path", "hash"]).limit(1).toArray();
      await this.chunks.countRows();
    }
    if (this.files) await this.files.query().limit(1).toArray();
  }

  private async refreshFtsState(): Promise<void> {
    if (!this.chunks) return;
    const indices = await this.chunks.listIndices();
    this.ftsReady = LEXICAL_FIELDS.every((field) => indices.some((i) => i.columns.includes(field)));
    this.keysIndexed = KEY_COLUMNS.every((column) => indices.some((i) => i.columns.includes(column)));
  }

  /**
   * Brings the tables to the newest version other processes committed, and opens them when they
   * were created since this store opened.
   */
  async refresh(): Promise<void> {
    if (!this.chunks) {
      try {
        this.chunks = await openIfPresent(this.db, this.chunksName);
        if (!this.chunks) return;
        this.files = await openIfPresent(this.db, this.filesName);
      } catch {
        // Being created or replaced right now: the next refresh looks again.
        this.chunks = undefined;
        this.files = undefined;
        return;
      }
    }
    await this.chunks.checkoutLatest();
    await this.files?.checkoutLatest();
    if (!this.ftsReady) await this.refreshFtsState();
  }

  /**
   * Makes the store ready for writing; the caller holds the folder's writer lease. The first call
   * creates missing tables, rebuilds damaged or outdated ones and repairs what uncoordinated
   * writers left (duplicate rows, stale rows, miscounted files: those files are forgotten and the
   * next pass indexes them again). Later calls only move to the newest version.
   */
  async prepareWrites(): Promise<{ recreated: boolean; repaired?: Damage }> {
    this.writable();
    const release = await this.writes.acquire();
    try {
      if (this.prepared) {
        await this.refresh();
        if (this.chunks && this.files) await this.sole.verify(this.chunks, this.files);
        return { recreated: false };
      }
      let broken = this.damaged;
      this.damaged = undefined;
      if (!broken) {
        try {
          await this.openOrCreate();
          await this.probe();
        } catch (error) {
          broken = error;
        }
      }
      const outdated = broken ? undefined : await outdatedSchema(this.chunks!, this.options.embedding);
      if (broken || outdated) {
        if (broken) this.logger.warn({ err: broken, table: this.chunksName }, "index tables cannot be opened; recreating them");
        else this.logger.warn({ table: this.chunksName, reason: outdated }, "index tables have an older layout; recreating them");
        await this.recreate();
        this.prepared = true;
        await this.sole.checked(this.chunks!, this.files!);
        return { recreated: true };
      }
      await ensurePrimaryKeys(this.chunks!, this.files!);
      const damage = await findDamage(this.chunks!, this.files!);
      if (damage.paths.length > 0) {
        this.options.beforeWrite?.();
        for (const part of inLists(damage.paths)) {
          await withConflictRetry(this.logger, "repair chunks", () => this.chunks!.delete(`path IN (${part})`));
          await withConflictRetry(this.logger, "repair files", () => this.files!.delete(`path IN (${part})`));
        }
        const { paths, ...counts } = damage;
        this.logger.info({ ...counts, files: paths.length }, "index repaired: files with duplicate, stale or missing rows are indexed again");
      }
      this.prepared = true;
      await this.sole.checked(this.chunks!, this.files!);
      return { recreated: false, ...(damage.paths.length > 0 ? { repaired: damage } : {}) };
    } finally {
      release();
    }
  }

  private tableSetup(): TableSetup {
    return { db: this.db, arrow, chunksName: this.chunksName, filesName: this.filesName, location: this.options.location, logger: this.logger, ...(this.options.embedding ? { embedding: this.options.embedding } : {}) };
  }

  private async openOrCreate(): Promise<void> {
    this.options.beforeWrite?.();
    ({ chunks: this.chunks, files: this.files } = await openOrCreateTables(this.tableSetup()));
  }

  private async recreate(): Promise<void> {
    this.options.beforeWrite?.();
    ({ chunks: this.chunks, files: this.files } = await recreateTables(this.tableSetup()));
    this.ftsReady = false;
    this.recreated = true;
  }

  private writable(): void {
    if (this.options.readOnly) throw new ReadOnlyStoreError();
  }

  /** The tables for a write; prepareWrites must have run. */
  private tables(): { chunks: LanceDB.Table; files: LanceDB.Table } {
    this.writable();
    if (!this.prepared || !this.chunks || !this.files) throw new Error("the index store is not prepared for writing");
    this.options.beforeWrite?.();
    return { chunks: this.chunks, files: this.files };
  }

  /** The files table's newest version (undefined before it exists): it moves with every commit of any process. */
  async filesVersion(): Promise<number | undefined> {
    if (!this.files) return undefined;
    await this.files.checkoutLatest();
    return this.files.version();
  }

  /** Every file record, by path. */
  async loadFiles(): Promise<Map<string, FileRecord>> {
    const out = new Map<string, FileRecord>();
    if (!this.files) return out;
    const rows = (await this.files.query().select(["path", "size", "mtime", "hash", "chunks", "status"]).toArray()) as FileRecord[];
    for (const r of rows) out.set(r.path, { path: r.path, size: Number(r.size), mtime: Number(r.mtime), hash: r.hash, chunks: Number(r.chunks), status: r.status });
    return out;
  }

  /**
   * Replaces the chunks of the given files and records them. Each group of files is one
   * merge-insert commit on the chunks table: new rows are inserted, rows that are still there are
   * matched by id, and the files' other rows are deleted in the same commit, so a reader sees
   * either the old rows of a file or the new ones. Files the caller knows no record of (`fresh`)
   * are appended instead while this process is the tables' only writer (SoleWriter: such files
   * then have no rows), which costs the same at any table size. The records follow in a second
   * commit; a crash between the two leaves files that the next pass reads again.
   */
  async replaceFiles(updates: ReadonlyArray<{ record: FileRecord; chunks: readonly ChunkRow[]; fresh?: boolean }>): Promise<void> {
    if (updates.length === 0) return;
    const release = await this.writes.acquire();
    try {
      const { chunks, files } = this.tables();
      const append = this.sole.sole ? updates.filter((u) => u.fresh) : [];
      const merge = append.length > 0 ? updates.filter((u) => !u.fresh) : updates;
      for (let i = 0; i < merge.length; i += 400) {
        const group = merge.slice(i, i + 400);
        const list = group.map((u) => sqlString(u.record.path)).join(", ");
        const rows = this.arrowRows(group);
        this.options.beforeWrite?.();
        await withConflictRetry(this.logger, "replace chunks", () =>
          chunks.mergeInsert("id").whenMatchedUpdateAll().whenNotMatchedInsertAll().whenNotMatchedBySourceDelete({ where: `path IN (${list})` }).execute(rows),
        );
        if (rows.length > 0) this.ftsStale = true;
        this.rowsSinceCompaction += rows.length;
      }
      const appended = this.arrowRows(append);
      if (appended.length > 0) {
        this.options.beforeWrite?.();
        await chunks.add(appended);
        this.ftsStale = true;
        this.rowsSinceCompaction += appended.length;
      }
      await this.upsertFiles(
        merge.map((u) => u.record),
        append.map((u) => u.record),
      );
      this.writesSinceCompaction += 2;
      await this.sole.committed(chunks, files);
    } finally {
      release();
    }
  }

  /** The Arrow rows of some files' chunks, each id once. */
  private arrowRows(updates: ReadonlyArray<{ chunks: readonly ChunkRow[] }>): Array<Record<string, unknown>> {
    return [...new Map(updates.flatMap((u) => u.chunks).map((r) => [r.id, r])).values()].map((r) => this.toArrowRow(r));
  }

  /** Updates file records without touching chunks (a file touched but unchanged). */
  async recordFiles(records: readonly FileRecord[]): Promise<void> {
    if (records.length === 0) return;
    const release = await this.writes.acquire();
    try {
      await this.upsertFiles(records, []);
      this.writesSinceCompaction++;
      await this.sole.committed(this.chunks, this.files);
    } finally {
      release();
    }
  }

  /** Records files: merged by path, or appended for files that have no record (replaceFiles decides). */
  private async upsertFiles(records: readonly FileRecord[], fresh: readonly FileRecord[]): Promise<void> {
    const { files } = this.tables();
    const rows = [...new Map(records.map((r) => [r.path, { ...r }])).values()];
    if (rows.length > 0) await withConflictRetry(this.logger, "record files", () => files.mergeInsert("path").whenMatchedUpdateAll().whenNotMatchedInsertAll().execute(rows));
    if (fresh.length > 0) {
      this.options.beforeWrite?.();
      await files.add([...new Map(fresh.map((r) => [r.path, { ...r }])).values()]);
    }
  }

  /** Removes files (and everything below folders given with a trailing "/") from the index. */
  async removePaths(paths: readonly string[]): Promise<void> {
    if (paths.length === 0) return;
    const release = await this.writes.acquire();
    try {
      const { chunks, files } = this.tables();
      const predicates = [
        ...inLists(paths.filter((p) => !p.endsWith("/"))).map((part) => `path IN (${part})`),
        ...paths.filter((p) => p.endsWith("/")).map((prefix) => `starts_with(path, ${sqlString(prefix)})`),
      ];
      // Rows first, records after: a crash in between leaves records of gone files, which the next scan removes.
      for (const predicate of predicates) {
        this.options.beforeWrite?.();
        await withConflictRetry(this.logger, "remove chunks", () => chunks.delete(predicate));
        await withConflictRetry(this.logger, "remove files", () => files.delete(predicate));
      }
      this.writesSinceCompaction += 2;
      await this.sole.committed(chunks, files);
    } finally {
      release();
    }
  }

  /** Vectors already stored for these chunk hashes (so unchanged chunks are not embedded again). */
  async vectorsByHash(hashes: readonly string[]): Promise<Map<string, Float32Array>> {
    const out = new Map<string, Float32Array>();
    if (!this.options.embedding || !this.chunks || hashes.length === 0) return out;
    for (const part of inLists([...new Set(hashes)])) {
      const rows = await this.chunks.query().where(`hash IN (${part})`).select(["hash", "vector"]).toArray();
      for (const row of rows) {
        if (out.has(row.hash)) continue;
        const v = toFloat32(row.vector);
        if (v && v.length === this.options.embedding.dimensions) out.set(row.hash, v);
      }
    }
    return out;
  }

  /** Creates the full-text indexes once the table has rows (LanceDB refuses full-text search without them). */
  async ensureFtsIndex(): Promise<void> {
    if (this.options.readOnly || (this.ftsReady && this.keysIndexed) || !this.chunks) return;
    const release = await this.writes.acquire();
    try {
      if (this.ftsReady && this.keysIndexed) return;
      const { chunks } = this.tables();
      // Another process may have made them already.
      await this.refreshFtsState();
      if (this.ftsReady && this.keysIndexed) return;
      if ((await chunks.countRows()) === 0) return;
      // One index per field (lexicalFields.ts); identifier fields are not stemmed.
      for (const field of this.ftsReady ? [] : LEXICAL_FIELDS) {
        const config = (): LanceDB.Index =>
          lancedb.Index.fts({ baseTokenizer: "simple", lowercase: true, stem: STEMMED_FIELDS.has(field), language: "English", removeStopWords: false, asciiFolding: true, withPosition: false });
        await withConflictRetry(this.logger, "full-text index", () => chunks.createIndex(field, { config: config(), replace: true }));
      }
      // Tables written by an earlier version get their key indexes at the end of the next pass.
      for (const column of this.keysIndexed ? [] : KEY_COLUMNS) {
        await withConflictRetry(this.logger, "key index", () => chunks.createIndex(column, { config: lancedb.Index.btree(), replace: true }));
      }
      this.ftsReady = true;
      this.keysIndexed = true;
      this.ftsStale = false;
      await this.sole.committed(this.chunks, this.files);
    } finally {
      release();
    }
  }

  /** Whether the full-text and key indexes exist (rows written since are searched without them until compaction). */
  get ftsIndexed(): boolean {
    return this.ftsReady && this.keysIndexed;
  }

  /**
   * Full-text search (the weighted fields of lexicalFields.ts), fused with vector search when a query vector is
   * given (fusion.ts: weighted reciprocal ranks over more candidates than k, with a guard against
   * an embedder that disagrees with full text). Rows added since the last index update are
   * searched too (LanceDB scans the unindexed part). Searching never writes: without full-text
   * indexes (no writer has made them yet) only the vector side can answer.
   */
  async search(query: string, options: StoreSearchOptions): Promise<StoredHit[]> {
    if (!this.chunks) await this.refresh();
    if (!this.chunks) return [];
    const k = Math.max(0, Math.floor(options.k));
    if (k === 0) return [];
    const terms = queryTerms(query);
    const hasText = terms.length > 0;
    if (!this.ftsReady) await this.refreshFtsState();
    const vector = options.vector && this.options.embedding ? options.vector : undefined;
    if (!vector) {
      if (!hasText || !this.ftsReady) return [];
      return (await this.fullText(terms, k, options.where)).map((r) => toHit(r, Number(r["_score"] ?? 0)));
    }
    const candidates = candidatesFor(k, options.candidates);
    const lexical = hasText && this.ftsReady ? await this.fullText(terms, candidates, options.where) : [];
    let nearest = this.chunks.query().nearestTo(vector).distanceType("cosine");
    if (options.where) nearest = nearest.where(options.where);
    const similar = await nearest.select(CHUNK_COLUMNS).limit(candidates).toArray();
    const fused = fuseRankings(lexical, similar, (r) => String(r["id"]), k, options.fusion ?? DEFAULT_FUSION);
    return fused.hits.map((f) => toHit(f.item, f.score));
  }

  /**
   * BM25 over the lexical fields, each field's score boosted by its weight and, in the name
   * fields, each query word's by its own (common words count for less): one should-clause per
   * field and word weight.
   */
  private async fullText(terms: readonly WeightedTerm[], limit: number, where: string | undefined): Promise<Array<Record<string, unknown>>> {
    const clauses: Array<[LanceDB.Occur, LanceDB.FullTextQuery]> = [];
    for (const field of LEXICAL_FIELDS) {
      const byWeight = new Map<number, string[]>();
      for (const t of terms) {
        const weight = COMMON_WORD_FIELDS.has(field) ? t.weight : 1;
        byWeight.set(weight, [...(byWeight.get(weight) ?? []), t.term]);
      }
      for (const [weight, words] of byWeight) {
        clauses.push([lancedb.Occur.Should, new lancedb.MatchQuery(words.join(" "), field, { boost: FIELD_WEIGHTS[field] * weight })]);
      }
    }
    let q = this.chunks!.query().fullTextSearch(new lancedb.BooleanQuery(clauses));
    if (where) q = q.where(where);
    return q.select(CHUNK_COLUMNS).limit(limit).toArray();
  }

  /** The stored chunks of one file, in order. */
  async chunksOf(path: string): Promise<StoredChunk[]> {
    if (!this.chunks) return [];
    const rows = await this.chunks.query().where(`path = ${sqlString(path)}`).select(CHUNK_COLUMNS).toArray();
    return rows.map((r) => pick(r) as StoredChunk).sort((a, b) => a.start_line - b.start_line || a.start_col - b.start_col);
  }

  async countChunks(): Promise<number> {
    return this.chunks ? this.chunks.countRows() : 0;
  }

  /** What the tables hold now, counted by LanceDB (other processes' commits included). */
  async counts(): Promise<{ chunks: number; files: number; indexedFiles: number }> {
    await this.refresh();
    return {
      chunks: this.chunks ? await this.chunks.countRows() : 0,
      files: this.files ? await this.files.countRows() : 0,
      indexedFiles: this.files ? await this.files.countRows("status = 'indexed'") : 0,
    };
  }

  /**
   * Every stored chunk as (path, id, text), sorted: tests and the stress tool compare indexes with
   * it. The id is derived from the columns, so tables of older versions (no id column) compare too.
   */
  async snapshot(): Promise<Array<{ path: string; id: string; text: string }>> {
    await this.refresh();
    if (!this.chunks) return [];
    const rows = (await this.chunks.query().select(["path", "start_line", "start_col", "hash", "text"]).toArray()) as Array<{ path: string; start_line: number; start_col: number; hash: string; text: string }>;
    return rows
      .map((r) => ({ path: r.path, id: chunkId(r.path, Number(r.start_line), Number(r.start_col), r.hash), text: r.text }))
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /**
   * Compacts small data files, folds new rows into the full-text indexes and drops old table
   * versions (older than a few minutes, so a concurrent reader never loses its version).
   */
  async compact(): Promise<void> {
    if (this.options.readOnly || !this.prepared || !this.chunks || !this.files) return;
    const release = await this.writes.acquire();
    try {
      const { chunks, files } = this.tables();
      const olderThan = new Date(Date.now() - 5 * 60_000);
      await withConflictRetry(this.logger, "compact chunks", () => chunks.optimize({ cleanupOlderThan: olderThan }));
      await withConflictRetry(this.logger, "compact files", () => files.optimize({ cleanupOlderThan: olderThan }));
      this.writesSinceCompaction = 0;
      this.rowsSinceCompaction = 0;
      this.ftsStale = false;
      await this.sole.committed(chunks, files);
    } finally {
      release();
    }
  }

  /** Whether rows were added since the full-text index was last updated. */
  get hasUnindexedRows(): boolean {
    return this.ftsStale;
  }

  /** Drops the tables of other embedding configurations (after this one is complete). */
  async dropOtherTables(): Promise<string[]> {
    if (this.options.readOnly) return [];
    this.options.beforeWrite?.();
    const dropped: string[] = [];
    for (const name of await this.db.tableNames()) {
      if ((name.startsWith("chunks_") || name.startsWith("files_")) && name !== this.chunksName && name !== this.filesName) {
        await this.db.dropTable(name).catch(() => undefined);
        dropped.push(name);
      }
    }
    return dropped;
  }

  close(): void {
    this.chunks?.close();
    this.files?.close();
    this.db.close();
  }

  private toArrowRow(row: ChunkRow): Record<string, unknown> {
    const out: Record<string, unknown> = { ...row };
    if (this.options.embedding) out["vector"] = Array.from(row.vector ?? new Float32Array(this.options.embedding.dimensions));
    else delete out["vector"];
    return out;
  }
}

function toHit(row: Record<string, unknown>, score: number): StoredHit {
  return { ...(pick(row) as StoredChunk), score };
}

/**
 * LanceDB costs ~100 ms to import: it is loaded when a store first opens, so the server answers
 * `initialize` without it. apache-arrow is taken through `require`, the copy LanceDB itself
 * loads: `import("apache-arrow")` would load the package's ESM build as a second copy, which
 * cost another 70–150 ms on every `ifai-lsp search`.
 */
let lancedb: typeof LanceDB;
let arrow: typeof Arrow;
async function loadLance(): Promise<void> {
  lancedb ??= await import("@lancedb/lancedb");
  arrow ??= createRequire(import.meta.url)("apache-arrow") as typeof Arrow;
}

let session: LanceDB.Session | undefined;

/**
 * One LanceDB session (caches) for the process, sized for an editor's companion rather than a
 * database server: LanceDB's defaults are a 6 GB index cache and a 1 GB metadata cache.
 */
function sharedSession(): LanceDB.Session {
  session ??= new lancedb.Session(BigInt(128 * 2 ** 20), BigInt(32 * 2 ** 20));
  return session;
}

