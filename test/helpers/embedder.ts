import fs from "node:fs";
import path from "node:path";
import { ensureTinyEmbedder, type TinyEmbedderOptions } from "../../src/devtools/onnx/tinyEmbeddingModel.js";
import { sharedModels, testModelCache } from "./paths.js";

/** The real all-MiniLM-L6-v2 tokenizer beside the checkout (absent in a user's clone). */
export const miniLmTokenizerDir = path.join(sharedModels, "all-MiniLM-L6-v2-tokenizer");
export const hasMiniLmTokenizer = fs.existsSync(path.join(miniLmTokenizerDir, "tokenizer.json"));

let warned = false;

/**
 * A generated tiny embedding model folder (sentence-transformers layout: model.onnx, tokenizer.json,
 * config.json), cached in .cache/test-models. It uses the real all-MiniLM-L6-v2 tokenizer when
 * ../shared/models has it, else the generator's own small WordPiece tokenizer (and says so once).
 * Default: hidden size 32, FP32, with token_type_ids, no pooling/prefix config (mean pooling).
 */
export async function tinyEmbedderDir(options: TinyEmbedderOptions = {}): Promise<string> {
  if (!hasMiniLmTokenizer && !warned) {
    warned = true;
    console.warn(`tinyEmbedderDir: ${miniLmTokenizerDir} is absent; the test model uses the generator's built-in WordPiece tokenizer`);
  }
  return ensureTinyEmbedder(testModelCache, { ...(hasMiniLmTokenizer ? { tokenizerDir: miniLmTokenizerDir } : {}), ...options });
}

export function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return dot / Math.sqrt(na * nb);
}

export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}
