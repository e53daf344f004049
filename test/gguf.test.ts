import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { getLlama, type Llama, type LlamaModel, type Token } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getArray, getNumber, getString, readGgufSync, readTensorBytes, type GgufFile } from "../src/devtools/gguf/ggufReader.js";
import {
  GgufValueType,
  gguf,
  tensorByteSize,
  writeGgufFile,
  type GgufKeyValue,
  type GgufTensorSpec,
} from "../src/devtools/gguf/ggufWriter.js";
import { float16BitsToFloat32, float32ToFloat16Bits, randomTensorData } from "../src/devtools/gguf/randomTensors.js";
import {
  QWEN25_CODER_05B_SHAPE,
  QWEN_SPECIAL_TOKENS,
  TINY_SHAPE,
  ensureGeneratedModel,
  writeQwen2Gguf,
  type GgmlQuant,
} from "../src/devtools/gguf/qwen2Model.js";

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const sharedModels = path.resolve(projectRoot, "../shared/models");
const vocabPath = path.join(sharedModels, "ggml-vocab-qwen2.5.gguf");
const tokenizerTestsInp = path.join(sharedModels, "qwen2-tokenizer-tests.inp");
const tokenizerTestsOut = path.join(sharedModels, "qwen2-tokenizer-tests.out");
const hasShared = existsSync(vocabPath) && existsSync(tokenizerTestsInp) && existsSync(tokenizerTestsOut);

const FIM_PROMPT = "<|fim_prefix|>a<|fim_suffix|>b<|fim_middle|>";
/** Compact ids of the byte vocabulary: the specials follow the 256 byte tokens in real-vocabulary order. */
const BYTE_VOCAB_ID = Object.fromEntries(QWEN_SPECIAL_TOKENS.map((t, i) => [t.text, 256 + i])) as Record<string, number>;

let tmpDir: string;
let llama: Llama;
/** node-llama-cpp's log lines, kept out of stdout and shown only when a load fails. */
const llamaLogs: string[] = [];

beforeAll(async () => {
  tmpDir = await mkdtemp(path.join(os.tmpdir(), "ifai-gguf-test-"));
  llama = await getLlama({
    gpu: false,
    build: "never",
    maxThreads: 1,
    logger: (level, message) => {
      llamaLogs.push(`${level}: ${message}`);
    },
  });
});

afterAll(async () => {
  await llama?.dispose();
  if (tmpDir !== undefined) await rm(tmpDir, { recursive: true, force: true });
});

async function sha256(filePath: string): Promise<string> {
  return createHash("sha256").update(await readFile(filePath)).digest("hex");
}

async function loadModel(modelPath: string): Promise<LlamaModel> {
  try {
    return await llama.loadModel({ modelPath });
  } catch (error) {
    throw new Error(`${(error as Error).message}\n${llamaLogs.slice(-20).join("\n")}`);
  }
}

/** Greedy generation in a fresh context, capped because random weights rarely choose to stop. */
async function greedy(model: LlamaModel, prompt: Token[], maxTokens: number): Promise<Token[]> {
  const context = await model.createContext({ contextSize: 512, threads: 1 });
  try {
    const sequence = context.getSequence();
    const out: Token[] = [];
    for await (const token of sequence.evaluate(prompt, { temperature: 0 })) {
      out.push(token);
      if (out.length >= maxTokens) break;
    }
    return out;
  } finally {
    await context.dispose();
  }
}

function concatChunks(spec: GgufTensorSpec): Buffer {
  // Copy each chunk: producers reuse one buffer between chunks.
  return Buffer.concat([...spec.data()].map((c) => Buffer.from(c)));
}

