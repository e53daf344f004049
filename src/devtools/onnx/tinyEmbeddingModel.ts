/**
 * Generates a tiny sentence-transformers-style embedding model folder for tests and benchmarks:
 * an ONNX graph with the inputs and outputs of a real export (input_ids, attention_mask
 * [, token_type_ids] → last_hidden_state [batch, sequence, hidden]) built from real ONNX ops with
 * seeded random weights, next to a real tokenizer.json and the config files a real folder has.
 *
 * The graph is BERT-shaped without attention layers: word + position (+ token type) embeddings, a
 * masked mean over the sequence added back to every position (so padding must be masked out, as
 * attention does), then Tanh(x·W + b). The INT8 variant stores the embedding table as int8 behind
 * DequantizeLinear and runs the dense layer through DynamicQuantizeLinear + MatMulInteger, the
 * pattern onnxruntime's dynamic quantisation writes. With `bert`, real encoder layers (see
 * bertLayers.ts) replace the mixing layer, for benchmarks at a real model's exact shape.
 */
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { appendBertLayers, quantize, uniform, type BertShape } from "./bertLayers.js";
import { DataType, encodeModel, floatTensor, int64Tensor, int8Tensor, type NodeSpec, type TensorSpec } from "./onnxProto.js";
import { buildWordPieceTokenizer } from "./wordPieceTokenizer.js";

/** Bump when the graph or files change, so cached folders are regenerated. */
const GENERATOR_VERSION = 2;

export interface TinyEmbedderOptions {
  /** Hidden size = output dimensions. */
  hidden?: number;
  maxPositions?: number;
  /** Whether the graph takes token_type_ids (BERT/MiniLM do; jina and Nomic-style exports may not). */
  tokenTypeIds?: boolean;
  /** Also output "sentence_embedding": the first ([CLS]) position's state, unnormalised. */
  sentenceEmbedding?: boolean;
  /** Which model files to write: model.onnx (FP32), model_quantized.onnx (INT8) or both. */
  precision?: "fp32" | "int8" | "both";
  seed?: number;
  /** Real BERT encoder layers instead of the tiny mixing layer (benchmarks: a real model's exact shape). */
  bert?: BertShape;
  /** A folder holding tokenizer.json (+ tokenizer_config.json); absent: the built-in WordPiece tokenizer. */
  tokenizerDir?: string;
  /** Write sentence-transformers config files (1_Pooling/config.json, config_sentence_transformers.json, sentence_bert_config.json). */
  sentenceTransformers?: { pooling?: "mean" | "cls" | "lasttoken"; prompts?: { query?: string; document?: string }; maxSeqLength?: number };
}

type Resolved = Required<Omit<TinyEmbedderOptions, "tokenizerDir" | "sentenceTransformers" | "bert">> &
  Pick<TinyEmbedderOptions, "tokenizerDir" | "sentenceTransformers" | "bert">;

function resolve(options: TinyEmbedderOptions): Resolved {
  return {
    hidden: options.hidden ?? 32,
    maxPositions: options.maxPositions ?? 512,
    tokenTypeIds: options.tokenTypeIds ?? true,
    sentenceEmbedding: options.sentenceEmbedding ?? false,
    precision: options.precision ?? "fp32",
    seed: options.seed ?? 1,
    tokenizerDir: options.tokenizerDir,
    bert: options.bert,
    sentenceTransformers: options.sentenceTransformers,
  };
}

