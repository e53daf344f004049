import "./lancedbEnv.js";
import crypto from "node:crypto";
import fs from "node:fs";
import type * as LanceDB from "@lancedb/lancedb";
import type * as Arrow from "apache-arrow";
import type { Logger } from "../../util/logger.js";
import { Mutex } from "../../util/Mutex.js";
import type { ChunkKind } from "../types.js";
import { isLocalLocation } from "./location.js";

/** One stored chunk, as a LanceDB row. */
export interface ChunkRow {
  path: string;
  start_line: number;
  start_col: number;
  end_line: number;
  end_col: number;
  language: string;
  symbol: string;
  kind: ChunkKind;
  text: string;
  symbols: string;
  /** Content hash of `text`: re-embedding is keyed on it. */
  hash: string;
  /** Embedding model id ("" for the full-text-only table). */
  model: string;
  vector?: Float32Array;
}

/** One file the index has seen, indexed or skipped. */
export interface FileRecord {
  path: string;
  size: number;
  /** Modification time when read; -1 when the row came from an unsaved editor buffer. */
  mtime: number;
  /** Content hash of the file's bytes. */
  hash: string;
  chunks: number;
  /** "indexed" or why it was skipped. */
  status: string;
}

export interface StoredHit extends Omit<ChunkRow, "vector"> {
  score: number;
}

export interface StoreOptions {
  location: string;
  readOnly: boolean;
  logger: Logger;
  /** The embedding model; undefined: full-text only. */
  embedding?: { modelId: string; dimensions: number };
}

export class ReadOnlyStoreError extends Error {
  constructor() {
    super("the index is read-only");
  }
}

export class MissingIndexError extends Error {}

const CHUNK_COLUMNS = ["path", "start_line", "start_col", "end_line", "end_col", "language", "symbol", "kind", "text", "symbols", "hash", "model"];
const IN_LIST_MAX = 400;

/** Table names for an embedding configuration: a model or dimension change means new tables. */
export function tableKey(embedding: StoreOptions["embedding"]): string {
  if (!embedding) return "lexical";
  const slug = embedding.modelId.replace(/[^A-Za-z0-9]+/g, "_").replace(/^_|_$/g, "").slice(0, 40);
  const hash = crypto.hash("sha256", `${embedding.modelId}\0${embedding.dimensions}`, "hex").slice(0, 8);
  return `${slug}_${embedding.dimensions}_${hash}`;
}

/**
 * The LanceDB side of the index: a `chunks_<key>` table (rows as ChunkRow, full-text indexes on
 * text and symbols, a vector column when an embedder is configured) and a `files_<key>` table
 * (one row per file seen, for incremental updates). Writes are serialized; reads are not.
 */
export class IndexStore {
  readonly key: string;
  readonly chunksName: string;
  readonly filesName: string;
  private chunks: LanceDB.Table | undefined;
  private files: LanceDB.Table | undefined;
  private ftsReady = false;
  private ftsStale = false;
  private readonly writes = new Mutex();
  private reranker: Promise<LanceDB.rerankers.RRFReranker> | undefined;
  /** Write operations since the last compaction. */
  writesSinceCompaction = 0;

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

  /**
   * Opens (and in write mode creates) the tables. A table that exists but cannot be opened is
   * corrupt: in write mode it is dropped and recreated (the caller re-indexes), in read-only mode
   * this throws.
   */
  static async open(options: StoreOptions): Promise<IndexStore> {
    if (!options.readOnly && isLocalLocation(options.location)) fs.mkdirSync(options.location, { recursive: true });
    await loadLance();
    const db = await lancedb.connect(options.location, { session: sharedSession() });
    const store = new IndexStore(db, options);
    await store.openTables();
    return store;
  }

