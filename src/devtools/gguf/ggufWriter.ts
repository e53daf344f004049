/**
 * A small GGUF v3 writer for generating test models.
 *
 * The header (metadata and tensor infos) is built in memory because even a full 151,936-token
 * vocabulary only takes a few megabytes, but tensor data is produced chunk by chunk and streamed to
 * disk, so a ~500 MB model never has to fit in memory. Files are written to a temporary file in the
 * target folder and renamed into place, so a reader never sees a half-written model.
 */
import { randomBytes } from "node:crypto";
import { open, rename, unlink } from "node:fs/promises";
import path from "node:path";

/** The four bytes "GGUF" read as a little-endian uint32. */
export const GGUF_MAGIC = 0x46554747;
export const GGUF_VERSION = 3;
/** llama.cpp assumes 32 when general.alignment is absent; the writer always writes the key anyway. */
export const GGUF_DEFAULT_ALIGNMENT = 32;

/** Value type tags of GGUF metadata, as numbered in the GGUF specification. */
export const GgufValueType = {
  UINT8: 0,
  INT8: 1,
  UINT16: 2,
  INT16: 3,
  UINT32: 4,
  INT32: 5,
  FLOAT32: 6,
  BOOL: 7,
  STRING: 8,
  ARRAY: 9,
  UINT64: 10,
  INT64: 11,
  FLOAT64: 12,
} as const;
export type GgufValueType = (typeof GgufValueType)[keyof typeof GgufValueType];

/** The ggml tensor types this writer can produce, with their ggml enum numbers. */
export const GgmlType = {
  F32: 0,
  F16: 1,
  Q4_0: 2,
  Q8_0: 8,
} as const;
export type GgmlTypeName = keyof typeof GgmlType;
export type GgmlTypeId = (typeof GgmlType)[GgmlTypeName];

/** Values per block and bytes per block of each supported tensor type. */
export const GGML_TYPE_LAYOUT: Readonly<Record<GgmlTypeName, { blockSize: number; blockBytes: number }>> = {
  F32: { blockSize: 1, blockBytes: 4 },
  F16: { blockSize: 1, blockBytes: 2 },
  // Q4_0: one fp16 scale followed by 16 bytes holding 32 four-bit values.
  Q4_0: { blockSize: 32, blockBytes: 18 },
  // Q8_0: one fp16 scale followed by 32 signed bytes.
  Q8_0: { blockSize: 32, blockBytes: 34 },
};

export function ggmlTypeName(id: number): GgmlTypeName | undefined {
  for (const [name, value] of Object.entries(GgmlType)) {
    if (value === id) return name as GgmlTypeName;
  }
  return undefined;
}

/** GGUF token types (tokenizer.ggml.token_type), as llama.cpp numbers them. */
export const GgufTokenType = {
  UNDEFINED: 0,
  NORMAL: 1,
  UNKNOWN: 2,
  CONTROL: 3,
  USER_DEFINED: 4,
  UNUSED: 5,
  BYTE: 6,
} as const;

type NumberScalarType =
  | typeof GgufValueType.UINT8
  | typeof GgufValueType.INT8
  | typeof GgufValueType.UINT16
  | typeof GgufValueType.INT16
  | typeof GgufValueType.UINT32
  | typeof GgufValueType.INT32
  | typeof GgufValueType.FLOAT32
  | typeof GgufValueType.FLOAT64;
type BigIntScalarType = typeof GgufValueType.UINT64 | typeof GgufValueType.INT64;
export type GgufScalarType = NumberScalarType | BigIntScalarType | typeof GgufValueType.BOOL | typeof GgufValueType.STRING;
export type GgufScalar = number | bigint | boolean | string;

/** A typed metadata value; the type tag is kept so that values can be copied between files unchanged. */
export type GgufMetadataValue =
  | { type: NumberScalarType; value: number }
  | { type: BigIntScalarType; value: bigint }
  | { type: typeof GgufValueType.BOOL; value: boolean }
  | { type: typeof GgufValueType.STRING; value: string }
  | { type: typeof GgufValueType.ARRAY; itemType: GgufScalarType; value: readonly GgufScalar[] };

export interface GgufKeyValue {
  key: string;
  value: GgufMetadataValue;
}

/** Shorthand constructors, so that callers do not have to spell out type tags. */
export const gguf = {
  u32: (value: number): GgufMetadataValue => ({ type: GgufValueType.UINT32, value }),
  i32: (value: number): GgufMetadataValue => ({ type: GgufValueType.INT32, value }),
  f32: (value: number): GgufMetadataValue => ({ type: GgufValueType.FLOAT32, value }),
  bool: (value: boolean): GgufMetadataValue => ({ type: GgufValueType.BOOL, value }),
  str: (value: string): GgufMetadataValue => ({ type: GgufValueType.STRING, value }),
  strArray: (value: readonly string[]): GgufMetadataValue => ({ type: GgufValueType.ARRAY, itemType: GgufValueType.STRING, value }),
  i32Array: (value: readonly number[]): GgufMetadataValue => ({ type: GgufValueType.ARRAY, itemType: GgufValueType.INT32, value }),
};

