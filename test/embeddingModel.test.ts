/**
 * The embedding model's pieces without a worker: the hand-written ONNX encoder (checked by decoding
 * with onnx-proto), the tiny model generator, tokenization by the real MiniLM tokenizer, the
 * catalogue, model-folder reading, and the batching/pooling maths.
 */
import fs from "node:fs";
import path from "node:path";
import { Tokenizer } from "@huggingface/tokenizers";
import { onnx } from "onnx-proto";
import { afterAll, describe, expect, it } from "vitest";
import { buildWordPieceTokenizer } from "../src/devtools/onnx/wordPieceTokenizer.js";
import { ensureTinyEmbedder, writeTinyEmbedder } from "../src/devtools/onnx/tinyEmbeddingModel.js";
import { normalizeRows, padBatch, planBatches, poolTokenStates } from "../src/index/embedding/batching.js";
import { CATALOG_FIELD_DESCRIPTIONS, EMBEDDING_CATALOG, findCatalogEntry } from "../src/index/embedding/catalog.js";
import { renderEmbeddingModelsDoc } from "../src/index/embedding/catalogDoc.js";
import { EmbeddingModelError, resolveEmbeddingModel } from "../src/index/embedding/modelConfig.js";
import { ModelTokenizer } from "../src/index/embedding/ModelTokenizer.js";
import { hasMiniLmTokenizer, miniLmTokenizerDir, tinyEmbedderDir } from "./helpers/embedder.js";
import { tempDir } from "./helpers/models.js";
import { projectRoot } from "./helpers/paths.js";

const temp = tempDir("ifai-embedding-model-");
afterAll(() => temp.cleanup());

function loadTokenizer(dir: string): Tokenizer {
  const json = JSON.parse(fs.readFileSync(path.join(dir, "tokenizer.json"), "utf8")) as object;
  const config = JSON.parse(fs.readFileSync(path.join(dir, "tokenizer_config.json"), "utf8")) as object;
  return new Tokenizer(json, config);
}

