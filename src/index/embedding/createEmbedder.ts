/**
 * Creates the ONNX embedder for a model folder: reads the folder (catalogue entry or its own
 * config), starts the worker, checks the model's real output size, and derives the model id the
 * index uses to name its table.
 */
import { createHash } from "node:crypto";
import { statSync } from "node:fs";
import path from "node:path";
import type { Logger } from "../../util/logger.js";
import type { Pooling } from "./catalog.js";
import { EmbeddingModelError, resolveEmbeddingModel } from "./modelConfig.js";
import type { Embedder } from "./types.js";
import { WorkerEmbedder, type EmbedderStats } from "./WorkerEmbedder.js";

export interface CreateEmbedderOptions {
  /** A model folder (model.onnx or model_quantized.onnx, tokenizer.json, configs) or an .onnx file in one. */
  modelDir: string;
  /** A catalogue id (see catalog.ts); empty: recognise the folder or read its config. */
  catalogId?: string;
  logger: Logger;
  /** onnxruntime intra-op threads. Default 1: more threads than free cores makes inference much slower. */
  threads?: number;
  /** Most texts per inference batch (default 16). */
  batchSize?: number;
  /**
   * Most padded tokens per batch (default 1024). A query waits for at most the batch in flight, so
   * this bounds query latency during indexing (npm run bench:embedding, one core: about 0.13 s for
   * an all-MiniLM-L6-v2-shaped INT8 model, 0.3 s FP32). Bigger batches gain nothing on a CPU: at
   * real-model sizes one text per batch was as fast per token as 8 or 32.
   */
  maxBatchTokens?: number;
}

/** What was loaded, for logs and the index status. */
export interface EmbedderInfo {
  name: string;
  modelPath: string;
  pooling: Pooling;
  queryPrefix: string;
  documentPrefix: string;
  maxTokens: number;
  outputName: string;
  inputNames: string[];
  threads: number;
  source: "catalogue" | "folder config" | "defaults";
}

export class OnnxEmbedder implements Embedder {
  constructor(
    readonly modelId: string,
    readonly dimensions: number,
    readonly info: EmbedderInfo,
    private readonly worker: WorkerEmbedder,
  ) {}

  embed(texts: string[], kind: "query" | "document", signal?: AbortSignal): Promise<Float32Array[]> {
    return this.worker.embed(texts, kind, signal);
  }

  get stats(): EmbedderStats {
    return { ...this.worker.stats };
  }

  dispose(): Promise<void> {
    return this.worker.dispose();
  }

  /** Ends the worker thread as a crash would (tests of the failure path). */
  terminateWorker(): Promise<void> {
    return this.worker.terminateWorker();
  }
}

function slug(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9.]+/g, "-").replace(/^-+|-+$/g, "") || "model";
}

export async function createEmbedder(options: CreateEmbedderOptions): Promise<Embedder> {
  return createOnnxEmbedder(options);
}

/** createEmbedder with the concrete type (stats, info) for benchmarks, the CLI and tests. */
export async function createOnnxEmbedder(options: CreateEmbedderOptions): Promise<OnnxEmbedder> {
  const { logger } = options;
  const model = resolveEmbeddingModel(options.modelDir, options.catalogId || undefined);
  for (const note of model.notes) logger.info(note);
  const threads = Math.max(1, Math.floor(options.threads ?? 1));
  const worker = await WorkerEmbedder.start(
    {
      modelPath: model.modelPath,
      tokenizerPath: model.tokenizerPath,
      tokenizerConfigPath: model.tokenizerConfigPath,
      pooling: model.pooling,
      queryPrefix: model.queryPrefix,
      documentPrefix: model.documentPrefix,
      maxTokens: model.maxTokens,
      threads,
      batchSize: Math.max(1, Math.floor(options.batchSize ?? 16)),
      maxBatchTokens: Math.max(1, Math.floor(options.maxBatchTokens ?? 1024)),
    },
    logger,
  );
  const { dimensions, outputName, inputNames } = worker.ready;
  if (model.expectedDimensions !== undefined && dimensions !== model.expectedDimensions) {
    await worker.dispose();
    throw new EmbeddingModelError(
      `the embedding model ${model.modelPath} outputs ${dimensions}-dimensional vectors, but catalogue entry ${model.name} has ${model.expectedDimensions}: the folder holds a different model than the one named`,
    );
  }
  if (model.configHiddenSize !== undefined && outputName === "last_hidden_state" && model.configHiddenSize !== dimensions) {
    logger.warn(`config.json in ${model.folder} says hidden_size ${model.configHiddenSize}, but the model outputs ${dimensions} dimensions; using ${dimensions}`);
  }
  // Everything that changes the vectors goes into the id, so a change gets a new table instead of
  // mixing incompatible vectors (or failing on a dimension mismatch).
  const fingerprint = createHash("sha256")
    .update(
      JSON.stringify({
        file: path.basename(model.modelPath),
        size: statSync(model.modelPath).size,
        pooling: model.pooling,
        queryPrefix: model.queryPrefix,
        documentPrefix: model.documentPrefix,
        maxTokens: model.maxTokens,
        outputName,
      }),
    )
    .digest("hex")
    .slice(0, 8);
  const modelId = `${slug(model.name)}-${model.pooling}-${dimensions}d-${fingerprint}`;
  const info: EmbedderInfo = {
    name: model.name,
    modelPath: model.modelPath,
    pooling: model.pooling,
    queryPrefix: model.queryPrefix,
    documentPrefix: model.documentPrefix,
    maxTokens: model.maxTokens,
    outputName,
    inputNames,
    threads,
    source: model.source,
  };
  logger.info({ modelId, dimensions, ...info }, "embedding model loaded");
  return new OnnxEmbedder(modelId, dimensions, info, worker);
}

/**
 * Compares the model a table was built with against the current embedder; returns a message for
 * the user when they differ (the index then re-embeds into a new table), undefined when they match.
 */
export function describeModelChange(previous: { modelId: string; dimensions: number }, current: Embedder): string | undefined {
  if (previous.modelId === current.modelId && previous.dimensions === current.dimensions) return undefined;
  const size =
    previous.dimensions === current.dimensions
      ? `same size, ${current.dimensions} dimensions`
      : `output size changed from ${previous.dimensions} to ${current.dimensions} dimensions`;
  return `the embedding model changed (${previous.modelId} → ${current.modelId}; ${size}): the index re-embeds into a new table`;
}
