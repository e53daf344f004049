import type { Logger } from "../util/logger.js";
import type { DiscoveredFile } from "./discovery.js";
import type { Embedder } from "./embedding/types.js";
import type { ForegroundActivity } from "./priority.js";
import { bodyField, nameField, signatureField } from "./lexicalFields.js";
import { chunkId, type ChunkRow, type FileRecord, type IndexStore } from "./store/IndexStore.js";
import type { HashedChunk, PassStats } from "./types.js";
import type { ChunkPool } from "./worker/ChunkPool.js";
import type { PoolOutcome } from "./worker/protocol.js";

/*
 * The per-file indexing pass of one folder: chunk files in the worker pool, compare their content
 * hashes with the folder's records, embed new chunks (reusing vectors by chunk hash) and write
 * them in bounded batches. It lives apart from FolderIndex because it needs only the narrow
 * `IndexingHost` below, not the folder's queueing, compaction or recovery.
 */

/** Files per write: bounded so progress shows and a completion never waits behind a long write. */
const BATCH_FILES = 200;
const BATCH_CHUNKS = 3000;
/** Texts per embedder call (the embedder batches further by tokens). */
const EMBED_BATCH = 32;

export class EmbedderDimensionError extends Error {
  constructor(readonly expected: number, readonly actual: number) {
    super(`the embedder returned vectors of ${actual} dimensions, not ${expected}`);
  }
}

/** A file and what the chunker made of it, waiting to be written. */
export interface Processed {
  file: DiscoveredFile | { rel: string; size: number; mtimeMs: number };
  outcome: PoolOutcome & { bytes?: number };
}

/**
 * What the pass needs from its folder. The store and the file records are functions because
 * recovery replaces both while a pass may be waiting, and the pass must see the current ones.
 */
export interface IndexingHost {
  readonly options: {
    readonly logger: Logger;
    readonly pool: ChunkPool;
    readonly activity: ForegroundActivity;
    readonly embedder?: Embedder;
    readonly maxFileBytes: number;
    readonly onChange?: () => void;
  };
  readonly signal: AbortSignal;
  store(): IndexStore;
  files(): Map<string, FileRecord>;
  /** Moves the folder's chunk count, so its status is right while the pass runs. */
  addChunks(delta: number): void;
  /** Makes `progress` the folder's visible progress; the pass updates it in place. */
  showProgress(progress: { done: number; total: number }): void;
}

/**
 * Reads, chunks, embeds and writes files (a file's old rows, if any, are replaced).
 * Chunking (worker threads) and writing (LanceDB's threads) overlap: one batch is written while
 * the next is being chunked.
 */
