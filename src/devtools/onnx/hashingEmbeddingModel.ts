/**
 * Generates an embedding model folder whose vectors mean something, with no training and nothing
 * downloaded: a hashed bag of subwords. Every token of the tokenizer gets a fixed pseudo-random
 * direction derived from a hash of its text (so the same token always has the same direction,
 * whatever the seed of anything else), scaled by a weight that silences special tokens and
 * punctuation and quiets common English words. The ONNX graph only looks the directions up
 * (Gather); the embedder's mean pooling and normalisation then give the normalised sum of a
 * text's token directions, so the cosine of two vectors approximates the overlap of their bags
 * of subwords (random projection). That is a weak but real retrieval signal, which is what the
 * retrieval benchmark needs to show that hybrid search adds when the vector side is good, next
 * to the random model that shows it does not hurt when it is bad.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { DataType, encodeModel, floatTensor } from "./onnxProto.js";
import { buildWordPieceTokenizer } from "./wordPieceTokenizer.js";

export interface HashingEmbedderOptions {
  /** Output dimensions. */
  dimensions?: number;
  /** A folder holding tokenizer.json (+ tokenizer_config.json); absent: the built-in WordPiece tokenizer. */
  tokenizerDir?: string;
}

/** Words too common to say what a text is about; they keep a small weight. */
const COMMON = new Set(
  `a an the and or but not no of to in on at by for with from as is are was were be been being it its this that these those
  if then else when which who what how all any each can could should would will may might must do does did has have had
  i you he she we they me my our your their his her them us one two some such than too very so also just only into over
  up out about after before between under again further here there why where both few more most other own same`.split(/\s+/),
);