/** A tensor to write: dims are in ggml order (ne0, the contiguous row length, first). */
export interface GgufTensorSpec {
  name: string;
  dims: readonly number[];
  type: GgmlTypeName;
  /**
   * Produces the tensor's bytes in chunks. The writer awaits each chunk's write before asking for
   * the next one, so a producer may reuse one buffer for every chunk.
   */
  data: () => Iterable<Uint8Array>;
}

export interface WriteGgufOptions {
  metadata: readonly GgufKeyValue[];
  tensors: readonly GgufTensorSpec[];
  /** Called after each chunk, for progress reports of large files. */
  onProgress?: (writtenBytes: number, totalBytes: number) => void;
}

export interface WriteGgufResult {
  bytes: number;
  dataOffset: number;
}

export function tensorElementCount(dims: readonly number[]): number {
  let count = 1;
  for (const d of dims) {
    if (!Number.isSafeInteger(d) || d <= 0) throw new Error(`invalid tensor dimension ${d}`);
    count *= d;
  }
  return count;
}

export function tensorByteSize(dims: readonly number[], type: GgmlTypeName): number {
  const { blockSize, blockBytes } = GGML_TYPE_LAYOUT[type];
  // ggml quantizes along ne0, so each row must hold a whole number of blocks.
  if (dims.length === 0 || dims[0]! % blockSize !== 0) {
    throw new Error(`a ${type} tensor needs ne0 to be a multiple of ${blockSize}, got [${dims.join(", ")}]`);
  }
  return (tensorElementCount(dims) / blockSize) * blockBytes;
}

export function alignUp(offset: number, alignment: number): number {
  return Math.ceil(offset / alignment) * alignment;
}

/** A growable little-endian byte buffer for the header. */
class ByteBuilder {
  private buf = Buffer.alloc(64 * 1024);
  length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = Buffer.alloc(size);
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }

  u8(v: number): void {
    this.reserve(1);
    this.buf.writeUInt8(v, this.length);
    this.length += 1;
  }
  i8(v: number): void {
    this.reserve(1);
    this.buf.writeInt8(v, this.length);
    this.length += 1;
  }
  u16(v: number): void {
    this.reserve(2);
    this.buf.writeUInt16LE(v, this.length);
    this.length += 2;
  }
  i16(v: number): void {
    this.reserve(2);
    this.buf.writeInt16LE(v, this.length);
    this.length += 2;
  }
  u32(v: number): void {
    this.reserve(4);
    this.buf.writeUInt32LE(v, this.length);
    this.length += 4;
  }
  i32(v: number): void {
    this.reserve(4);
    this.buf.writeInt32LE(v, this.length);
    this.length += 4;
  }
  f32(v: number): void {
    this.reserve(4);
    this.buf.writeFloatLE(v, this.length);
    this.length += 4;
  }
  f64(v: number): void {
    this.reserve(8);
    this.buf.writeDoubleLE(v, this.length);
    this.length += 8;
  }
  u64(v: number | bigint): void {
    this.reserve(8);
    this.buf.writeBigUInt64LE(BigInt(v), this.length);
    this.length += 8;
  }
  i64(v: bigint): void {
    this.reserve(8);
    this.buf.writeBigInt64LE(v, this.length);
    this.length += 8;
  }
  str(s: string): void {
    const n = Buffer.byteLength(s, "utf8");
    this.u64(n);
    this.reserve(n);
    this.buf.write(s, this.length, n, "utf8");
    this.length += n;
  }
  zeros(n: number): void {
    this.reserve(n);
    this.buf.fill(0, this.length, this.length + n);
    this.length += n;
  }
  bytes(): Buffer {
    return this.buf.subarray(0, this.length);
  }
}

function writeScalar(out: ByteBuilder, type: GgufScalarType, value: GgufScalar, key: string): void {
  const fail = (): never => {
    throw new Error(`metadata ${key}: value ${String(value)} does not fit type ${type}`);
  };
  switch (type) {
    case GgufValueType.UINT8:
      return typeof value === "number" ? out.u8(value) : fail();
    case GgufValueType.INT8:
      return typeof value === "number" ? out.i8(value) : fail();
    case GgufValueType.UINT16:
      return typeof value === "number" ? out.u16(value) : fail();
    case GgufValueType.INT16:
      return typeof value === "number" ? out.i16(value) : fail();
    case GgufValueType.UINT32:
      return typeof value === "number" ? out.u32(value) : fail();
    case GgufValueType.INT32:
      return typeof value === "number" ? out.i32(value) : fail();
    case GgufValueType.FLOAT32:
      return typeof value === "number" ? out.f32(value) : fail();
    case GgufValueType.FLOAT64:
      return typeof value === "number" ? out.f64(value) : fail();
    case GgufValueType.UINT64:
      return typeof value === "bigint" ? out.u64(value) : fail();
    case GgufValueType.INT64:
      return typeof value === "bigint" ? out.i64(value) : fail();
    case GgufValueType.BOOL:
      return typeof value === "boolean" ? out.u8(value ? 1 : 0) : fail();
    case GgufValueType.STRING:
      return typeof value === "string" ? out.str(value) : fail();
  }
}