describe("ONNX encoder and tiny model generator", () => {
  it("writes a ModelProto that onnx-proto decodes field by field", async () => {
    const dir = await tinyEmbedderDir();
    const model = onnx.ModelProto.decode(fs.readFileSync(path.join(dir, "model.onnx")));
    expect(Number(model.irVersion)).toBe(7);
    expect(model.opsetImport.map((o) => [o.domain, Number(o.version)])).toEqual([["", 13]]);
    const graph = model.graph as onnx.GraphProto;
    expect(graph.input.map((i) => i.name)).toEqual(["input_ids", "attention_mask", "token_type_ids"]);
    expect(graph.input[0]!.type!.tensorType!.elemType).toBe(onnx.TensorProto.DataType.INT64);
    expect(graph.input[0]!.type!.tensorType!.shape!.dim!.map((d) => d.dimParam)).toEqual(["batch_size", "sequence_length"]);
    expect(graph.output.map((o) => o.name)).toEqual(["last_hidden_state"]);
    expect(graph.output[0]!.type!.tensorType!.shape!.dim!.map((d) => d.dimParam || Number(d.dimValue))).toEqual(["batch_size", "sequence_length", 32]);
    const table = graph.initializer.find((t) => t.name === "word_embeddings.weight") as onnx.TensorProto;
    const vocab = hasMiniLmTokenizer ? 30522 : buildWordPieceTokenizer().vocabSize;
    expect(table.dims.map(Number)).toEqual([vocab, 32]);
    expect(table.rawData!.length).toBe(vocab * 32 * 4);
    const ops = graph.node.map((n) => n.opType);
    expect(ops).toEqual(expect.arrayContaining(["Gather", "Range", "ReduceSum", "MatMul", "Tanh"]));
    const gather = graph.node.find((n) => n.opType === "Gather") as onnx.NodeProto;
    expect(gather.attribute[0]!.name).toBe("axis");
    expect(gather.attribute[0]!.type).toBe(onnx.AttributeProto.AttributeType.INT);
  });

  it("writes an INT8 variant with DequantizeLinear, DynamicQuantizeLinear and MatMulInteger", async () => {
    const dir = await tinyEmbedderDir({ precision: "int8" });
    expect(fs.existsSync(path.join(dir, "model.onnx"))).toBe(false);
    const model = onnx.ModelProto.decode(fs.readFileSync(path.join(dir, "model_quantized.onnx")));
    const graph = model.graph as onnx.GraphProto;
    const ops = graph.node.map((n) => n.opType);
    expect(ops).toEqual(expect.arrayContaining(["DequantizeLinear", "DynamicQuantizeLinear", "MatMulInteger"]));
    expect(ops).not.toContain("MatMul");
    const table = graph.initializer.find((t) => t.name === "word_embeddings.weight_quantized") as onnx.TensorProto;
    expect(table.dataType).toBe(onnx.TensorProto.DataType.INT8);
  });

  it("is deterministic per seed and reuses its cached folder", async () => {
    const a = path.join(temp.path, "a");
    const b = path.join(temp.path, "b");
    const c = path.join(temp.path, "c");
    await writeTinyEmbedder(a, { seed: 3 });
    await writeTinyEmbedder(b, { seed: 3 });
    await writeTinyEmbedder(c, { seed: 4 });
    const bytes = (dir: string): Buffer => fs.readFileSync(path.join(dir, "model.onnx"));
    expect(bytes(a).equals(bytes(b))).toBe(true);
    expect(bytes(a).equals(bytes(c))).toBe(false);

    const cache = path.join(temp.path, "cache");
    const [first, second] = await Promise.all([ensureTinyEmbedder(cache, { seed: 3 }), ensureTinyEmbedder(cache, { seed: 3 })]);
    expect(first).toBe(second);
    const mtime = fs.statSync(path.join(first, "model.onnx")).mtimeMs;
    expect(await ensureTinyEmbedder(cache, { seed: 3 })).toBe(first);
    expect(fs.statSync(path.join(first, "model.onnx")).mtimeMs).toBe(mtime);
    expect(await ensureTinyEmbedder(cache, { seed: 3, hidden: 48 })).not.toBe(first);
    expect(fs.readdirSync(cache).filter((name) => name.includes(".tmp-"))).toEqual([]);
  });

  it("writes a fallback WordPiece tokenizer.json that @huggingface/tokenizers loads", async () => {
    const dir = path.join(temp.path, "wordpiece");
    await writeTinyEmbedder(dir, {});
    const tokenizer = loadTokenizer(dir);
    const encoded = tokenizer.encode("function getUser(id) { return users[id]; }");
    expect(encoded.tokens[0]).toBe("[CLS]");
    expect(encoded.tokens.at(-1)).toBe("[SEP]");
    expect(encoded.tokens).toContain("function");
    expect(encoded.tokens).toContain("return");
    expect(encoded.tokens).not.toContain("[UNK]");
    const config = JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8")) as { vocab_size: number };
    expect(config.vocab_size).toBe(buildWordPieceTokenizer().vocabSize);
    expect(Math.max(...encoded.ids)).toBeLessThan(config.vocab_size);
  });
});