  private async openTables(): Promise<void> {
    const names = new Set(await this.db.tableNames());
    const { readOnly, logger } = this.options;
    if (readOnly && !names.has(this.chunksName)) {
      throw new MissingIndexError(`no index table ${this.chunksName} at ${this.options.location} (build it with \`ifai-lsp index\`)`);
    }
    try {
      await this.openBoth(names);
    } catch (error) {
      if (readOnly) throw error;
      // The two tables go together: chunks without their file records (or the reverse) would
      // make the next pass skip files whose rows are gone. Both are rebuilt from the files.
      logger.warn({ err: error, table: this.chunksName }, "index tables cannot be opened; recreating them");
      await this.dropBroken(this.chunksName);
      await this.dropBroken(this.filesName);
      this.chunks = await this.db.createEmptyTable(this.chunksName, this.chunkSchema(), { mode: "overwrite" });
      this.files = await this.db.createEmptyTable(this.filesName, filesSchema(), { mode: "overwrite" });
      this.ftsReady = false;
      this.recreated = true;
    }
    if (!readOnly) {
      const schema = await this.chunks!.schema();
      const vector = schema.fields.find((f) => f.name === "vector");
      // Duck-typed: LanceDB may hand back Arrow classes from its own copy of apache-arrow.
      const dims = vector ? (vector.type as { listSize?: number }).listSize : undefined;
      if (this.options.embedding && dims !== this.options.embedding.dimensions) {
        logger.warn({ table: this.chunksName, dims, expected: this.options.embedding.dimensions }, "vector size differs from the embedder's; recreating the table");
        await this.db.dropTable(this.chunksName);
        await this.db.dropTable(this.filesName).catch(() => undefined);
        this.chunks = await this.db.createEmptyTable(this.chunksName, this.chunkSchema());
        this.files = await this.db.createEmptyTable(this.filesName, filesSchema());
        this.ftsReady = false;
      }
    }
  }

  /** Opens or creates both tables and reads from each, so damaged data fails here rather than mid-search. */
  private async openBoth(names: Set<string>): Promise<void> {
    const open = async (name: string, schema: Arrow.Schema): Promise<LanceDB.Table | undefined> => {
      if (names.has(name)) return this.db.openTable(name);
      if (this.options.readOnly) return undefined;
      return this.db.createEmptyTable(name, schema, { mode: "overwrite" });
    };
    this.chunks = await open(this.chunksName, this.chunkSchema());
    this.files = await open(this.filesName, filesSchema());
    if (this.chunks) {
      const indices = await this.chunks.listIndices();
      this.ftsReady = indices.some((i) => i.columns.includes("text")) && indices.some((i) => i.columns.includes("symbols"));
      await this.chunks.query().select(["path", "hash"]).limit(1).toArray();
      await this.chunks.countRows();
    }
    if (this.files) await this.files.query().limit(1).toArray();
    if (!this.options.readOnly && this.chunks && this.files && (await this.chunks.countRows()) === 0 && (await this.files.countRows("chunks > 0")) > 0) {
      // File records without chunks: a crash between the two writes, or a table replaced by hand.
      throw new Error("the chunks table is empty but files are recorded");
    }
  }

  /** True when open() had to recreate damaged tables. */
  recreated = false;