/** FNV-1a over the token's UTF-16 code units: a stable seed per token text. */
function tokenSeed(token: string): number {
  let h = 2166136261;
  for (let i = 0; i < token.length; i++) h = Math.imul(h ^ token.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** xorshift32 from a seed; never zero. */
function stream(seed: number): () => number {
  let x = seed || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

/**
 * How much a token counts: nothing for specials and punctuation, little for common words and
 * single letters. `rarity` (0 = the most frequent word, 1 = the rarest) scales the rest the way
 * inverse document frequency would, when the vocabulary's order tells frequency.
 */
export function tokenWeight(token: string, special: boolean, rarity = 1): number {
  if (special) return 0;
  const word = token.startsWith("##") ? token.slice(2) : token;
  if (!/[a-z0-9]/i.test(word)) return 0;
  if (COMMON.has(word.toLowerCase())) return 0.15;
  if (word.length === 1) return 0.3;
  return 0.25 + 0.75 * rarity;
}

/**
 * Where a BERT WordPiece vocabulary's words start: its training wrote them most frequent first
 * after the [unusedN] slots and single characters, so a token's id past this point tells its
 * rarity. Undefined for vocabularies in no known order.
 */
function firstWordId(tokens: ReadonlyArray<{ text: string }>): number | undefined {
  if (!tokens.some((t) => t.text === "[unused0]")) return undefined;
  const the = tokens.findIndex((t) => t.text === "the");
  return the > 0 ? the : undefined;
}

/** The token table: row i is token i's weighted unit direction. */
export function hashingTable(tokens: ReadonlyArray<{ text: string; special: boolean }>, dimensions: number): Float32Array {
  const table = new Float32Array(tokens.length * dimensions);
  const first = firstWordId(tokens);
  const span = first === undefined ? 1 : Math.log(1 + tokens.length - first);
  tokens.forEach((t, i) => {
    const rarity = first === undefined ? 1 : i < first ? 0.5 : Math.log(1 + i - first) / span;
    const weight = tokenWeight(t.text, t.special, rarity);
    if (weight === 0) return;
    const next = stream(tokenSeed(t.text));
    // Sums of uniforms are close enough to Gaussian for random projection.
    let norm = 0;
    const row = table.subarray(i * dimensions, (i + 1) * dimensions);
    for (let d = 0; d < dimensions; d++) {
      const v = next() + next() + next() - 1.5;
      row[d] = v;
      norm += v * v;
    }
    const scale = weight / Math.sqrt(norm || 1);
    for (let d = 0; d < dimensions; d++) row[d]! *= scale;
  });
  return table;
}

function graph(table: Float32Array, vocabSize: number, dimensions: number): Uint8Array {
  const dynamic2d = ["batch_size", "sequence_length"];
  return encodeModel({
    graphName: "hashing_bag_of_subwords",
    nodes: [{ op: "Gather", inputs: ["token_directions", "input_ids"], outputs: ["last_hidden_state"], attributes: { axis: { int: 0 } } }],
    initializers: [floatTensor("token_directions", [vocabSize, dimensions], table)],
    inputs: [
      { name: "input_ids", elemType: DataType.INT64, shape: dynamic2d },
      // Padding is masked by the embedder's pooling; the input is declared as real exports do.
      { name: "attention_mask", elemType: DataType.INT64, shape: dynamic2d },
    ],
    outputs: [{ name: "last_hidden_state", elemType: DataType.FLOAT, shape: ["batch_size", "sequence_length", dimensions] }],
    opset: 13,
    irVersion: 7,
    producer: "ifai-lsp hashingEmbeddingModel",
    docString: "Hashed bag-of-subwords embedder (no training): a benchmark model with a real but weak signal.",
  });
}

/** Tokens by id, with whether each is special, from a tokenizer.json. */
function tokensOf(tokenizerJson: string): Array<{ text: string; special: boolean }> {
  const parsed = JSON.parse(tokenizerJson) as { model?: { vocab?: Record<string, number> }; added_tokens?: Array<{ id: number; content: string; special?: boolean }> };
  const vocab = parsed.model?.vocab;
  if (!vocab || Array.isArray(vocab)) throw new Error("the tokenizer has no token → id vocabulary (a WordPiece or WordLevel tokenizer.json is needed)");
  let size = 0;
  for (const id of Object.values(vocab)) size = Math.max(size, id + 1);
  for (const t of parsed.added_tokens ?? []) size = Math.max(size, t.id + 1);
  const out = Array.from({ length: size }, () => ({ text: "", special: true }));
  for (const [text, id] of Object.entries(vocab)) out[id] = { text, special: /^\[[A-Z]+\]$|^<.*>$/.test(text) };
  for (const t of parsed.added_tokens ?? []) if (t.special !== false) out[t.id] = { text: t.content, special: true };
  return out;
}

/** Writes model.onnx, tokenizer files and config.json into `dir`. */
export async function writeHashingEmbedder(dir: string, options: HashingEmbedderOptions = {}): Promise<{ vocabSize: number; dimensions: number; tokenizer: string }> {
  const dimensions = options.dimensions ?? 256;
  let tokenizerJson: string;
  let tokenizerConfig: string;
  if (options.tokenizerDir !== undefined) {
    tokenizerJson = await readFile(path.join(options.tokenizerDir, "tokenizer.json"), "utf8");
    tokenizerConfig = await readFile(path.join(options.tokenizerDir, "tokenizer_config.json"), "utf8").catch(() => "{}");
  } else {
    const built = buildWordPieceTokenizer();
    tokenizerJson = JSON.stringify(built.tokenizerJson);
    tokenizerConfig = JSON.stringify(built.tokenizerConfig);
  }
  const tokens = tokensOf(tokenizerJson);
  // Code is written in camelCase: a boundary inside a word becomes a space before the tokenizer's
  // own normaliser lowercases it, so `parseHttpConfig` gives the tokens of "parse http config".
  const parsed = JSON.parse(tokenizerJson) as { normalizer?: unknown };
  parsed.normalizer = {
    type: "Sequence",
    normalizers: [{ type: "Replace", pattern: { Regex: "(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])" }, content: " " }, ...(parsed.normalizer ? [parsed.normalizer] : [])],
  };
  tokenizerJson = JSON.stringify(parsed);
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, "model.onnx"), graph(hashingTable(tokens, dimensions), tokens.length, dimensions));
  await writeFile(path.join(dir, "tokenizer.json"), tokenizerJson);
  await writeFile(path.join(dir, "tokenizer_config.json"), tokenizerConfig);
  const config = { _name_or_path: "ifai-hashing-embedder", architectures: ["HashingBagOfSubwords"], model_type: "bert", hidden_size: dimensions, max_position_embeddings: 512, vocab_size: tokens.length };
  await writeFile(path.join(dir, "config.json"), JSON.stringify(config, null, 2));
  await mkdir(path.join(dir, "1_Pooling"), { recursive: true });
  await writeFile(
    path.join(dir, "1_Pooling", "config.json"),
    JSON.stringify({ word_embedding_dimension: dimensions, pooling_mode_cls_token: false, pooling_mode_mean_tokens: true, pooling_mode_max_tokens: false, pooling_mode_mean_sqrt_len_tokens: false, pooling_mode_lasttoken: false }, null, 2),
  );
  return { vocabSize: tokens.length, dimensions, tokenizer: options.tokenizerDir ?? "built-in WordPiece" };
}