describe.skipIf(!hasMiniLmTokenizer)("the real all-MiniLM-L6-v2 tokenizer (needs ../shared/models)", () => {
  // Its README lists reference embedding values but no token ids, so ids are checked against the
  // well-known BERT uncased ids and against vocab.txt, whose line numbers are the ids.
  const vocabLines = hasMiniLmTokenizer ? fs.readFileSync(path.join(miniLmTokenizerDir, "vocab.txt"), "utf8").split("\n") : [];

  it("gives BERT's ids for a sentence", () => {
    const tokenizer = loadTokenizer(miniLmTokenizerDir);
    expect(tokenizer.encode("Hello, world!").ids).toEqual([101, 7592, 1010, 2088, 999, 102]);
  });

  it("splits code into WordPieces whose ids are their vocab.txt lines", () => {
    const tokenizer = new ModelTokenizer(
      JSON.parse(fs.readFileSync(path.join(miniLmTokenizerDir, "tokenizer.json"), "utf8")) as object,
      JSON.parse(fs.readFileSync(path.join(miniLmTokenizerDir, "tokenizer_config.json"), "utf8")) as object,
      256,
    );
    const text = "function getUserName(id) { return embeddings; }";
    expect(tokenizer.tokens(text)).toEqual(["function", "get", "##user", "##name", "(", "id", ")", "{", "return", "em", "##bed", "##ding", "##s", ";", "}"]);
    const ids = tokenizer.encode(text);
    expect(ids.map((id) => vocabLines[id])).toEqual(["[CLS]", ...tokenizer.tokens(text), "[SEP]"]);
    expect(tokenizer.padId).toBe(0);
  });

  it("truncates to the model's limit and keeps [CLS] … [SEP]", () => {
    const tokenizer = new ModelTokenizer(
      JSON.parse(fs.readFileSync(path.join(miniLmTokenizerDir, "tokenizer.json"), "utf8")) as object,
      {},
      16,
    );
    const ids = tokenizer.encode("alpha beta gamma ".repeat(100));
    expect(ids).toHaveLength(16);
    expect(ids[0]).toBe(101);
    expect(ids[15]).toBe(102);
    expect(ids.slice(1, 4).map((id) => vocabLines[id])).toEqual(["alpha", "beta", "gamma"]);
    expect(tokenizer.encode("short")).toHaveLength(3);
  });
});

describe("catalogue", () => {
  it("describes the four models with every field filled and described", () => {
    expect(EMBEDDING_CATALOG.map((e) => e.id)).toEqual(["jina-embeddings-v2-base-code", "CodeRankEmbed", "all-MiniLM-L6-v2", "Qwen3-Embedding-0.6B"]);
    for (const entry of EMBEDDING_CATALOG) {
      expect(Object.keys(entry).sort()).toEqual(Object.keys(CATALOG_FIELD_DESCRIPTIONS).sort());
      for (const key of ["id", "huggingFaceRepo", "parameters", "sizeInt8MB", "licence", "codeRetrieval", "notes"] as const) expect(entry[key]).not.toBe("");
      expect(entry.maxTokens).toBeGreaterThan(0);
    }
    expect(findCatalogEntry("nomic-ai/CodeRankEmbed")?.pooling).toBe("cls");
    expect(findCatalogEntry("coderankembed")?.queryPrefix).toBe("Represent this query for searching relevant code: ");
    expect(findCatalogEntry("all-MiniLM-L6-v2")?.dimensions).toBe(384);
  });

  it("docs/embedding-models.md is generated from the catalogue (npm run docs:embedding)", () => {
    const doc = fs.readFileSync(path.join(projectRoot, "docs", "embedding-models.md"), "utf8");
    expect(doc).toBe(renderEmbeddingModelsDoc());
    expect(doc).toContain('`"Represent this query for searching relevant code: "`');
  });
});