/** mulberry32: a small deterministic PRNG, so the same seed always gives the same weights. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Weights {
  word: Float32Array;
  position: Float32Array;
  tokenType: Float32Array;
  dense: Float32Array;
  bias: Float32Array;
}

function makeWeights(o: Resolved, vocabSize: number): Weights {
  const random = prng(o.seed);
  const h = o.hidden;
  return {
    word: uniform(random, vocabSize * h, 0.8),
    position: uniform(random, o.maxPositions * h, 0.2),
    tokenType: uniform(random, 2 * h, 0.1),
    // Variance about 1/h keeps the pre-activation in Tanh's non-saturated range.
    dense: uniform(random, h * h, Math.sqrt(3 / h)),
    bias: uniform(random, h, 0.1),
  };
}

/** Builds the .onnx bytes for one precision. */
export function buildTinyEmbeddingGraph(o: Resolved, vocabSize: number, weights: Weights, int8: boolean): Uint8Array {
  const h = o.hidden;
  const dynamic2d = ["batch_size", "sequence_length"];
  const nodes: NodeSpec[] = [];
  const initializers: TensorSpec[] = [
    floatTensor("position_embeddings.weight", [o.maxPositions, h], weights.position),
    int64Tensor("const_zero", [], [0]),
    int64Tensor("const_one", [], [1]),
    int64Tensor("axes_last", [1], [-1]),
    int64Tensor("axes_seq", [1], [1]),
    floatTensor("const_one_f", [], Float32Array.of(1)),
  ];

  let wordTable = "word_embeddings.weight";
  if (int8) {
    const { q, scale } = quantize(weights.word);
    initializers.push(
      int8Tensor("word_embeddings.weight_quantized", [vocabSize, h], q),
      floatTensor("word_embeddings.weight_scale", [], Float32Array.of(scale)),
      int8Tensor("word_embeddings.weight_zero_point", [], Int8Array.of(0)),
    );
    nodes.push({ op: "DequantizeLinear", inputs: ["word_embeddings.weight_quantized", "word_embeddings.weight_scale", "word_embeddings.weight_zero_point"], outputs: ["word_table"] });
    wordTable = "word_table";
  } else {
    initializers.push(floatTensor("word_embeddings.weight", [vocabSize, h], weights.word));
  }

  nodes.push(
    { op: "Gather", inputs: [wordTable, "input_ids"], outputs: ["words"], attributes: { axis: { int: 0 } } },
    { op: "Shape", inputs: ["input_ids"], outputs: ["ids_shape"] },
    { op: "Gather", inputs: ["ids_shape", "const_one"], outputs: ["seq_len"], attributes: { axis: { int: 0 } } },
    { op: "Range", inputs: ["const_zero", "seq_len", "const_one"], outputs: ["positions"] },
    { op: "Gather", inputs: ["position_embeddings.weight", "positions"], outputs: ["position_states"], attributes: { axis: { int: 0 } } },
    { op: "Add", inputs: ["words", "position_states"], outputs: ["embedded_wp"] },
  );
  let embedded = "embedded_wp";
  if (o.tokenTypeIds) {
    initializers.push(floatTensor("token_type_embeddings.weight", [2, h], weights.tokenType));
    nodes.push(
      { op: "Gather", inputs: ["token_type_embeddings.weight", "token_type_ids"], outputs: ["type_states"], attributes: { axis: { int: 0 } } },
      { op: "Add", inputs: ["embedded_wp", "type_states"], outputs: ["embedded"] },
    );
    embedded = "embedded";
  }
  nodes.push({ op: "Cast", inputs: ["attention_mask"], outputs: ["mask_f"], attributes: { to: { int: DataType.FLOAT } } });
  if (o.bert !== undefined) {
    // Separate stream of random numbers, identical for the FP32 and INT8 builds.
    const g = { nodes, initializers, int8, random: prng(o.seed + 1) };
    const encoded = appendBertLayers(g, embedded, "mask_f", h, o.bert);
    nodes.push({ op: "Identity", inputs: [encoded], outputs: ["last_hidden_state"] });
  } else {
    appendMixingLayer(nodes, initializers, embedded, weights, h, int8);
  }
  const outputs = [{ name: "last_hidden_state", elemType: DataType.FLOAT, shape: ["batch_size", "sequence_length", h] }];
  if (o.sentenceEmbedding) {
    nodes.push({ op: "Gather", inputs: ["last_hidden_state", "const_zero"], outputs: ["sentence_embedding"], attributes: { axis: { int: 1 } } });
    outputs.push({ name: "sentence_embedding", elemType: DataType.FLOAT, shape: ["batch_size", h] });
  }
  const inputs = [
    { name: "input_ids", elemType: DataType.INT64, shape: dynamic2d },
    { name: "attention_mask", elemType: DataType.INT64, shape: dynamic2d },
  ];
  if (o.tokenTypeIds) inputs.push({ name: "token_type_ids", elemType: DataType.INT64, shape: dynamic2d });
  return encodeModel({
    graphName: "tiny_embedder",
    nodes,
    initializers,
    inputs,
    outputs,
    // LayerNormalization needs opset 17 (IR version 8); the tiny graph stays at 13.
    opset: o.bert !== undefined ? 17 : 13,
    irVersion: o.bert !== undefined ? 8 : 7,
    producer: "ifai-lsp tinyEmbeddingModel",
    docString: `Tiny test embedding model (random weights, seed ${o.seed}); not for real use.`,
  });
}