function writeValue(out: ByteBuilder, key: string, v: GgufMetadataValue): void {
  out.u32(v.type);
  if (v.type === GgufValueType.ARRAY) {
    out.u32(v.itemType);
    out.u64(v.value.length);
    for (const item of v.value) writeScalar(out, v.itemType, item, key);
  } else {
    writeScalar(out, v.type, v.value, key);
  }
}

/**
 * Builds the header: magic, version, counts, metadata, tensor infos and the padding up to the
 * data section. Returns the header bytes and each tensor's offset relative to the data section.
 */
function buildHeader(metadata: readonly GgufKeyValue[], tensors: readonly GgufTensorSpec[], alignment: number) {
  const out = new ByteBuilder();
  out.u32(GGUF_MAGIC);
  out.u32(GGUF_VERSION);
  out.u64(tensors.length);
  out.u64(metadata.length);
  const seen = new Set<string>();
  for (const { key, value } of metadata) {
    // llama.cpp rejects files with duplicate keys, so catch them here rather than at load time.
    if (seen.has(key)) throw new Error(`duplicate metadata key ${key}`);
    seen.add(key);
    out.str(key);
    writeValue(out, key, value);
  }
  const offsets: number[] = [];
  const sizes: number[] = [];
  let offset = 0;
  const names = new Set<string>();
  for (const t of tensors) {
    if (names.has(t.name)) throw new Error(`duplicate tensor ${t.name}`);
    names.add(t.name);
    const size = tensorByteSize(t.dims, t.type);
    out.str(t.name);
    out.u32(t.dims.length);
    for (const d of t.dims) out.u64(d);
    out.u32(GgmlType[t.type]);
    out.u64(offset);
    offsets.push(offset);
    sizes.push(size);
    offset = alignUp(offset + size, alignment);
  }
  const dataOffset = alignUp(out.length, alignment);
  out.zeros(dataOffset - out.length);
  const lastEnd = tensors.length === 0 ? 0 : offsets[offsets.length - 1]! + sizes[sizes.length - 1]!;
  return { header: out.bytes(), dataOffset, offsets, sizes, totalBytes: dataOffset + lastEnd };
}

/**
 * Writes a GGUF v3 file atomically: everything goes to a temporary file beside outPath, which is
 * renamed over outPath only once it is complete and flushed. general.alignment is added when the
 * metadata lacks it, so readers never have to rely on the default.
 */
export async function writeGgufFile(outPath: string, options: WriteGgufOptions): Promise<WriteGgufResult> {
  const metadata = [...options.metadata];
  const alignmentKv = metadata.find((kv) => kv.key === "general.alignment");
  let alignment = GGUF_DEFAULT_ALIGNMENT;
  if (alignmentKv === undefined) {
    metadata.push({ key: "general.alignment", value: gguf.u32(alignment) });
  } else {
    const v = alignmentKv.value;
    if (v.type !== GgufValueType.UINT32 || v.value <= 0 || v.value % 8 !== 0) {
      throw new Error("general.alignment must be a uint32 multiple of 8");
    }
    alignment = v.value;
  }
  const { header, dataOffset, offsets, sizes, totalBytes } = buildHeader(metadata, options.tensors, alignment);

  const dir = path.dirname(path.resolve(outPath));
  const tmpPath = path.join(dir, `.${path.basename(outPath)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
  const fh = await open(tmpPath, "wx");
  let written = 0;
  let renamed = false;
  try {
    const put = async (chunk: Uint8Array): Promise<void> => {
      let done = 0;
      while (done < chunk.byteLength) {
        const { bytesWritten } = await fh.write(chunk, done, chunk.byteLength - done, written + done);
        done += bytesWritten;
      }
      written += chunk.byteLength;
      options.onProgress?.(written, totalBytes);
    };
    await put(header);
    const padding = new Uint8Array(alignment);
    for (let i = 0; i < options.tensors.length; i++) {
      const t = options.tensors[i]!;
      const start = dataOffset + offsets[i]!;
      if (written < start) await put(padding.subarray(0, start - written));
      let produced = 0;
      for (const chunk of t.data()) {
        produced += chunk.byteLength;
        if (produced > sizes[i]!) break;
        await put(chunk);
      }
      // A producer that yields the wrong amount would silently shift every later tensor.
      if (produced !== sizes[i]) {
        throw new Error(`tensor ${t.name}: producer gave ${produced} bytes, expected ${sizes[i]}`);
      }
    }
    if (written !== totalBytes) throw new Error(`wrote ${written} bytes, expected ${totalBytes}`);
    await fh.sync();
    await fh.close();
    await rename(tmpPath, outPath);
    renamed = true;
  } finally {
    if (!renamed) {
      await fh.close().catch(() => {});
      await unlink(tmpPath).catch(() => {});
    }
  }
  return { bytes: totalBytes, dataOffset };
}
