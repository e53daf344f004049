import fs from "node:fs";
import path from "node:path";
import fc from "fast-check";
import type { LlamaModel } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BpeTokenCounter } from "../src/inference/tokenizer/BpeTokenCounter.js";
import { readGgufVocabulary } from "../src/inference/tokenizer/ggufVocabulary.js";
import { cachedTokenCounter } from "../src/inference/tokenizer/counterCache.js";
import { MergeTable } from "../src/inference/tokenizer/MergeTable.js";
import { tempDir, tinyModel } from "./helpers/models.js";
import { sourceSlices } from "./helpers/sourceSlices.js";

// The JavaScript counter against llama.cpp's own tokenizer on the same GGUF: the counts must be
// equal, text for text. The real Qwen2.5 vocabulary comes from ../shared/models when present.
const root = path.resolve(import.meta.dirname, "..");
const QWEN_VOCAB = path.resolve(root, "../shared/models/ggml-vocab-qwen2.5.gguf");
const QWEN_TESTS = path.resolve(root, "../shared/models/qwen2-tokenizer-tests.inp");
const hasQwen = fs.existsSync(QWEN_VOCAB);
const dir = tempDir("ifai-bpe-");

async function llamaVocab(modelPath: string): Promise<LlamaModel> {
  const { getLlama, LlamaLogLevel } = await import("node-llama-cpp");
  const llama = await getLlama({ gpu: false, build: "never", maxThreads: 1, logLevel: LlamaLogLevel.error, logger: () => undefined });
  return llama.loadModel({ modelPath, vocabOnly: true, useMmap: false });
}

afterAll(() => dir.cleanup());

describe.skipIf(!hasQwen)("token counts in JavaScript on the real Qwen2.5 vocabulary", () => {
  let counter: BpeTokenCounter;
  let llama: LlamaModel;
  beforeAll(async () => {
    const vocabulary = await readGgufVocabulary(QWEN_VOCAB);
    expect(vocabulary).toMatchObject({ model: "gpt2", pre: "qwen2" });
    expect(vocabulary.merges).toHaveLength(151387);
    counter = BpeTokenCounter.forVocabulary(vocabulary)!;
    llama = await llamaVocab(QWEN_VOCAB);
  });

  it("equals llama.cpp on its tokenizer test vectors and on real source code", () => {
    const vectors = fs.existsSync(QWEN_TESTS) ? fs.readFileSync(QWEN_TESTS, "utf8").split(/\n?__ggml_vocab_test__\n/).filter(Boolean) : [];
    const texts = [...vectors, ...sourceSlices(60)];
    const differing = texts.filter((t) => counter.countTokens(t) !== llama.tokenize(t, false).length);
    expect(differing).toEqual([]);
  });

  it("equals llama.cpp on generated text: code-like, whitespace, line breaks, any Unicode", () => {
    const pieces = fc.oneof(
      fc.constantFrom("const", " x", "=", "\n", "\r\n", "  ", "\t", "'s", "'LL", "123", "__init__", "é", "日本", "😀", "<|fim_prefix|>", ".", "->", "\u00a0"),
      fc.string({ unit: "grapheme", maxLength: 8 }),
    );
    fc.assert(
      fc.property(fc.array(pieces, { maxLength: 40 }), (parts) => {
        const text = parts.join("");
        expect(counter.countTokens(text)).toBe(llama.tokenize(text, false).length);
      }),
      { seed: 11, numRuns: 300 },
    );
  });
});

describe("token counts in JavaScript on a generated model", () => {
  it("equals llama.cpp on the byte-level test model", async () => {
    const modelPath = await tinyModel();
    const counter = BpeTokenCounter.forVocabulary(await readGgufVocabulary(modelPath))!;
    expect(counter).toBeDefined();
    const llama = await llamaVocab(modelPath);
    for (const text of sourceSlices(20)) expect(counter.countTokens(text)).toBe(llama.tokenize(text, false).length);
  });

  it("refuses what is not a GGUF, or one cut short, and knows only the tokenizers it reproduces", async () => {
    const notGguf = path.join(dir.path, "x.gguf");
    fs.writeFileSync(notGguf, "hello, not a model");
    await expect(readGgufVocabulary(notGguf)).rejects.toThrow(/not a GGUF/);
    const cut = path.join(dir.path, "cut.gguf");
    fs.writeFileSync(cut, fs.readFileSync(await tinyModel()).subarray(0, 200));
    await expect(readGgufVocabulary(cut)).rejects.toThrow(/ends early/);
    expect(BpeTokenCounter.forVocabulary({ model: "gpt2", pre: "llama3", merges: [] })).toBeUndefined();
    expect(BpeTokenCounter.forVocabulary({ model: "llama", pre: "qwen2", merges: [] })).toBeUndefined();
  });

  it("stores the counter's table once and reads it back with the same counts; a damaged table is rebuilt", async () => {
    // Qwen's 151k merges where the real vocabulary is here; the test model has no merges to speak of.
    const modelPath = hasQwen ? QWEN_VOCAB : await tinyModel();
    const folder = path.join(dir.path, "tokenizers");
    const built = (await cachedTokenCounter(modelPath, folder))!;
    const files = fs.readdirSync(folder);
    expect(files).toHaveLength(1);
    const stored = path.join(folder, files[0]!);
    const read = (await cachedTokenCounter(modelPath, folder))!;
    expect(read.table).not.toBe(built.table);
    const llama = await llamaVocab(modelPath);
    for (const text of sourceSlices(8)) {
      const count = llama.tokenize(text, false).length;
      expect(read.countTokens(text)).toBe(count);
      expect(built.countTokens(text)).toBe(count);
    }
    // Damaged tables never load (and one with no empty slot would never end a probe).
    const bytes = fs.readFileSync(stored);
    expect(MergeTable.fromBytes(bytes)).toBeDefined();
    expect(MergeTable.fromBytes(bytes.subarray(0, bytes.length - 4))).toBeUndefined();
    expect(MergeTable.fromBytes(Buffer.from("not a table at all!!"))).toBeUndefined();
    const full = new Int32Array(new Uint8Array(bytes).buffer.slice(0));
    for (let at = 4; at < full.length; at += 4) if (full[at] === 0) full.set([1, 1, 1, 1], at);
    expect(MergeTable.fromBytes(new Uint8Array(full.buffer))).toBeUndefined();
    fs.writeFileSync(stored, "garbage");
    const rebuilt = (await cachedTokenCounter(modelPath, folder))!;
    expect(rebuilt.countTokens("function total(values) {")).toBe(llama.tokenize("function total(values) {", false).length);
    expect(MergeTable.fromBytes(fs.readFileSync(stored))).toBeDefined();
  });

  it("counts a megabyte word and a megabyte of line breaks (each word's work is bounded)", async () => {
    const counter = BpeTokenCounter.forVocabulary(await readGgufVocabulary(await tinyModel()))!;
    expect(counter.countTokens("a".repeat(1 << 20))).toBeGreaterThan(0);
    expect(counter.countTokens("\n".repeat(1 << 20))).toBeGreaterThan(0);
  });
});