export async function indexFiles(host: IndexingHost, files: ReadonlyArray<DiscoveredFile>, stats: PassStats): Promise<void> {
  const { pool, activity } = host.options;
  const window = Math.max(4, pool.size * 4);
  const inflight = new Map<number, Promise<{ index: number; result: Processed }>>();
  let batch: Processed[] = [];
  let batchChunks = 0;
  let next = 0;
  const progress = { done: 0, total: files.length };
  host.showProgress(progress);
  host.options.onChange?.();
  let lastReport = performance.now();
  let writing: Promise<void> = Promise.resolve();
  let writeError: unknown;

  const launch = async (): Promise<void> => {
    while (inflight.size < window && next < files.length && writeError === undefined) {
      await activity.idle(host.signal);
      const index = next++;
      const file = files[index]!;
      inflight.set(
        index,
        pool.chunkFile(file.abs, file.rel, host.options.maxFileBytes).then((outcome) => ({ index, result: { file, outcome } })),
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
    writing = writeBatch(host, full, stats).then(
      () => {
        progress.done += full.length;
        if (performance.now() - lastReport > 200 || progress.done === progress.total) {
          lastReport = performance.now();
          host.options.onChange?.();
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

/** Writes one batch: changed files get new rows, touched ones only a new record, and the folder's records follow. */
export async function writeBatch(host: IndexingHost, batch: readonly Processed[], stats: PassStats): Promise<void> {
  const { logger, embedder } = host.options;
  const store = host.store();
  const replace: Array<{ record: FileRecord; chunks: ChunkRow[]; fresh: boolean }> = [];
  const touched: FileRecord[] = [];
  const embedQueue: Array<{ rows: ChunkRow[]; chunks: HashedChunk[] }> = [];
  const known = host.files();
  for (const { file, outcome } of batch) {
    stats.read++;
    if (outcome.bytes) stats.bytesRead += outcome.bytes;
    const previous = known.get(file.rel);
    if (outcome.status === "unreadable") {
      logger.debug({ path: file.rel, reason: outcome.message }, "file not readable; skipped");
      stats.skipped++;
      // Not recorded: it is tried again on the next pass. Its old rows, if any, go.
      if (previous) {
        replace.push({ record: { ...previous, status: "unreadable", chunks: 0, hash: "", mtime: -2 }, chunks: [], fresh: false });
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
    const rows = outcome.status === "indexed" ? outcome.chunks.map((c) => toRow(file.rel, c, embedder?.modelId ?? "")) : [];
    if (outcome.status === "indexed" && embedder) embedQueue.push({ rows, chunks: outcome.chunks });
    // A file with no record has no rows to replace: the store may append them.
    replace.push({ record, chunks: rows, fresh: previous === undefined });
  }
  const embedStarted = performance.now();
  if (embedQueue.length > 0) await embedRows(host, embedQueue, stats);
  stats.embedMs = (stats.embedMs ?? 0) + (performance.now() - embedStarted);
  await host.options.activity.idle(host.signal);
  const writeStarted = performance.now();
  if (replace.length > 0) await store.replaceFiles(replace);
  if (touched.length > 0) await store.recordFiles(touched);
  stats.writeMs = (stats.writeMs ?? 0) + (performance.now() - writeStarted);
  logger.debug({ files: replace.length, touched: touched.length, chunks: replace.reduce((n, r) => n + r.chunks.length, 0) }, "index batch written");
  // The records are looked up again: the awaits above may have let recovery replace them.
  const records = host.files();
  for (const r of replace) {
    host.addChunks(r.chunks.length - (records.get(r.record.path)?.chunks ?? 0));
    if (r.record.status === "unreadable") records.delete(r.record.path);
    else records.set(r.record.path, r.record);
    stats.chunksWritten += r.chunks.length;
  }
  for (const t of touched) records.set(t.path, t);
  // The full-text index is made as soon as there are rows, so search works while the rest is indexed.
  if (!store.ftsIndexed && replace.some((r) => r.chunks.length > 0)) await store.ensureFtsIndex();
}

/** Vectors for new chunks: reused by content hash when the table has them, embedded otherwise. */
async function embedRows(host: IndexingHost, items: ReadonlyArray<{ rows: ChunkRow[]; chunks: HashedChunk[] }>, stats: PassStats): Promise<void> {
  const embedder = host.options.embedder!;
  const rows = items.flatMap((i) => i.rows);
  const known = await host.store().vectorsByHash(rows.map((r) => r.hash));
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
    await host.options.activity.idle(host.signal);
    const part = hashes.slice(i, i + EMBED_BATCH);
    const vectors = await embedder.embed(
      part.map((h) => missing.get(h)![0]!.text),
      "document",
      host.signal,
    );
    part.forEach((h, j) => {
      const vector = vectors[j];
      if (!vector || vector.length !== embedder.dimensions) throw new EmbedderDimensionError(embedder.dimensions, vector?.length ?? 0);
      for (const row of missing.get(h)!) row.vector = vector;
    });
    stats.chunksEmbedded += part.length;
  }
}

function toRow(path: string, chunk: HashedChunk, model: string): ChunkRow {
  return {
    id: chunkId(path, chunk.startLine, chunk.startCol, chunk.hash),
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
    body: bodyField(chunk.text),
    name: nameField(chunk.symbol),
    signature: signatureField(chunk.text),
    hash: chunk.hash,
    model,
  };
}