describe("model folder", () => {
  it("reads pooling, prompts and max length from sentence-transformers files", async () => {
    const dir = await tinyEmbedderDir({ sentenceTransformers: { pooling: "cls", prompts: { query: "search_query: ", document: "search_document: " }, maxSeqLength: 64 } });
    const model = resolveEmbeddingModel(dir);
    expect(model).toMatchObject({ pooling: "cls", queryPrefix: "search_query: ", documentPrefix: "search_document: ", maxTokens: 64, source: "folder config" });
    expect(model.modelPath).toBe(path.join(dir, "model.onnx"));
    expect(model.notes).toEqual([]);
  });

  it("falls back to mean pooling without prefixes and says so", async () => {
    const model = resolveEmbeddingModel(await tinyEmbedderDir());
    expect(model).toMatchObject({ pooling: "mean", queryPrefix: "", documentPrefix: "", maxTokens: 512, source: "defaults" });
    expect(model.notes.join("\n")).toMatch(/mean pooling and no query\/document prefixes/);
  });

  it("takes a catalogue entry by id or by the folder's name", async () => {
    const dir = await tinyEmbedderDir();
    expect(resolveEmbeddingModel(dir, "CodeRankEmbed")).toMatchObject({ pooling: "cls", expectedDimensions: 768, source: "catalogue" });
    expect(() => resolveEmbeddingModel(dir, "no-such-model")).toThrow(/unknown embedding model "no-such-model"; the catalogue has jina-embeddings-v2-base-code, CodeRankEmbed/);
    const named = path.join(temp.path, "all-MiniLM-L6-v2");
    fs.cpSync(dir, named, { recursive: true });
    const model = resolveEmbeddingModel(named);
    expect(model).toMatchObject({ name: "all-MiniLM-L6-v2", expectedDimensions: 384, maxTokens: 256 });
    expect(model.notes.join()).toMatch(/recognised the model folder as catalogue entry all-MiniLM-L6-v2/);
  });

  it("names what is missing from a bad folder", async () => {
    const missing = path.join(temp.path, "nope");
    expect(() => resolveEmbeddingModel(missing)).toThrow(`embedding model folder ${missing} does not exist`);
    const noTokenizer = path.join(temp.path, "no-tokenizer");
    fs.mkdirSync(noTokenizer);
    fs.writeFileSync(path.join(noTokenizer, "model.onnx"), "");
    expect(() => resolveEmbeddingModel(noTokenizer)).toThrow(`embedding model folder ${noTokenizer} has no tokenizer.json`);
    const noModel = path.join(temp.path, "no-model");
    fs.mkdirSync(noModel);
    fs.writeFileSync(path.join(noModel, "tokenizer.json"), "{}");
    expect(() => resolveEmbeddingModel(noModel)).toThrow(/has no ONNX model \(looked for model_quantized\.onnx, model\.onnx/);
    fs.writeFileSync(path.join(noModel, "model.onnx"), "x");
    fs.writeFileSync(path.join(noModel, "config.json"), "{ not json");
    expect(() => resolveEmbeddingModel(noModel)).toThrow(EmbeddingModelError);
    expect(() => resolveEmbeddingModel(noModel)).toThrow(/config\.json is not valid JSON/);
  });
});

describe("batching and pooling", () => {
  it("plans batches of similar length within the limits, each text once", () => {
    const lengths = [5, 120, 7, 64, 3, 300, 8, 9, 100, 2];
    const batches = planBatches(lengths, { batchSize: 3, maxBatchTokens: 320 });
    expect(batches.flat().sort((a, b) => a - b)).toEqual(lengths.map((_, i) => i));
    for (const batch of batches) {
      expect(batch.length).toBeLessThanOrEqual(3);
      const longest = Math.max(...batch.map((i) => lengths[i]!));
      if (batch.length > 1) expect(longest * batch.length).toBeLessThanOrEqual(320);
    }
    expect(batches[0]).toEqual([5]);
  });

  it("mean-pools only unmasked tokens, takes the first or last real token, and normalises", () => {
    const padded = padBatch([[1, 2, 3], [4]], 0);
    expect(Array.from(padded.attentionMask)).toEqual([1n, 1n, 1n, 1n, 0n, 0n]);
    expect(Array.from(padded.positionIds)).toEqual([0n, 1n, 2n, 0n, 1n, 2n]);
    // [batch 2, sequence 3, hidden 2]; row 1's padded positions hold large values that must be ignored.
    const states = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 100, 100, 100, 100]);
    expect(Array.from(poolTokenStates(states, 2, 3, 2, padded.attentionMask, "mean"))).toEqual([3, 4, 7, 8]);
    expect(Array.from(poolTokenStates(states, 2, 3, 2, padded.attentionMask, "cls"))).toEqual([1, 2, 7, 8]);
    expect(Array.from(poolTokenStates(states, 2, 3, 2, padded.attentionMask, "last"))).toEqual([5, 6, 7, 8]);
    expect(Array.from(normalizeRows(Float32Array.from([3, 4, 0, 0]), 2))).toEqual([0.6, 0.8, 0, 0].map(Math.fround));
  });
});