/**
 * The tiny model's only layer. Context mixing: every position gets the masked mean of the sequence,
 * so a model that ignored attention_mask would change a text's vector when it is padded in a batch.
 * Then Tanh(x·W + b).
 */
function appendMixingLayer(nodes: NodeSpec[], initializers: TensorSpec[], embedded: string, weights: Weights, h: number, int8: boolean): void {
  initializers.push(floatTensor("dense.bias", [h], weights.bias));
  nodes.push(
    { op: "Unsqueeze", inputs: ["mask_f", "axes_last"], outputs: ["mask_3d"] },
    { op: "Mul", inputs: [embedded, "mask_3d"], outputs: ["masked"] },
    { op: "ReduceSum", inputs: ["masked", "axes_seq"], outputs: ["masked_sum"], attributes: { keepdims: { int: 1 } } },
    { op: "ReduceSum", inputs: ["mask_3d", "axes_seq"], outputs: ["mask_count"], attributes: { keepdims: { int: 1 } } },
    { op: "Max", inputs: ["mask_count", "const_one_f"], outputs: ["mask_count_safe"] },
    { op: "Div", inputs: ["masked_sum", "mask_count_safe"], outputs: ["context"] },
    { op: "Add", inputs: [embedded, "context"], outputs: ["mixed"] },
  );
  if (int8) {
    const { q, scale } = quantize(weights.dense);
    initializers.push(
      int8Tensor("dense.weight_quantized", [h, h], q),
      int8Tensor("dense.weight_zero_point", [], Int8Array.of(0)),
      floatTensor("dense.weight_scale", [], Float32Array.of(scale)),
    );
    nodes.push(
      { op: "DynamicQuantizeLinear", inputs: ["mixed"], outputs: ["mixed_q", "mixed_scale", "mixed_zero_point"] },
      { op: "MatMulInteger", inputs: ["mixed_q", "dense.weight_quantized", "mixed_zero_point", "dense.weight_zero_point"], outputs: ["dense_int"] },
      { op: "Cast", inputs: ["dense_int"], outputs: ["dense_float"], attributes: { to: { int: DataType.FLOAT } } },
      { op: "Mul", inputs: ["mixed_scale", "dense.weight_scale"], outputs: ["dense_scale"] },
      { op: "Mul", inputs: ["dense_float", "dense_scale"], outputs: ["dense_out"] },
    );
  } else {
    initializers.push(floatTensor("dense.weight", [h, h], weights.dense));
    nodes.push({ op: "MatMul", inputs: ["mixed", "dense.weight"], outputs: ["dense_out"] });
  }
  nodes.push(
    { op: "Add", inputs: ["dense_out", "dense.bias"], outputs: ["pre_activation"] },
    { op: "Tanh", inputs: ["pre_activation"], outputs: ["last_hidden_state"] },
  );
}

async function readTokenizer(o: Resolved): Promise<{ tokenizerJson: string; tokenizerConfig: string; vocabSize: number; source: string }> {
  if (o.tokenizerDir !== undefined) {
    const tokenizerJson = await readFile(path.join(o.tokenizerDir, "tokenizer.json"), "utf8");
    const configPath = path.join(o.tokenizerDir, "tokenizer_config.json");
    const tokenizerConfig = existsSync(configPath) ? await readFile(configPath, "utf8") : "{}";
    const parsed = JSON.parse(tokenizerJson) as { model?: { vocab?: Record<string, number> | unknown[] }; added_tokens?: Array<{ id: number }> };
    const vocab = parsed.model?.vocab;
    let maxId = -1;
    if (Array.isArray(vocab)) maxId = vocab.length - 1;
    else if (vocab) for (const id of Object.values(vocab)) maxId = Math.max(maxId, id);
    for (const t of parsed.added_tokens ?? []) maxId = Math.max(maxId, t.id);
    return { tokenizerJson, tokenizerConfig, vocabSize: maxId + 1, source: o.tokenizerDir };
  }
  const built = buildWordPieceTokenizer();
  return {
    tokenizerJson: JSON.stringify(built.tokenizerJson),
    tokenizerConfig: JSON.stringify(built.tokenizerConfig),
    vocabSize: built.vocabSize,
    source: "built-in WordPiece",
  };
}

