/**
 * The ONNX embedder end to end: real onnxruntime-node in a worker thread running the generated
 * tiny models (FP32 and INT8), with the real MiniLM tokenizer when ../shared/models has it.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEmbedder, createOnnxEmbedder, describeModelChange, type OnnxEmbedder } from "../src/index/embedding/createEmbedder.js";
import { EmbeddingModelError } from "../src/index/embedding/modelConfig.js";
import { silentLogger } from "../src/util/logger.js";
import { cosine, maxAbsDiff, tinyEmbedderDir } from "./helpers/embedder.js";
import { tempDir } from "./helpers/models.js";
import { testModelCache } from "./helpers/paths.js";
import { ensureTinyEmbedder } from "../src/devtools/onnx/tinyEmbeddingModel.js";

const logger = silentLogger();
const temp = tempDir("ifai-embedding-");
const open: OnnxEmbedder[] = [];

async function load(modelDir: string, options: { batchSize?: number; catalogId?: string } = {}): Promise<OnnxEmbedder> {
  const embedder = await createOnnxEmbedder({ modelDir, logger, ...options });
  open.push(embedder);
  return embedder;
}

afterAll(async () => {
  await Promise.all(open.map((e) => e.dispose()));
  temp.cleanup();
});

const SNIPPETS = [
  "function add(a, b) { return a + b; }",
  "def read_config(path):\n    with open(path) as f:\n        return json.load(f)",
  "x",
  "class UserRepository { findById(id: string): Promise<User | undefined> { return this.db.get(id); } }",
  "SELECT name, email FROM users WHERE id = ?",
  "fn main() { println!(\"hello\"); }",
];

describe("ONNX embedder on the tiny model", () => {
  let embedder: OnnxEmbedder;
  beforeAll(async () => {
    embedder = await load(await tinyEmbedderDir(), { batchSize: 4 });
  });

  it("loads, measures its output size and names the model", () => {
    expect(embedder.dimensions).toBe(32);
    expect(embedder.modelId).toMatch(/^tiny-embedder-h32-fp32-[0-9a-f]+-mean-32d-[0-9a-f]{8}$/);
    expect(embedder.info).toMatchObject({ pooling: "mean", outputName: "last_hidden_state", inputNames: ["input_ids", "attention_mask", "token_type_ids"], threads: 1 });
  });

  it("returns one unit-length vector per text, distinct for distinct texts", async () => {
    const vectors = await embedder.embed(SNIPPETS, "document");
    expect(vectors).toHaveLength(SNIPPETS.length);
    for (const v of vectors) {
      expect(v).toBeInstanceOf(Float32Array);
      expect(v.length).toBe(32);
      expect(Math.hypot(...v)).toBeCloseTo(1, 5);
    }
    expect(cosine(vectors[0]!, vectors[1]!)).toBeLessThan(0.999);
    expect(await embedder.embed([], "document")).toEqual([]);
  });

  it("gives a text the same vector alone as padded in a batch (mean pooling ignores padding)", async () => {
    const [alone] = await embedder.embed(["x"], "document");
    const batch = await embedder.embed(["x", SNIPPETS[3]!.repeat(5)], "document");
    expect(maxAbsDiff(alone!, batch[0]!)).toBeLessThan(1e-5);
  });

  it("keeps the input order across length-sorted batches", async () => {
    const texts = Array.from({ length: 23 }, (_, i) => `${SNIPPETS[i % SNIPPETS.length]} // variant ${i} ${"pad ".repeat(i % 7)}`);
    const batched = await embedder.embed(texts, "document");
    const single = await Promise.all(texts.map(async (t) => (await embedder.embed([t], "document"))[0]!));
    for (let i = 0; i < texts.length; i++) expect(maxAbsDiff(batched[i]!, single[i]!)).toBeLessThan(1e-5);
  });

  it("truncates a huge text to the model's limit instead of failing", async () => {
    const huge = "const value = compute(value);\n".repeat(20_000);
    const [vector] = await embedder.embed([huge], "document");
    expect(Math.hypot(...vector!)).toBeCloseTo(1, 5);
  });

  it("runs query requests before queued document batches", async () => {
    const order: string[] = [];
    // The worker runs on its own thread and starts on the documents at once, so the request must
    // be long enough (300 batches of 4) that the query is surely posted while most are still queued.
    const documents = embedder.embed(Array.from({ length: 1200 }, (_, i) => `${SNIPPETS[i % 6]} ${i}`), "document").then(() => order.push("documents"));
    const query = embedder.embed(["find the user by id"], "query").then(() => order.push("query"));
    await Promise.all([documents, query]);
    expect(order).toEqual(["query", "documents"]);
  });

  it("rejects a cancelled request, drops its queued batches, and keeps serving", async () => {
    const before = embedder.stats;
    const aborted = new AbortController();
    aborted.abort();
    await expect(embedder.embed(["x"], "document", aborted.signal)).rejects.toMatchObject({ name: "AbortError" });

    // The worker runs on its own thread: the first request must be long enough (200 batches of 4)
    // that it is still busy with it when the cancel is posted, even if the machine stalls this
    // thread between the two statements (with 10 batches, a loaded machine let the worker finish
    // the cancelled request's batches too before the cancel arrived).
    const first = embedder.embed(Array.from({ length: 800 }, (_, i) => `first ${i}`), "document");
    const controller = new AbortController();
    const second = embedder.embed(Array.from({ length: 40 }, (_, i) => `second ${i}`), "document", controller.signal);
    controller.abort();
    await expect(second).rejects.toMatchObject({ name: "AbortError" });
    await first;
    // Requests run in order, so once this one is done every batch of the cancelled one has either
    // been dropped or (at most the one in flight) discarded.
    expect(await embedder.embed(["third"], "document")).toHaveLength(1);
    const after = embedder.stats;
    expect(after.texts - before.texts).toBe(801);
    expect(after.batches - before.batches).toBe(200 + 1);
    expect(after.discardedBatches - before.discardedBatches).toBeLessThanOrEqual(1);
  });
});

describe("model variants", () => {
  it("applies the query and document prefixes from the folder's prompts", async () => {
    const prefix = "Represent this query for searching relevant code: ";
    const embedder = await load(await tinyEmbedderDir({ sentenceTransformers: { prompts: { query: prefix } } }));
    const [query] = await embedder.embed(["open a file"], "query");
    const [plain] = await embedder.embed(["open a file"], "document");
    const [prefixed] = await embedder.embed([prefix + "open a file"], "document");
    expect(maxAbsDiff(query!, prefixed!)).toBeLessThan(1e-5);
    expect(maxAbsDiff(query!, plain!)).toBeGreaterThan(1e-3);
  });

  it("pools [CLS] when configured, and prefers a sentence_embedding output", async () => {
    const mean = await load(await tinyEmbedderDir());
    const cls = await load(await tinyEmbedderDir({ sentenceTransformers: { pooling: "cls" } }));
    const withOutput = await load(await tinyEmbedderDir({ sentenceEmbedding: true }));
    expect(cls.info.pooling).toBe("cls");
    expect(withOutput.info.outputName).toBe("sentence_embedding");
    const [m] = await mean.embed([SNIPPETS[0]!], "document");
    const [c] = await cls.embed([SNIPPETS[0]!], "document");
    const [s] = await withOutput.embed([SNIPPETS[0]!], "document");
    expect(maxAbsDiff(m!, c!)).toBeGreaterThan(1e-3);
    // The sentence_embedding output of the generated model is the [CLS] state, same weights.
    expect(maxAbsDiff(s!, c!)).toBeLessThan(1e-5);
    expect(new Set([mean.modelId, cls.modelId, withOutput.modelId]).size).toBe(3);
  });

  it("truncates at the folder's max_seq_length", async () => {
    const embedder = await load(await tinyEmbedderDir({ sentenceTransformers: { maxSeqLength: 16 } }));
    const shared = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho";
    const [a, b] = await embedder.embed([`${shared} sigma tau`, `${shared} upsilon phi chi psi omega`], "document");
    expect(maxAbsDiff(a!, b!)).toBe(0);
    expect(embedder.info.maxTokens).toBe(16);
  });

  it("runs real attention layers (the benchmark's real-model shapes) with padding masked out", async () => {
    const embedder = await load(await tinyEmbedderDir({ hidden: 32, bert: { layers: 2, heads: 4, intermediate: 64 } }), { batchSize: 4 });
    expect(embedder.dimensions).toBe(32);
    const [alone] = await embedder.embed(["x"], "document");
    const [padded] = await embedder.embed(["x", SNIPPETS[3]!], "document");
    expect(maxAbsDiff(alone!, padded!)).toBeLessThan(1e-5);
    const vectors = await embedder.embed(SNIPPETS, "document");
    expect(cosine(vectors[0]!, vectors[1]!)).toBeLessThan(0.999);
  });

  it("works with the generator's own WordPiece tokenizer (no ../shared/models)", async () => {
    const embedder = await load(await ensureTinyEmbedder(testModelCache, { seed: 5 }));
    expect(embedder.info.name).toMatch(/^tiny-embedder-/);
    const vectors = await embedder.embed(SNIPPETS, "document");
    expect(vectors).toHaveLength(SNIPPETS.length);
    expect(Math.hypot(...vectors[1]!)).toBeCloseTo(1, 5);
  });

  it("runs a model without token_type_ids", async () => {
    const embedder = await load(await tinyEmbedderDir({ tokenTypeIds: false }));
    expect(embedder.info.inputNames).toEqual(["input_ids", "attention_mask"]);
    const [v] = await embedder.embed(["hello"], "document");
    expect(Math.hypot(...v!)).toBeCloseTo(1, 5);
  });

  it("runs the INT8 model (DynamicQuantizeLinear + MatMulInteger) close to the FP32 one", async () => {
    const dir = await tinyEmbedderDir({ precision: "both" });
    const int8 = await load(dir);
    const fp32 = await load(path.join(dir, "model.onnx"));
    expect(path.basename(int8.info.modelPath)).toBe("model_quantized.onnx");
    expect(path.basename(fp32.info.modelPath)).toBe("model.onnx");
    expect(int8.modelId).not.toBe(fp32.modelId);
    const size = (file: string): number => fs.statSync(path.join(dir, file)).size;
    expect(size("model_quantized.onnx")).toBeLessThan(size("model.onnx") / 3);
    const q = await int8.embed(SNIPPETS, "document");
    const f = await fp32.embed(SNIPPETS, "document");
    for (let i = 0; i < SNIPPETS.length; i++) {
      expect(cosine(q[i]!, f[i]!)).toBeGreaterThan(0.99);
      expect(maxAbsDiff(q[i]!, f[i]!)).toBeGreaterThan(0);
    }
  });
});

describe("failures", () => {
  it("reports a crashed worker to pending and later requests instead of hanging", async () => {
    const embedder = await createOnnxEmbedder({ modelDir: await tinyEmbedderDir(), logger });
    const pending = embedder.embed(Array.from({ length: 200 }, (_, i) => `text ${i}`), "document");
    await embedder.terminateWorker();
    await expect(pending).rejects.toThrow(/the embedding worker stopped/);
    await expect(embedder.embed(["again"], "query")).rejects.toThrow(/the embedding worker stopped/);
    await embedder.dispose();
  });

  it("rejects requests after dispose", async () => {
    const embedder = await createEmbedder({ modelDir: await tinyEmbedderDir(), logger });
    await embedder.dispose();
    await expect(embedder.embed(["x"], "document")).rejects.toThrow(/disposed/);
  });

  it("gives clear errors for bad model folders", async () => {
    const good = await tinyEmbedderDir();
    const noTokenizer = path.join(temp.path, "no-tokenizer");
    fs.mkdirSync(noTokenizer);
    fs.copyFileSync(path.join(good, "model.onnx"), path.join(noTokenizer, "model.onnx"));
    await expect(createEmbedder({ modelDir: noTokenizer, logger })).rejects.toThrow(`embedding model folder ${noTokenizer} has no tokenizer.json`);

    const noModel = path.join(temp.path, "no-model");
    fs.mkdirSync(noModel);
    fs.copyFileSync(path.join(good, "tokenizer.json"), path.join(noModel, "tokenizer.json"));
    await expect(createEmbedder({ modelDir: noModel, logger })).rejects.toThrow(`embedding model folder ${noModel} has no ONNX model`);

    const garbage = path.join(temp.path, "garbage");
    fs.cpSync(good, garbage, { recursive: true });
    fs.writeFileSync(path.join(garbage, "model.onnx"), "this is not a protobuf model");
    await expect(createEmbedder({ modelDir: garbage, logger })).rejects.toThrow(`could not load the ONNX model ${path.join(garbage, "model.onnx")}`);

    const badTokenizer = path.join(temp.path, "bad-tokenizer");
    fs.cpSync(good, badTokenizer, { recursive: true });
    fs.writeFileSync(path.join(badTokenizer, "tokenizer.json"), "{ truncated");
    await expect(createEmbedder({ modelDir: badTokenizer, logger })).rejects.toThrow(`could not read ${path.join(badTokenizer, "tokenizer.json")}`);
  });

  it("detects an output size that differs from the catalogue or the previous run", async () => {
    const dir = await tinyEmbedderDir();
    const attempt = createEmbedder({ modelDir: dir, catalogId: "all-MiniLM-L6-v2", logger });
    await expect(attempt).rejects.toThrow(EmbeddingModelError);
    await expect(createEmbedder({ modelDir: dir, catalogId: "all-MiniLM-L6-v2", logger })).rejects.toThrow(
      /outputs 32-dimensional vectors, but catalogue entry all-MiniLM-L6-v2 has 384/,
    );
    const small = await load(dir);
    const large = await load(await tinyEmbedderDir({ hidden: 48 }));
    expect(large.dimensions).toBe(48);
    expect(describeModelChange({ modelId: small.modelId, dimensions: 32 }, small)).toBeUndefined();
    expect(describeModelChange({ modelId: small.modelId, dimensions: 32 }, large)).toMatch(/output size changed from 32 to 48 dimensions.*new table/);
  });
});
