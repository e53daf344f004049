import type { FileOutcome } from "../chunking/chunkFile.js";

export type WorkerRequest =
  | { id: number; kind: "file"; abs: string; rel: string; maxBytes: number }
  | { id: number; kind: "text"; rel: string; text: string };

/** A file that could not be read at all (permissions, vanished, grew past the size limit). */
export type Unreadable = { status: "unreadable"; message: string };

export type PoolOutcome = FileOutcome | Unreadable;

export type WorkerResponse = { id: number; outcome: PoolOutcome; bytes?: number } | { id: number; error: string };
