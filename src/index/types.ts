import type { FusionWeights } from "./store/fusion.js";

/**
 * Plain types of the codebase index. Nothing here depends on LanceDB, tree-sitter or the LSP, so
 * the features that use the index (completion, chat, code actions) only see these.
 */

/** What a chunk is. Code chunks from tree-sitter get a definition kind; everything else is "block" or "text". */
export type ChunkKind =
  | "function"
  | "method"
  | "class"
  | "interface"
  | "struct"
  | "enum"
  | "trait"
  | "impl"
  | "module"
  | "namespace"
  | "type"
  | "property"
  /** Top-level code between definitions, or several small definitions merged. */
  | "block"
  /** A line window of a file without a grammar. */
  | "text";

/** A zero-based range; `end` is exclusive of nothing: it is the position after the last character. */
export interface LineRange {
  startLine: number;
  startCol: number;
  endLine: number;
  endCol: number;
}

/** One piece of a file as the chunker produces it (before it is stored). */
export interface Chunk extends LineRange {
  /** Language id (typescript, python, c, markdown, text…). */
  language: string;
  /** Name of the definition the chunk holds (qualified, e.g. "Parser.parse"), or "" for none. */
  symbol: string;
  kind: ChunkKind;
  text: string;
  /** Every definition name in the chunk plus the words of compound identifiers, for full-text search. */
  symbols: string;
  /** Estimated tokens of `text`. */
  tokens: number;
}

/** A chunk with the content hash the store keys re-embedding on. */
export interface HashedChunk extends Chunk {
  hash: string;
}

/** A search answer: a stored chunk and where it came from. */
export interface SearchHit extends LineRange {
  /** file: URI of the source file. */
  uri: string;
  /** Path relative to its workspace folder, with "/" separators. */
  path: string;
  language: string;
  symbol: string;
  kind: ChunkKind;
  text: string;
  /** Higher is better. BM25 for full-text search, reciprocal-rank fusion for hybrid search. */
  score: number;
  hash: string;
}

export interface SearchOptions {
  /** How many hits (default 10). */
  k?: number;
  /** Only hits of these workspace-relative path prefixes (folders) or exact paths. */
  paths?: string[];
  /** Leave these file URIs out (e.g. the current file, whose text the caller already has). */
  excludeUris?: string[];
  signal?: AbortSignal;
  /** Overrides the configured hybrid fusion for this search (benchmarks compare settings on one index). */
  fusion?: Partial<FusionWeights> & { candidates?: number };
}

export interface BuildContextParams {
  /** Natural-language question or code; identifiers in it are split for matching. */
  query: string;
  /** The current file: its chunk around the cursor joins the query and is never returned. */
  uri?: string;
  cursor?: { line: number; character: number };
  /** Most tokens of chunk text (plus a path line per chunk) in the answer. */
  tokenBudget: number;
  /** Most chunks in the answer. */
  k: number;
  signal?: AbortSignal;
}

export interface ContextChunk {
  uri: string;
  path: string;
  range: { start: { line: number; character: number }; end: { line: number; character: number } };
  score: number;
  language: string;
  symbol: string;
  kind: ChunkKind;
  text: string;
  tokens: number;
}

export interface ContextResult {
  chunks: ContextChunk[];
  /** Tokens used out of the budget. */
  tokens: number;
  /** "lexical" (full-text only) or "hybrid" (vector + full-text). */
  mode: SearchMode;
}

export type SearchMode = "lexical" | "hybrid";

export type IndexState = "disabled" | "starting" | "scanning" | "indexing" | "ready" | "error";

export interface FolderStatus {
  /** Workspace folder URI. */
  folder: string;
  state: IndexState;
  /** LanceDB URI of this folder's index. */
  location: string;
  table: string;
  readOnly: boolean;
  /** Files the last scan found (after ignore rules). */
  files: number;
  /** Files whose chunks are in the index. */
  indexedFiles: number;
  /** Files found but not indexed (binary, minified, invalid UTF-8, secret content, unreadable). */
  skippedFiles: number;
  chunks: number;
  /** Work done / total of the current pass. */
  progress?: { done: number; total: number };
  lastIndexedAt?: string;
  message?: string;
}

export interface IndexStatus {
  state: IndexState;
  mode: SearchMode;
  /** Embedding model id when hybrid. */
  model?: string;
  folders: FolderStatus[];
  message?: string;
}

/** Counters of one indexing pass, for tests, logs and benchmarks. */
export interface PassStats {
  /** Files found by the scan. */
  scanned: number;
  /** Files whose content was read (new or changed size/mtime). */
  read: number;
  /** Files whose chunks were replaced. */
  changed: number;
  /** Files removed from the index (deleted, now ignored). */
  removed: number;
  skipped: number;
  chunksWritten: number;
  /** Chunks sent to the embedder (0 when lexical). */
  chunksEmbedded: number;
  /** Chunks whose vector was reused by content hash. */
  vectorsReused: number;
  bytesRead: number;
  ms: number;
  /** Time spent waiting on the embedder and on table writes (they overlap with chunking). */
  embedMs?: number;
  writeMs?: number;
}

export function emptyStats(): PassStats {
  return { scanned: 0, read: 0, changed: 0, removed: 0, skipped: 0, chunksWritten: 0, chunksEmbedded: 0, vectorsReused: 0, bytesRead: 0, ms: 0 };
}
