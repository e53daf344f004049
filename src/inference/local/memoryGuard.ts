/**
 * The memory guard: before the local model loads, its estimated need (weights plus a context of
 * the configured size, from node-llama-cpp's GGUF insights) is compared with the free memory. A
 * context that does not fit is shrunk (halving, down to MIN_CONTEXT); a model that does not fit
 * even then is refused with a message instead of being left to swap or be killed by the OS.
 */
import type { Llama } from "node-llama-cpp";

export const MIN_CONTEXT = 512;

export interface MemoryEstimate {
  /** RAM the weights take, bytes. */
  modelBytes: number;
  /** The context the model was trained with, when the file says. */
  trainContextSize?: number;
  /** RAM a context of this many tokens per sequence takes (KV cache of every sequence, buffers), bytes. */
  contextBytes(contextSize: number): Promise<number>;
}

export interface ContextPlan {
  contextSize: number;
  /** Set when the context was shrunk: a sentence for the status line and logs. */
  notice?: string;
}

/** Thrown when even the smallest context does not fit; the message names the fixes. */
export class InsufficientMemoryError extends Error {
  override readonly name = "InsufficientMemoryError";
}

const mb = (bytes: number): string => `${Math.round(bytes / 1e6).toLocaleString("en-US")} MB`;

/** Chooses the largest context, from `requested` halving down to MIN_CONTEXT, whose need fits in `freeBytes`. */
export async function planContext(requested: number, estimate: MemoryEstimate, freeBytes: number, modelName: string): Promise<ContextPlan> {
  const need = async (ctx: number): Promise<number> => estimate.modelBytes + (await estimate.contextBytes(ctx));
  const full = await need(requested);
  if (full <= freeBytes) return { contextSize: requested };
  for (let ctx = Math.floor(requested / 2); ctx >= MIN_CONTEXT; ctx = Math.floor(ctx / 2)) {
    if ((await need(ctx)) <= freeBytes) {
      return {
        contextSize: ctx,
        notice: `Context shrunk from ${requested} to ${ctx} tokens to fit in free memory: ${modelName} with a ${requested}-token context needs about ${mb(full)}, and ${mb(freeBytes)} are free.`,
      };
    }
  }
  const smallest = Math.min(requested, MIN_CONTEXT);
  const ctxBytes = await estimate.contextBytes(smallest);
  throw new InsufficientMemoryError(
    `Not enough free memory to load ${modelName}: it needs about ${mb(estimate.modelBytes + ctxBytes)} (weights ${mb(estimate.modelBytes)} + a ${smallest}-token context ${mb(ctxBytes)}) and ${mb(freeBytes)} are free. Close other programs, choose a smaller model (ifai-lsp models list; ifai-lsp doctor recommends one), or set model.memoryCheck to false to try anyway.`,
  );
}

/** Reads the GGUF header (not the weights) and asks node-llama-cpp's insights for the CPU RAM the model and a context need. */
export async function estimateMemory(llama: Llama, modelPath: string, batchSize: number, sequences = 1): Promise<MemoryEstimate> {
  const { readGgufFileInfo, GgufInsights } = await import("node-llama-cpp");
  const info = await readGgufFileInfo(modelPath, {
    sourceType: "filesystem",
    logWarnings: false,
    // The vocabulary is the bulk of the header and plays no part in the estimate.
    ignoreKeys: ["tokenizer.ggml.tokens", "tokenizer.ggml.merges", "tokenizer.ggml.token_type"],
  });
  const insights = await GgufInsights.from(info, llama);
  const model = await insights.estimateModelResourceRequirementsV2({ gpuLayers: 0, useMmap: llama.supportsMmap });
  return {
    modelBytes: model.cpuRam,
    ...(insights.trainContextSize ? { trainContextSize: insights.trainContextSize } : {}),
    contextBytes: async (contextSize) =>
      (await insights.estimateContextResourceRequirementsV2({ contextSize, modelGpuLayers: 0, batchSize, sequences })).cpuRam,
  };
}