/** Writes the whole model folder into `dir` (created if needed). */
export async function writeTinyEmbedder(dir: string, options: TinyEmbedderOptions = {}): Promise<void> {
  const o = resolve(options);
  const tok = await readTokenizer(o);
  const weights = makeWeights(o, tok.vocabSize);
  await mkdir(dir, { recursive: true });
  if (o.precision !== "int8") await writeFile(path.join(dir, "model.onnx"), buildTinyEmbeddingGraph(o, tok.vocabSize, weights, false));
  if (o.precision !== "fp32") await writeFile(path.join(dir, "model_quantized.onnx"), buildTinyEmbeddingGraph(o, tok.vocabSize, weights, true));
  await writeFile(path.join(dir, "tokenizer.json"), tok.tokenizerJson);
  await writeFile(path.join(dir, "tokenizer_config.json"), tok.tokenizerConfig);
  const config = {
    _name_or_path: "ifai-tiny-embedder",
    architectures: ["TinyEmbedder"],
    model_type: "bert",
    hidden_size: o.hidden,
    max_position_embeddings: o.maxPositions,
    vocab_size: tok.vocabSize,
    type_vocab_size: o.tokenTypeIds ? 2 : 0,
    ifai_tokenizer_source: tok.source,
  };
  await writeFile(path.join(dir, "config.json"), JSON.stringify(config, null, 2));
  const st = o.sentenceTransformers;
  if (st !== undefined) {
    if (st.pooling !== undefined) {
      await mkdir(path.join(dir, "1_Pooling"), { recursive: true });
      const pooling = {
        word_embedding_dimension: o.hidden,
        pooling_mode_cls_token: st.pooling === "cls",
        pooling_mode_mean_tokens: st.pooling === "mean",
        pooling_mode_max_tokens: false,
        pooling_mode_mean_sqrt_len_tokens: false,
        pooling_mode_lasttoken: st.pooling === "lasttoken",
      };
      await writeFile(path.join(dir, "1_Pooling", "config.json"), JSON.stringify(pooling, null, 2));
    }
    if (st.prompts !== undefined) {
      const prompts = { prompts: { query: st.prompts.query ?? "", document: st.prompts.document ?? "" }, default_prompt_name: null };
      await writeFile(path.join(dir, "config_sentence_transformers.json"), JSON.stringify(prompts, null, 2));
    }
    if (st.maxSeqLength !== undefined) {
      await writeFile(path.join(dir, "sentence_bert_config.json"), JSON.stringify({ max_seq_length: st.maxSeqLength, do_lower_case: false }, null, 2));
    }
  }
}

const inFlight = new Map<string, Promise<string>>();

/**
 * Returns a cached model folder under `cacheDir` for these options, generating it on first use.
 * The folder name hashes the options, the generator version and the tokenizer's content, so a
 * change never reuses a stale folder; generation happens in a temporary folder renamed into place.
 */
export async function ensureTinyEmbedder(cacheDir: string, options: TinyEmbedderOptions = {}): Promise<string> {
  const o = resolve(options);
  let tokenizerHash = "wordpiece";
  if (o.tokenizerDir !== undefined) {
    tokenizerHash = createHash("sha256").update(await readFile(path.join(o.tokenizerDir, "tokenizer.json"))).digest("hex").slice(0, 10);
  }
  const key = createHash("sha256")
    .update(JSON.stringify({ ...o, tokenizerDir: undefined, tokenizerHash, generator: GENERATOR_VERSION }))
    .digest("hex")
    .slice(0, 12);
  const dir = path.join(path.resolve(cacheDir), `tiny-embedder-h${o.hidden}-${o.precision}-${key}`);
  const pending = inFlight.get(dir);
  if (pending !== undefined) return pending;
  const task = (async () => {
    if (await isComplete(dir)) return dir;
    const temp = `${dir}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
    await writeTinyEmbedder(temp, options);
    await writeFile(path.join(temp, "COMPLETE"), "");
    try {
      await rename(temp, dir);
    } catch (error) {
      // Another process finished the same folder first: its content is identical.
      await rm(temp, { recursive: true, force: true });
      if (!(await isComplete(dir))) throw error;
    }
    return dir;
  })();
  inFlight.set(dir, task);
  try {
    return await task;
  } finally {
    inFlight.delete(dir);
  }
}

async function isComplete(dir: string): Promise<boolean> {
  try {
    return (await stat(path.join(dir, "COMPLETE"))).isFile();
  } catch {
    return false;
  }
}
