import type * as Arrow from "apache-arrow";
import type { ChunkKind } from "../types.js";

/*
 * The shape of the index's two LanceDB tables and the small SQL helpers their queries share.
 * Kept apart from IndexStore so the table layout is read in one place.
 */

/** One stored chunk, as a LanceDB row. */
export interface ChunkRow {
  /** Stable identity of the chunk within its folder (chunkId): the tables' merge key. */
  id: string;
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
  /** Full-text fields derived from the text and symbol (lexicalFields.ts). */
  body: string;
  name: string;
  signature: string;
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

/** Columns a search answer carries (the derived full-text fields stay in the table). */
export const CHUNK_COLUMNS = ["id", "path", "start_line", "start_col", "end_line", "end_col", "language", "symbol", "kind", "text", "symbols", "hash", "model"];

/** Field metadata LanceDB writes on an unenforced primary key column. */
const PRIMARY_KEY_METADATA = "lance-schema:unenforced-primary-key:position";

/**
 * A chunk's identity: its file, where it starts and what it holds. Two passes over the same file
 * content give the same ids, so writing a file twice (two processes, a retried commit) matches
 * the rows already there instead of adding copies. The path comes first and the fixed-format
 * parts last, so no two different chunks share an id whatever the path holds.
 */
export function chunkId(path: string, startLine: number, startCol: number, hash: string): string {
  return `${path}#${startLine}:${startCol}#${hash}`;
}

export function chunkSchema(arrow: typeof Arrow, embedding: { dimensions: number } | undefined): Arrow.Schema {
  const fields: Arrow.Field[] = [
    new arrow.Field("id", new arrow.Utf8(), false),
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
    new arrow.Field("body", new arrow.Utf8(), false),
    new arrow.Field("name", new arrow.Utf8(), false),
    new arrow.Field("signature", new arrow.Utf8(), false),
    new arrow.Field("hash", new arrow.Utf8(), false),
    new arrow.Field("model", new arrow.Utf8(), false),
  ];
  if (embedding) {
    fields.push(new arrow.Field("vector", new arrow.FixedSizeList(embedding.dimensions, new arrow.Field("item", new arrow.Float32(), true)), false));
  }
  return new arrow.Schema(fields);
}

export function filesSchema(arrow: typeof Arrow): Arrow.Schema {
  return new arrow.Schema([
    new arrow.Field("path", new arrow.Utf8(), false),
    new arrow.Field("size", new arrow.Float64(), false),
    new arrow.Field("mtime", new arrow.Float64(), false),
    new arrow.Field("hash", new arrow.Utf8(), false),
    new arrow.Field("chunks", new arrow.Int32(), false),
    new arrow.Field("status", new arrow.Utf8(), false),
  ]);
}

/** The column a table's schema marks as its primary key, if any (duck-typed Arrow schema). */
export function primaryKeyOf(schema: { fields: ReadonlyArray<{ name: string; metadata: Map<string, string> }> }): string | undefined {
  return schema.fields.find((f) => f.metadata?.has(PRIMARY_KEY_METADATA))?.name;
}

export function pick(r: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const c of CHUNK_COLUMNS) out[c] = r[c];
  for (const c of ["start_line", "start_col", "end_line", "end_col"]) out[c] = Number(out[c]);
  return out;
}

export function toFloat32(value: unknown): Float32Array | undefined {
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

const IN_LIST_MAX = 400;

/** SQL IN lists of at most a few hundred values each. */
export function inLists(values: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < values.length; i += IN_LIST_MAX) out.push(values.slice(i, i + IN_LIST_MAX).map(sqlString).join(", "));
  return out;
}
