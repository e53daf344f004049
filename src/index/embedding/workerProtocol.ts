/** Messages between WorkerEmbedder (the server's thread) and embedWorker (the worker thread). */
import type { Pooling } from "./catalog.js";

export interface WorkerInit {
  modelPath: string;
  tokenizerPath: string;
  tokenizerConfigPath: string | undefined;
  pooling: Pooling;
  queryPrefix: string;
  documentPrefix: string;
  maxTokens: number;
  /** onnxruntime intra-op threads. */
  threads: number;
  batchSize: number;
  maxBatchTokens: number;
}

export type ToWorker =
  | { type: "embed"; id: number; texts: string[]; kind: "query" | "document" }
  | { type: "cancel"; id: number }
  | { type: "dispose" };

export type FromWorker =
  | { type: "ready"; dimensions: number; inputNames: string[]; outputName: string }
  | { type: "initError"; message: string }
  /** One batch's vectors, row-major [indices.length, dimensions], for the texts at `indices`. */
  | { type: "vectors"; id: number; indices: number[]; data: Float32Array; tokens: number }
  | { type: "failed"; id: number; message: string };
