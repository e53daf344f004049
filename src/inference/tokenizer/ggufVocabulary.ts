/**
 * Reads what a byte-level BPE tokenizer needs from a GGUF file's metadata (model, pre-tokenizer,
 * merges), without node-llama-cpp: the metadata sits at the start of the file and is read in
 * chunks, every other value skipped. Used where a process needs token counts but no model.
 */
import fs from "node:fs/promises";

export interface GgufVocabulary {
  /** `tokenizer.ggml.model` ("gpt2" for byte-level BPE). */
  model: string;
  /** `tokenizer.ggml.pre` (the pre-tokenizer's name, e.g. "qwen2"). */
  pre: string;
  /** `tokenizer.ggml.merges`, in rank order ("a b"). */
  merges: string[];
}

/** Bounds on what a header may declare, so a corrupt or hostile file cannot exhaust memory. */
const MAX_KEYS = 100_000;
const MAX_STRING_BYTES = 64 * 1024 * 1024;
const MAX_ARRAY_ITEMS = 16 * 1024 * 1024;
const CHUNK = 1 << 20;

const SCALAR_BYTES: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
const STRING = 8;
const ARRAY = 9;

class ChunkReader {
  private buffer = Buffer.alloc(0);
  private start = 0;
  private position = 0;

  constructor(private readonly file: fs.FileHandle) {}

  /** Makes `n` bytes available at the cursor; throws at the end of the file. */
  private async need(n: number): Promise<void> {
    while (this.buffer.length - this.start < n) {
      const chunk = Buffer.alloc(Math.max(CHUNK, n));
      const { bytesRead } = await this.file.read(chunk, 0, chunk.length, this.position);
      if (bytesRead === 0) throw new Error("the GGUF metadata ends early");
      this.position += bytesRead;
      this.buffer = Buffer.concat([this.buffer.subarray(this.start), chunk.subarray(0, bytesRead)]);
      this.start = 0;
    }
  }

  async u32(): Promise<number> {
    await this.need(4);
    const v = this.buffer.readUInt32LE(this.start);
    this.start += 4;
    return v;
  }

  async u64(): Promise<number> {
    await this.need(8);
    const v = this.buffer.readBigUInt64LE(this.start);
    this.start += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error("a GGUF size is out of range");
    return Number(v);
  }

  async string(): Promise<string> {
    const length = await this.u64();
    if (length > MAX_STRING_BYTES) throw new Error("a GGUF string is too long");
    await this.need(length);
    const v = this.buffer.toString("utf8", this.start, this.start + length);
    this.start += length;
    return v;
  }

  async skip(n: number): Promise<void> {
    await this.need(n);
    this.start += n;
  }
}

async function skipValue(reader: ChunkReader, type: number): Promise<void> {
  if (type === STRING) {
    const length = await reader.u64();
    if (length > MAX_STRING_BYTES) throw new Error("a GGUF string is too long");
    await reader.skip(length);
    return;
  }
  if (type === ARRAY) {
    const itemType = await reader.u32();
    const count = await reader.u64();
    if (count > MAX_ARRAY_ITEMS) throw new Error("a GGUF array is too long");
    if (itemType in SCALAR_BYTES) await reader.skip(SCALAR_BYTES[itemType]! * count);
    else for (let i = 0; i < count; i++) await skipValue(reader, itemType);
    return;
  }
  const size = SCALAR_BYTES[type];
  if (size === undefined) throw new Error(`unknown GGUF value type ${type}`);
  await reader.skip(size);
}

export async function readGgufVocabulary(filePath: string): Promise<GgufVocabulary> {
  const file = await fs.open(filePath, "r");
  try {
    const reader = new ChunkReader(file);
    if ((await reader.u32()) !== 0x46554747) throw new Error(`${filePath} is not a GGUF file`);
    const version = await reader.u32();
    if (version < 2) throw new Error(`GGUF version ${version} is not supported`);
    await reader.u64(); // tensor count
    const keys = await reader.u64();
    if (keys > MAX_KEYS) throw new Error("the GGUF header declares too many keys");
    const out: GgufVocabulary = { model: "", pre: "", merges: [] };
    for (let i = 0; i < keys; i++) {
      const key = await reader.string();
      const type = await reader.u32();
      if ((key === "tokenizer.ggml.model" || key === "tokenizer.ggml.pre") && type === STRING) {
        out[key === "tokenizer.ggml.model" ? "model" : "pre"] = await reader.string();
      } else if (key === "tokenizer.ggml.merges" && type === ARRAY) {
        const itemType = await reader.u32();
        const count = await reader.u64();
        if (itemType !== STRING || count > MAX_ARRAY_ITEMS) throw new Error("tokenizer.ggml.merges is not a list of strings");
        for (let j = 0; j < count; j++) out.merges.push(await reader.string());
      } else {
        await skipValue(reader, type);
      }
    }
    return out;
  } finally {
    await file.close();
  }
}