  /** Drops a table LanceDB cannot open; for a local index, removes its folder when dropping fails. */
  private async dropBroken(name: string): Promise<void> {
    try {
      await this.db.dropTable(name);
      return;
    } catch (error) {
      this.options.logger.debug({ err: error, table: name }, "dropTable failed");
    }
    if (isLocalLocation(this.options.location)) {
      const dir = `${this.options.location.replace(/^file:\/\//, "")}/${name}.lance`;
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  private chunkSchema(): Arrow.Schema {
    const fields: Arrow.Field[] = [
      new arrow.Field("path", new arrow.Utf8(), false),
      new arrow.Field("start_line", new arrow.Int32(), false),
      new arrow.Field("start_col", new arrow.Int32(), false),
      new arrow.Field("end_line", new arrow.Int32(), false),
      new arrow.Field("end_col", new arrow.Int32(), false),
      new arrow.Field("language", new arrow.Utf8(), false),
      new arrow.Field("symbol", new arrow.Utf8(), false),
      new arrow.Field("kind", new arrow.Utf8(), false),
      new arrow.Field("text", new arrow.Utf8(), false),
      new arrow.Field("symbols", new arrow.Utf8(), false),
      new arrow.Field("hash", new arrow.Utf8(), false),
      new arrow.Field("model", new arrow.Utf8(), false),
    ];
    if (this.options.embedding) {
      fields.push(new arrow.Field("vector", new arrow.FixedSizeList(this.options.embedding.dimensions, new arrow.Field("item", new arrow.Float32(), true)), false));
    }
    return new arrow.Schema(fields);
  }

  private writable(): void {
    if (this.options.readOnly) throw new ReadOnlyStoreError();
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
   * Replaces the chunks of the given files (their old rows go, the new ones come) and records
   * the files, in as few table versions as possible.
   */
  async replaceFiles(updates: ReadonlyArray<{ record: FileRecord; chunks: readonly ChunkRow[]; existed: boolean }>): Promise<void> {
    this.writable();
    if (updates.length === 0) return;
    const release = await this.writes.acquire();
    try {
      const stale = updates.filter((u) => u.existed).map((u) => u.record.path);
      for (const part of inLists(stale)) await this.chunks!.delete(`path IN (${part})`);
      const rows = updates.flatMap((u) => u.chunks);
      if (rows.length > 0) {
        await this.chunks!.add(rows.map((r) => this.toArrowRow(r)));
        this.ftsStale = true;
      }
      await this.upsertFiles(updates.map((u) => u.record));
      this.writesSinceCompaction += 3;
    } finally {
      release();
    }
  }

  /** Updates file records without touching chunks (a file touched but unchanged). */
  async recordFiles(records: readonly FileRecord[]): Promise<void> {
    this.writable();
    if (records.length === 0) return;
    const release = await this.writes.acquire();
    try {
      await this.upsertFiles(records);
      this.writesSinceCompaction++;
    } finally {
      release();
    }
  }

  private async upsertFiles(records: readonly FileRecord[]): Promise<void> {
    await this.files!.mergeInsert("path").whenMatchedUpdateAll().whenNotMatchedInsertAll().execute(records.map((r) => ({ ...r })));
  }

  /** Removes files (and everything below folders given with a trailing "/") from the index. */
  async removePaths(paths: readonly string[]): Promise<void> {
    this.writable();
    if (paths.length === 0) return;
    const release = await this.writes.acquire();
    try {
      const exact = paths.filter((p) => !p.endsWith("/"));
      const prefixes = paths.filter((p) => p.endsWith("/"));
      for (const part of inLists(exact)) {
        await this.chunks!.delete(`path IN (${part})`);
        await this.files!.delete(`path IN (${part})`);
      }
      for (const prefix of prefixes) {
        const predicate = `starts_with(path, ${sqlString(prefix)})`;
        await this.chunks!.delete(predicate);
        await this.files!.delete(predicate);
      }
      this.writesSinceCompaction += 2;
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
    if (this.options.readOnly || this.ftsReady || !this.chunks) return;
    const release = await this.writes.acquire();
    try {
      if (this.ftsReady) return;
      if ((await this.chunks.countRows()) === 0) return;
      const config = (): LanceDB.Index =>
        lancedb.Index.fts({ baseTokenizer: "simple", lowercase: true, stem: true, language: "English", removeStopWords: false, asciiFolding: true, withPosition: false });
      await this.chunks.createIndex("text", { config: config(), replace: true });
      await this.chunks.createIndex("symbols", { config: config(), replace: true });
      this.ftsReady = true;
      this.ftsStale = false;
    } finally {
      release();
    }
  }

  get ftsIndexed(): boolean {
    return this.ftsReady;
  }

  /**
   * Full-text search (text and symbols columns), fused with vector search by reciprocal rank when
   * a query vector is given. Rows added since the last index update are searched too (LanceDB
   * scans the unindexed part).
   */
  async search(query: string, options: { k: number; vector?: Float32Array; where?: string }): Promise<StoredHit[]> {
    if (!this.chunks) return [];
    const hasText = query.trim() !== "";
    if (!this.ftsReady) {
      if (this.options.readOnly) return [];
      await this.ensureFtsIndex();
      if (!this.ftsReady) return [];
    }
    let rows: Array<Record<string, unknown>>;
    if (options.vector && this.options.embedding) {
      let q: LanceDB.VectorQuery = this.chunks.query().nearestTo(options.vector).distanceType("cosine");
      if (hasText) {
        q = (this.chunks.query().fullTextSearch(query, { columns: ["text", "symbols"] }) as LanceDB.Query).nearestTo(options.vector).distanceType("cosine");
        this.reranker ??= lancedb.rerankers.RRFReranker.create(60);
        q = q.rerank(await this.reranker);
      }
      if (options.where) q = q.where(options.where);
      rows = await q.select(CHUNK_COLUMNS).limit(options.k).toArray();
    } else {
      if (!hasText) return [];
      let q = this.chunks.query().fullTextSearch(query, { columns: ["text", "symbols"] });
      if (options.where) q = q.where(options.where);
      rows = await q.select(CHUNK_COLUMNS).limit(options.k).toArray();
    }
    return rows.map((r) => {
      const score = Number(r["_relevance_score"] ?? r["_score"] ?? (r["_distance"] !== undefined ? 1 - Number(r["_distance"]) : 0));
      return { ...(pick(r) as Omit<ChunkRow, "vector">), score };
    });
  }

  /** The stored chunks of one file, in order. */
  async chunksOf(path: string): Promise<Array<Omit<ChunkRow, "vector">>> {
    if (!this.chunks) return [];
    const rows = await this.chunks.query().where(`path = ${sqlString(path)}`).select(CHUNK_COLUMNS).toArray();
    return rows.map((r) => pick(r) as Omit<ChunkRow, "vector">).sort((a, b) => a.start_line - b.start_line || a.start_col - b.start_col);
  }

  async countChunks(): Promise<number> {
    return this.chunks ? this.chunks.countRows() : 0;
  }

  /**
   * Compacts small data files, folds new rows into the full-text indexes and drops old table
   * versions (older than a few minutes, so a concurrent reader never loses its version).
   */
  async compact(): Promise<void> {
    if (this.options.readOnly || !this.chunks || !this.files) return;
    const release = await this.writes.acquire();
    try {
      const olderThan = new Date(Date.now() - 5 * 60_000);
      await this.chunks.optimize({ cleanupOlderThan: olderThan });
      await this.files.optimize({ cleanupOlderThan: olderThan });
      this.writesSinceCompaction = 0;
      this.ftsStale = false;
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

/**
 * LanceDB and apache-arrow cost ~130 ms to import: they are loaded when a store first opens, so
 * the server answers `initialize` without them.
 */
let lancedb: typeof LanceDB;
let arrow: typeof Arrow;
async function loadLance(): Promise<void> {
  lancedb ??= await import("@lancedb/lancedb");
  arrow ??= await import("apache-arrow");
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

function filesSchema(): Arrow.Schema {
  return new arrow.Schema([
  new arrow.Field("path", new arrow.Utf8(), false),
  new arrow.Field("size", new arrow.Float64(), false),
  new arrow.Field("mtime", new arrow.Float64(), false),
  new arrow.Field("hash", new arrow.Utf8(), false),
  new arrow.Field("chunks", new arrow.Int32(), false),
  new arrow.Field("status", new arrow.Utf8(), false),
  ]);
}

function pick(r: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const c of CHUNK_COLUMNS) out[c] = r[c];
  for (const c of ["start_line", "start_col", "end_line", "end_col"]) out[c] = Number(out[c]);
  return out;
}

function toFloat32(value: unknown): Float32Array | undefined {
  if (!value) return undefined;
  if (value instanceof Float32Array) return value;
  const v = value as { toArray?: () => ArrayLike<number> };
  if (typeof v.toArray === "function") return Float32Array.from(v.toArray());
  if (Array.isArray(value)) return Float32Array.from(value as number[]);
  return undefined;
}

export function sqlString(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

function inLists(values: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < values.length; i += IN_LIST_MAX) out.push(values.slice(i, i + IN_LIST_MAX).map(sqlString).join(", "));
  return out;
}