describe("GGUF writer and reader", () => {
  it("reads back every metadata value, tensor shape and aligned offset the writer wrote", async () => {
    const metadata: GgufKeyValue[] = [
      { key: "test.u8", value: { type: GgufValueType.UINT8, value: 200 } },
      { key: "test.i8", value: { type: GgufValueType.INT8, value: -5 } },
      { key: "test.u16", value: { type: GgufValueType.UINT16, value: 60000 } },
      { key: "test.i16", value: { type: GgufValueType.INT16, value: -30000 } },
      { key: "test.u32", value: gguf.u32(4_000_000_000) },
      { key: "test.i32", value: gguf.i32(-123456) },
      { key: "test.f32", value: gguf.f32(1e-6) },
      { key: "test.f64", value: { type: GgufValueType.FLOAT64, value: Math.PI } },
      { key: "test.u64", value: { type: GgufValueType.UINT64, value: 2n ** 40n } },
      { key: "test.i64", value: { type: GgufValueType.INT64, value: -(2n ** 40n) } },
      { key: "test.bool", value: gguf.bool(true) },
      { key: "test.string", value: gguf.str("héllo <|fim_prefix|> ✓") },
      { key: "test.strings", value: gguf.strArray(["a", "", "Ġb", "日本"]) },
      { key: "test.empty", value: gguf.strArray([]) },
      { key: "test.ints", value: gguf.i32Array([1, -2, 2147483647]) },
    ];
    const tensors: GgufTensorSpec[] = [
      // 12 bytes, so the next tensor needs padding to stay aligned.
      { name: "a.f32", dims: [3], type: "F32", data: randomTensorData({ type: "F32", dims: [3], seed: 1, mean: 1, std: 0.1 }) },
      { name: "b.f16", dims: [5, 2], type: "F16", data: randomTensorData({ type: "F16", dims: [5, 2], seed: 2, std: 0.5 }) },
      { name: "c.q8", dims: [64, 3], type: "Q8_0", data: randomTensorData({ type: "Q8_0", dims: [64, 3], seed: 3, std: 0.1 }) },
      { name: "d.q4", dims: [32, 2, 3], type: "Q4_0", data: randomTensorData({ type: "Q4_0", dims: [32, 2, 3], seed: 4, std: 0.1 }) },
      { name: "e.f32", dims: [7], type: "F32", data: randomTensorData({ type: "F32", dims: [7], seed: 5, std: 0.1 }) },
    ];
    const out = path.join(tmpDir, "roundtrip.gguf");
    const result = await writeGgufFile(out, { metadata, tensors });
    const file = readGgufSync(out);

    expect(file.version).toBe(3);
    expect(file.alignment).toBe(32);
    // The writer adds general.alignment when the caller leaves it out.
    expect(file.metadata.get("general.alignment")).toEqual(gguf.u32(32));
    for (const { key, value } of metadata) {
      const expected = value.type === GgufValueType.FLOAT32 ? { ...value, value: Math.fround(value.value) } : value;
      expect(file.metadata.get(key), key).toEqual(expected);
    }
    expect([...file.metadata.keys()]).toEqual([...metadata.map((kv) => kv.key), "general.alignment"]);

    expect(file.dataOffset).toBe(result.dataOffset);
    expect(file.dataOffset % 32).toBe(0);
    expect(file.tensors.map((t) => t.name)).toEqual(tensors.map((t) => t.name));
    for (const [i, spec] of tensors.entries()) {
      const info = file.tensors[i]!;
      expect(info.dims).toEqual(spec.dims);
      expect(info.byteSize).toBe(tensorByteSize(spec.dims, spec.type));
      expect(info.offset % 32, spec.name).toBe(0);
      expect(readTensorBytes(out, file, spec.name).equals(concatChunks(spec)), spec.name).toBe(true);
    }
    expect(file.tensors.map((t) => t.type)).toEqual([0, 1, 8, 2, 0]);
    expect(file.tensors.map((t) => t.byteSize)).toEqual([12, 20, 6 * 34, 6 * 18, 28]);
    expect(file.tensors[1]!.offset).toBe(32);
    const last = file.tensors.at(-1)!;
    expect(file.fileSize).toBe(file.dataOffset + last.offset + last.byteSize!);
    expect(file.fileSize).toBe(result.bytes);
  });

  it("writes atomically: a failing producer leaves neither a temp file nor a changed target", async () => {
    const dir = await mkdtemp(path.join(tmpDir, "atomic-"));
    const target = path.join(dir, "model.gguf");
    await writeFile(target, "previous");
    const failing: GgufTensorSpec = {
      name: "x",
      dims: [64],
      type: "F32",
      data: function* () {
        yield new Uint8Array(128);
        throw new Error("producer failed");
      },
    };
    await expect(writeGgufFile(target, { metadata: [], tensors: [failing] })).rejects.toThrow("producer failed");
    expect(await readFile(target, "utf8")).toBe("previous");
    expect(await readdir(dir)).toEqual(["model.gguf"]);

    // A producer that yields too few bytes would shift every later tensor; it must be refused.
    const short: GgufTensorSpec = { name: "x", dims: [64], type: "F32", data: () => [new Uint8Array(100)] };
    await expect(writeGgufFile(target, { metadata: [], tensors: [short] })).rejects.toThrow(/expected 256/);
    expect(await readdir(dir)).toEqual(["model.gguf"]);

    const good: GgufTensorSpec = { name: "x", dims: [64], type: "F32", data: randomTensorData({ type: "F32", dims: [64], seed: 1, std: 1 }) };
    await writeGgufFile(target, { metadata: [], tensors: [good] });
    expect(readGgufSync(target).tensors[0]!.name).toBe("x");
    expect(await readdir(dir)).toEqual(["model.gguf"]);
  });

  it("refuses rows that do not hold whole quantization blocks", () => {
    expect(() => tensorByteSize([48, 2], "Q8_0")).toThrow(/multiple of 32/);
    expect(tensorByteSize([96, 2], "Q4_0")).toBe(6 * 18);
  });

  it("converts to IEEE binary16 with round-to-nearest-even", () => {
    expect(float32ToFloat16Bits(1)).toBe(0x3c00);
    expect(float32ToFloat16Bits(-2)).toBe(0xc000);
    expect(float32ToFloat16Bits(65504)).toBe(0x7bff);
    expect(float32ToFloat16Bits(65520)).toBe(0x7c00); // Rounds up to infinity.
    expect(float32ToFloat16Bits(2 ** -24)).toBe(0x0001); // Smallest subnormal.
    expect(float32ToFloat16Bits(2 ** -14)).toBe(0x0400); // Smallest normal.
    expect(float32ToFloat16Bits(1e-9)).toBe(0);
    expect(float32ToFloat16Bits(1 + 2 ** -11)).toBe(0x3c00); // A tie rounds to the even mantissa.
    expect(float32ToFloat16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(Number.isNaN(float16BitsToFloat32(float32ToFloat16Bits(NaN)))).toBe(true);
    // Normal values keep 11 significant bits; subnormals (below 2^-14) keep an absolute step of 2^-24.
    for (const v of [0.1, -3.14159, 0.0004, 1234.5]) {
      expect(Math.abs(float16BitsToFloat32(float32ToFloat16Bits(v)) - v) / Math.abs(v)).toBeLessThan(2 ** -11);
    }
    expect(Math.abs(float16BitsToFloat32(float32ToFloat16Bits(1e-5)) - 1e-5)).toBeLessThanOrEqual(2 ** -25);
  });
});

describe("generated Qwen2 models (byte vocabulary)", () => {
  let q8Path: string;
  let q4Path: string;
  let q8File: GgufFile;

  beforeAll(async () => {
    q8Path = await ensureGeneratedModel(tmpDir, { shape: TINY_SHAPE, quant: "Q8_0", vocab: "byte", seed: 1 });
    q4Path = await ensureGeneratedModel(tmpDir, { shape: TINY_SHAPE, quant: "Q4_0", vocab: "byte", seed: 1 });
    q8File = readGgufSync(q8Path);
  });

  it("has the shapes the rest of the project relies on", () => {
    expect(QWEN25_CODER_05B_SHAPE).toMatchObject({
      blockCount: 24,
      embeddingLength: 896,
      headCount: 14,
      headCountKv: 2,
      feedForwardLength: 4864,
      contextLength: 32768,
      ropeFreqBase: 1e6,
      rmsEps: 1e-6,
    });
    expect(TINY_SHAPE).toMatchObject({ embeddingLength: 64, headCount: 4, headCountKv: 2, feedForwardLength: 128, contextLength: 4096 });
    expect(QWEN_SPECIAL_TOKENS.map((t) => t.id)).toEqual([151643, 151644, 151645, 151659, 151660, 151661, 151662, 151663, 151664]);
  });

  it("writes the qwen2 hyper-parameters that llama.cpp needs", () => {
    const f = q8File;
    expect(getString(f, "general.architecture")).toBe("qwen2");
    expect(getString(f, "general.name")).toMatch(/tiny/);
    expect(getNumber(f, "general.file_type")).toBe(7); // LLAMA_FTYPE_MOSTLY_Q8_0
    expect(getNumber(f, "general.alignment")).toBe(32);
    expect(getNumber(f, "qwen2.block_count")).toBe(TINY_SHAPE.blockCount);
    expect(getNumber(f, "qwen2.context_length")).toBe(4096);
    expect(getNumber(f, "qwen2.embedding_length")).toBe(64);
    expect(getNumber(f, "qwen2.feed_forward_length")).toBe(128);
    expect(getNumber(f, "qwen2.attention.head_count")).toBe(4);
    expect(getNumber(f, "qwen2.attention.head_count_kv")).toBe(2);
    expect(getNumber(f, "qwen2.rope.freq_base")).toBe(1e6);
    expect(getNumber(f, "qwen2.attention.layer_norm_rms_epsilon")).toBeCloseTo(1e-6, 12);
    expect(getNumber(readGgufSync(q4Path), "general.file_type")).toBe(2); // LLAMA_FTYPE_MOSTLY_Q4_0
  });

  it("writes a byte vocabulary with the Qwen special tokens at compact ids", () => {
    const f = q8File;
    const tokens = getArray(f, "tokenizer.ggml.tokens") as string[];
    const types = getArray(f, "tokenizer.ggml.token_type") as number[];
    expect(getString(f, "tokenizer.ggml.model")).toBe("gpt2");
    expect(getString(f, "tokenizer.ggml.pre")).toBe("qwen2");
    expect(tokens).toHaveLength(256 + QWEN_SPECIAL_TOKENS.length);
    expect(new Set(tokens.slice(0, 256)).size).toBe(256);
    // GPT-2 byte-to-unicode form: printable bytes stand for themselves, the space is "Ġ", "\n" is "Ċ".
    expect(tokens[64]).toBe("a");
    expect(tokens[220]).toBe("Ġ");
    expect(tokens.indexOf("Ċ")).toBe(198);
    expect(tokens.slice(256)).toEqual(QWEN_SPECIAL_TOKENS.map((t) => t.text));
    expect(types.slice(0, 256).every((t) => t === 1)).toBe(true); // NORMAL
    expect(types.slice(256).every((t) => t === 3)).toBe(true); // CONTROL, as in the real vocabulary
    expect(getArray(f, "tokenizer.ggml.merges")).toEqual([]);
    // The real vocabulary stores token types as int32, and llama.cpp reads them as such.
    expect(f.metadata.get("tokenizer.ggml.token_type")).toMatchObject({ type: GgufValueType.ARRAY, itemType: GgufValueType.INT32 });
    expect(getNumber(f, "tokenizer.ggml.bos_token_id")).toBe(BYTE_VOCAB_ID["<|endoftext|>"]);
    expect(getNumber(f, "tokenizer.ggml.eos_token_id")).toBe(BYTE_VOCAB_ID["<|im_end|>"]);
    expect(getNumber(f, "tokenizer.ggml.padding_token_id")).toBe(BYTE_VOCAB_ID["<|endoftext|>"]);
    expect(getNumber(f, "tokenizer.ggml.fim_pre_token_id")).toBe(BYTE_VOCAB_ID["<|fim_prefix|>"]);
    expect(getNumber(f, "tokenizer.ggml.fim_suf_token_id")).toBe(BYTE_VOCAB_ID["<|fim_suffix|>"]);
    expect(getNumber(f, "tokenizer.ggml.fim_mid_token_id")).toBe(BYTE_VOCAB_ID["<|fim_middle|>"]);
    expect(getNumber(f, "tokenizer.ggml.fim_pad_token_id")).toBe(BYTE_VOCAB_ID["<|fim_pad|>"]);
    expect(getNumber(f, "tokenizer.ggml.fim_rep_token_id")).toBe(BYTE_VOCAB_ID["<|repo_name|>"]);
    expect(getNumber(f, "tokenizer.ggml.fim_sep_token_id")).toBe(BYTE_VOCAB_ID["<|file_sep|>"]);
  });

  it("writes the Qwen2 tensors with tied embeddings and aligned offsets", () => {
    const f = q8File;
    const byName = new Map(f.tensors.map((t) => [t.name, t]));
    expect(f.tensors).toHaveLength(2 + 12 * TINY_SHAPE.blockCount);
    expect(byName.has("output.weight")).toBe(false);
    expect(byName.get("token_embd.weight")).toMatchObject({ dims: [64, 265], type: 8 });
    expect(byName.get("output_norm.weight")).toMatchObject({ dims: [64], type: 0 });
    for (let i = 0; i < TINY_SHAPE.blockCount; i++) {
      const expected: Record<string, [number[], number]> = {
        attn_norm: [[64], 0],
        "attn_q.weight": [[64, 64], 8],
        "attn_q.bias": [[64], 0],
        "attn_k.weight": [[64, 32], 8], // 2 KV heads of 16 dimensions.
        "attn_k.bias": [[32], 0],
        "attn_v.weight": [[64, 32], 8],
        "attn_v.bias": [[32], 0],
        "attn_output.weight": [[64, 64], 8],
        ffn_norm: [[64], 0],
        "ffn_gate.weight": [[64, 128], 8],
        "ffn_up.weight": [[64, 128], 8],
        "ffn_down.weight": [[128, 64], 8],
      };
      for (const [suffix, [dims, type]] of Object.entries(expected)) {
        const name = `blk.${i}.${suffix.endsWith("norm") ? `${suffix}.weight` : suffix}`;
        expect(byName.get(name), name).toMatchObject({ dims, type });
      }
    }
    for (const t of f.tensors) expect(t.fileOffset % 32, t.name).toBe(0);
    const last = f.tensors.reduce((a, b) => (a.offset > b.offset ? a : b));
    expect(f.fileSize).toBe(last.fileOffset + last.byteSize!);
  });

  it("gives quantized blocks small finite fp16 scales, norm weights near 1 and biases near 0", () => {
    const embd = readTensorBytes(q8Path, q8File, "token_embd.weight");
    expect(embd.length % 34).toBe(0);
    for (let at = 0; at < embd.length; at += 34) {
      const scale = float16BitsToFloat32(embd.readUInt16LE(at));
      expect(Number.isFinite(scale) && scale > 0 && scale < 0.01).toBe(true);
    }
    const q4File = readGgufSync(q4Path);
    const down = readTensorBytes(q4Path, q4File, "blk.1.ffn_down.weight");
    for (let at = 0; at < down.length; at += 18) {
      const scale = float16BitsToFloat32(down.readUInt16LE(at));
      expect(Number.isFinite(scale) && scale > 0 && scale < 0.1).toBe(true);
    }
    const floats = (name: string) => {
      const b = readTensorBytes(q8Path, q8File, name);
      return Array.from({ length: b.length / 4 }, (_, i) => b.readFloatLE(i * 4));
    };
    for (const v of floats("blk.0.attn_norm.weight")) expect(Math.abs(v - 1)).toBeLessThan(0.05);
    for (const v of floats("output_norm.weight")) expect(Math.abs(v - 1)).toBeLessThan(0.05);
    for (const v of floats("blk.1.attn_k.bias")) expect(Math.abs(v)).toBeLessThan(0.05);
  });

  it("is byte-for-byte deterministic for a seed and differs for another seed", async () => {
    const again = path.join(tmpDir, "again-seed1.gguf");
    const other = path.join(tmpDir, "other-seed2.gguf");
    await writeQwen2Gguf(again, { shape: TINY_SHAPE, quant: "Q8_0", vocab: "byte", seed: 1 });
    await writeQwen2Gguf(other, { shape: TINY_SHAPE, quant: "Q8_0", vocab: "byte", seed: 2 });
    expect(await sha256(again)).toBe(await sha256(q8Path));
    expect(await sha256(other)).not.toBe(await sha256(q8Path));
  });

  it("ensureGeneratedModel names files by shape, quant, vocab and seed and reuses them", async () => {
    const name = path.basename(q8Path);
    expect(path.dirname(q8Path)).toBe(path.resolve(tmpDir));
    expect(name).toMatch(/tiny/);
    expect(name).toMatch(/Q8_0/);
    expect(name).toMatch(/byte/);
    expect(name).toMatch(/seed1\b/);
    expect(path.basename(q4Path)).toMatch(/Q4_0/);
    const before = await stat(q8Path);
    const [a, b] = await Promise.all([
      ensureGeneratedModel(tmpDir, { shape: TINY_SHAPE, quant: "Q8_0", vocab: "byte", seed: 1 }),
      ensureGeneratedModel(tmpDir, { shape: TINY_SHAPE, quant: "Q8_0", vocab: "byte", seed: 1 }),
    ]);
    expect(a).toBe(q8Path);
    expect(b).toBe(q8Path);
    expect((await stat(q8Path)).mtimeMs).toBe(before.mtimeMs);
    const seed2 = await ensureGeneratedModel(tmpDir, { shape: TINY_SHAPE, quant: "Q8_0", vocab: "byte", seed: 2 });
    expect(seed2).not.toBe(q8Path);
    expect(path.basename(seed2)).toMatch(/seed2\b/);
    // A shape with the same name but other numbers must not reuse the cached file.
    const wider = await ensureGeneratedModel(tmpDir, { shape: { ...TINY_SHAPE, feedForwardLength: 256 }, quant: "Q8_0", vocab: "byte", seed: 1 });
    expect(wider).not.toBe(q8Path);
  });
});

describe("node-llama-cpp runs the generated models", () => {
  const paths: Partial<Record<GgmlQuant, string>> = {};

  beforeAll(async () => {
    for (const quant of ["Q8_0", "Q4_0"] as const) {
      paths[quant] = await ensureGeneratedModel(tmpDir, { shape: TINY_SHAPE, quant, vocab: "byte", seed: 1 });
    }
  });

  it.each(["Q8_0", "Q4_0"] as const)("loads the tiny %s model, tokenizes FIM specials and generates", async (quant) => {
    const model = await loadModel(paths[quant]!);
    try {
      expect(model.fileInfo.metadata.general.architecture).toBe("qwen2");
      expect(model.fileInsights.trainContextSize).toBe(4096);
      expect(model.fileInsights.totalLayers).toBeGreaterThanOrEqual(TINY_SHAPE.blockCount);
      expect(model.trainContextSize).toBe(4096);
      expect(model.tokens.infill.prefix).toBe(BYTE_VOCAB_ID["<|fim_prefix|>"]);
      expect(model.tokens.infill.suffix).toBe(BYTE_VOCAB_ID["<|fim_suffix|>"]);
      expect(model.tokens.infill.middle).toBe(BYTE_VOCAB_ID["<|fim_middle|>"]);

      const fim = model.tokenize(FIM_PROMPT, true);
      expect(fim).toEqual([BYTE_VOCAB_ID["<|fim_prefix|>"], 64, BYTE_VOCAB_ID["<|fim_suffix|>"], 65, BYTE_VOCAB_ID["<|fim_middle|>"]]);
      // Without special-token parsing the markers are plain text, i.e. one byte token per character.
      const plain = model.tokenize(FIM_PROMPT, false);
      expect(plain).toHaveLength(FIM_PROMPT.length);
      expect(plain.every((t) => t < 256)).toBe(true);
      expect(model.detokenize(model.tokenize("héllo\n\tworld", false))).toBe("héllo\n\tworld");

      const generated = await greedy(model, fim, 6);
      expect(generated).toHaveLength(6);
      for (const t of generated) expect(t >= 0 && t < 265).toBe(true);
    } finally {
      await model.dispose();
    }
  });

  it("generates the same tokens greedily from a fixed-seed file, and other tokens from another seed", async () => {
    const twin = path.join(tmpDir, "twin-seed1.gguf");
    await writeQwen2Gguf(twin, { shape: TINY_SHAPE, quant: "Q8_0", vocab: "byte", seed: 1 });
    const otherPath = await ensureGeneratedModel(tmpDir, { shape: TINY_SHAPE, quant: "Q8_0", vocab: "byte", seed: 2 });
    const a = await loadModel(paths.Q8_0!);
    const b = await loadModel(twin);
    const c = await loadModel(otherPath);
    try {
      const prompt = a.tokenize("def add(a, b):\n    return", false);
      const first = await greedy(a, prompt, 8);
      expect(await greedy(a, prompt, 8)).toEqual(first);
      expect(await greedy(b, prompt, 8)).toEqual(first);
      // Greedy output of random weights still varies from token to token (it is not stuck on one token).
      expect(new Set(first).size).toBeGreaterThan(1);
      expect(await greedy(c, prompt, 8)).not.toEqual(first);
    } finally {
      await Promise.all([a.dispose(), b.dispose(), c.dispose()]);
    }
  });
});

/** llama.cpp's tokenizer vectors: inputs separated by "\n__ggml_vocab_test__\n", one line of ids per input. */
function readTokenizerCases(): { text: string; ids: number[] }[] {
  const inputs = readFileSync(tokenizerTestsInp, "utf8").split("\n__ggml_vocab_test__\n");
  // The file ends with a separator, which leaves one empty piece after it.
  if (inputs.at(-1) === "") inputs.pop();
  const lines = readFileSync(tokenizerTestsOut, "utf8").split("\n");
  if (lines.at(-1) === "") lines.pop();
  if (inputs.length !== lines.length) throw new Error(`${inputs.length} inputs but ${lines.length} expected outputs`);
  return inputs.map((text, i) => ({
    text,
    ids: lines[i]!.trim() === "" ? [] : lines[i]!.trim().split(/\s+/).map(Number),
  }));
}

describe.skipIf(!hasShared)("tiny model with the real Qwen2.5 vocabulary (needs ../shared/models, absent in a user's clone)", () => {
  let modelPath: string;
  let model: LlamaModel;

  beforeAll(async () => {
    modelPath = await ensureGeneratedModel(tmpDir, { shape: TINY_SHAPE, quant: "Q8_0", vocab: { vocabGgufPath: vocabPath }, seed: 1 });
    model = await loadModel(modelPath);
  });

  afterAll(async () => {
    await model?.dispose();
  });

  it("copies the whole tokenizer and adds explicit FIM ids", async () => {
    const source = readGgufSync(vocabPath);
    const generated = readGgufSync(modelPath);
    for (const [key, value] of source.metadata) {
      if (key.startsWith("tokenizer.")) expect(generated.metadata.get(key), key).toEqual(value);
    }
    expect(getArray(generated, "tokenizer.ggml.tokens")).toHaveLength(151936);
    expect(getArray(generated, "tokenizer.ggml.merges")).toHaveLength(151387);
    expect(getNumber(generated, "tokenizer.ggml.fim_pre_token_id")).toBe(151659);
    expect(getNumber(generated, "tokenizer.ggml.fim_suf_token_id")).toBe(151661);
    expect(getNumber(generated, "tokenizer.ggml.fim_mid_token_id")).toBe(151660);
    expect(generated.tensors.find((t) => t.name === "token_embd.weight")?.dims).toEqual([64, 151936]);

    // The byte vocabulary orders its byte tokens like the real one, so single bytes share ids.
    const realTokens = getArray(source, "tokenizer.ggml.tokens") as string[];
    const realTypes = getArray(source, "tokenizer.ggml.token_type") as number[];
    const bytePath = await ensureGeneratedModel(tmpDir, { shape: TINY_SHAPE, quant: "Q8_0", vocab: "byte", seed: 1 });
    const byteTokens = getArray(readGgufSync(bytePath), "tokenizer.ggml.tokens") as string[];
    expect(byteTokens.slice(0, 256)).toEqual(realTokens.slice(0, 256));
    for (const special of QWEN_SPECIAL_TOKENS) {
      expect(realTokens[special.id]).toBe(special.text);
      expect(realTypes[special.id]).toBe(3); // The byte vocabulary mirrors this CONTROL type.
    }
  });

  it("tokenizes the FIM prompt into the real special ids", () => {
    expect(model.tokenize(FIM_PROMPT, true)).toEqual([151659, 64, 151661, 65, 151660]);
    expect(model.tokens.infill.prefix).toBe(151659);
    expect(model.tokens.infill.suffix).toBe(151661);
    expect(model.tokens.infill.middle).toBe(151660);
  });

  it("reproduces llama.cpp's expected tokenizations of the qwen2 test vectors", () => {
    const cases = readTokenizerCases();
    expect(cases).toHaveLength(46);
    for (const { text, ids } of cases) {
      expect(model.tokenize(text, false), JSON.stringify(text)).toEqual(ids);
    }
  });

  it("generates with the real vocabulary", async () => {
    const generated = await greedy(model, model.tokenize(FIM_PROMPT, true), 4);
    expect(generated).toHaveLength(4);
    for (const t of generated) expect(t >= 0 && t < 151936).toBe(true);
  });
});
