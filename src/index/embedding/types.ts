export interface Embedder {
  /** Stable id of the model + pooling + prefixes; a change means a new table. */
  readonly modelId: string;
  readonly dimensions: number;
  /** Embeds texts off the main thread; "query" and "document" may get different prefixes. Vectors are L2-normalised. */
  embed(texts: string[], kind: "query" | "document", signal?: AbortSignal): Promise<Float32Array[]>;
  dispose(): Promise<void>;
}
