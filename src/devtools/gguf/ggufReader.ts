/**
 * Reads the header of a GGUF file: metadata key/values (large string arrays included) and tensor
 * infos. Only the header is read, in chunks, so opening a 500 MB model costs a few megabytes of
 * reads at most. Values keep their GGUF type tags so they can be copied into another file as is.
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import {
  GGML_TYPE_LAYOUT,
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GgufValueType,
  alignUp,
  ggmlTypeName,
  type GgufMetadataValue,
  type GgufScalar,
  type GgufScalarType,
} from "./ggufWriter.js";

export interface GgufTensorInfo {
  name: string;
  /** Dimensions in ggml order (ne0 first). */
  dims: number[];
  /** The ggml type number. */
  type: number;
  /** Offset relative to the start of the data section, as stored in the file. */
  offset: number;
  /** Offset from the start of the file. */
  fileOffset: number;
  /** Byte size when the type is one this project knows; undefined otherwise. */
  byteSize: number | undefined;
}

export interface GgufFile {
  version: number;
  alignment: number;
  /** Metadata in file order. */
  metadata: Map<string, GgufMetadataValue>;
  tensors: GgufTensorInfo[];
  /** Absolute offset of the (aligned) data section. */
  dataOffset: number;
  fileSize: number;
}

/** A forward-only reader over a file descriptor that keeps a window of bytes in memory. */
class ChunkedReader {
  private buf = Buffer.alloc(1 << 20);
  private start = 0; // File offset of buf[0].
  private end = 0; // Number of valid bytes in buf.
  private pos = 0; // Read position within buf.

  private readonly fd: number;
  private readonly fileSize: number;

  constructor(fd: number, fileSize: number) {
    this.fd = fd;
    this.fileSize = fileSize;
  }

  get offset(): number {
    return this.start + this.pos;
  }

  private need(n: number): void {
    if (this.pos + n <= this.end) return;
    if (this.offset + n > this.fileSize) throw new Error(`unexpected end of GGUF file at offset ${this.offset}`);
    // Move the unread bytes to the front, grow if one item is larger than the window, then refill.
    const unread = this.end - this.pos;
    if (n > this.buf.length) {
      const next = Buffer.alloc(Math.max(n, this.buf.length * 2));
      this.buf.copy(next, 0, this.pos, this.end);
      this.buf = next;
    } else {
      this.buf.copy(this.buf, 0, this.pos, this.end);
    }
    this.start += this.pos;
    this.pos = 0;
    this.end = unread;
    while (this.end < n) {
      const got = readSync(this.fd, this.buf, this.end, this.buf.length - this.end, this.start + this.end);
      if (got === 0) throw new Error(`unexpected end of GGUF file at offset ${this.offset}`);
      this.end += got;
    }
  }

  u8(): number {
    this.need(1);
    return this.buf.readUInt8(this.pos++);
  }
  i8(): number {
    this.need(1);
    return this.buf.readInt8(this.pos++);
  }
  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16LE(this.pos);
    this.pos += 2;
    return v;
  }
  i16(): number {
    this.need(2);
    const v = this.buf.readInt16LE(this.pos);
    this.pos += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }
  i32(): number {
    this.need(4);
    const v = this.buf.readInt32LE(this.pos);
    this.pos += 4;
    return v;
  }
  f32(): number {
    this.need(4);
    const v = this.buf.readFloatLE(this.pos);
    this.pos += 4;
    return v;
  }
  f64(): number {
    this.need(8);
    const v = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return v;
  }
  u64(): bigint {
    this.need(8);
    const v = this.buf.readBigUInt64LE(this.pos);
    this.pos += 8;
    return v;
  }
  i64(): bigint {
    this.need(8);
    const v = this.buf.readBigInt64LE(this.pos);
    this.pos += 8;
    return v;
  }
  /** A uint64 used as a count, size or offset; must fit in a JS number. */
  size(): number {
    const v = this.u64();
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`GGUF size ${v} too large at offset ${this.offset}`);
    return Number(v);
  }
  str(): string {
    const n = this.size();
    this.need(n);
    const s = this.buf.toString("utf8", this.pos, this.pos + n);
    this.pos += n;
    return s;
  }
}

function readScalar(r: ChunkedReader, type: number): GgufScalar {
  switch (type) {
    case GgufValueType.UINT8:
      return r.u8();
    case GgufValueType.INT8:
      return r.i8();
    case GgufValueType.UINT16:
      return r.u16();
    case GgufValueType.INT16:
      return r.i16();
    case GgufValueType.UINT32:
      return r.u32();
    case GgufValueType.INT32:
      return r.i32();
    case GgufValueType.FLOAT32:
      return r.f32();
    case GgufValueType.FLOAT64:
      return r.f64();
    case GgufValueType.UINT64:
      return r.u64();
    case GgufValueType.INT64:
      return r.i64();
    case GgufValueType.BOOL:
      return r.u8() !== 0;
    case GgufValueType.STRING:
      return r.str();
    default:
      throw new Error(`unsupported GGUF value type ${type} at offset ${r.offset}`);
  }
}

function readValue(r: ChunkedReader, type: number): GgufMetadataValue {
  if (type === GgufValueType.ARRAY) {
    const itemType = r.u32();
    // Nested arrays are legal GGUF but no llama.cpp model uses them; reject them explicitly.
    if (itemType === GgufValueType.ARRAY) throw new Error(`nested GGUF arrays are not supported (offset ${r.offset})`);
    const count = r.size();
    const value: GgufScalar[] = new Array(count);
    for (let i = 0; i < count; i++) value[i] = readScalar(r, itemType);
    return { type: GgufValueType.ARRAY, itemType: itemType as GgufScalarType, value };
  }
  // The scalar's JS type follows from the tag, which is what the union expresses.
  return { type, value: readScalar(r, type) } as GgufMetadataValue;
}

/** Reads a GGUF file's header synchronously. */
export function readGgufSync(filePath: string): GgufFile {
  const fd = openSync(filePath, "r");
  try {
    const fileSize = fstatSync(fd).size;
    const r = new ChunkedReader(fd, fileSize);
    const magic = r.u32();
    if (magic !== GGUF_MAGIC) throw new Error(`${filePath} is not a GGUF file`);
    const version = r.u32();
    if (version !== 2 && version !== 3) throw new Error(`${filePath}: unsupported GGUF version ${version}`);
    const tensorCount = r.size();
    const kvCount = r.size();
    const metadata = new Map<string, GgufMetadataValue>();
    for (let i = 0; i < kvCount; i++) {
      const key = r.str();
      const type = r.u32();
      metadata.set(key, readValue(r, type));
    }
    const alignmentValue = metadata.get("general.alignment");
    const alignment =
      alignmentValue !== undefined && alignmentValue.type === GgufValueType.UINT32 ? alignmentValue.value : GGUF_DEFAULT_ALIGNMENT;
    const infos: Omit<GgufTensorInfo, "fileOffset">[] = [];
    for (let i = 0; i < tensorCount; i++) {
      const name = r.str();
      const nDims = r.u32();
      const dims: number[] = [];
      for (let d = 0; d < nDims; d++) dims.push(r.size());
      const type = r.u32();
      const offset = r.size();
      const typeName = ggmlTypeName(type);
      let byteSize: number | undefined;
      if (typeName !== undefined) {
        const { blockSize, blockBytes } = GGML_TYPE_LAYOUT[typeName];
        byteSize = (dims.reduce((a, b) => a * b, 1) / blockSize) * blockBytes;
      }
      infos.push({ name, dims, type, offset, byteSize });
    }
    const dataOffset = alignUp(r.offset, alignment);
    const tensors = infos.map((t) => ({ ...t, fileOffset: dataOffset + t.offset }));
    return { version, alignment, metadata, tensors, dataOffset, fileSize };
  } finally {
    closeSync(fd);
  }
}

/** Reads a GGUF file's header; async for callers that prefer it (the work itself is synchronous). */
export async function readGguf(filePath: string): Promise<GgufFile> {
  return readGgufSync(filePath);
}

/** Reads one tensor's raw bytes (small tensors only: tests use this to check generated data). */
export function readTensorBytes(filePath: string, file: GgufFile, tensorName: string): Buffer {
  const t = file.tensors.find((x) => x.name === tensorName);
  if (t === undefined) throw new Error(`no tensor ${tensorName} in ${filePath}`);
  if (t.byteSize === undefined) throw new Error(`tensor ${tensorName} has a type (${t.type}) this reader cannot size`);
  const fd = openSync(filePath, "r");
  try {
    const buf = Buffer.alloc(t.byteSize);
    let done = 0;
    while (done < buf.length) {
      const got = readSync(fd, buf, done, buf.length - done, t.fileOffset + done);
      if (got === 0) throw new Error(`tensor ${tensorName} runs past the end of ${filePath}`);
      done += got;
    }
    return buf;
  } finally {
    closeSync(fd);
  }
}

// Typed accessors, so callers get a clear error instead of a silently wrong value.

export function getString(file: GgufFile, key: string): string | undefined {
  const v = file.metadata.get(key);
  if (v === undefined) return undefined;
  if (v.type !== GgufValueType.STRING) throw new Error(`metadata ${key} is not a string`);
  return v.value;
}

export function getNumber(file: GgufFile, key: string): number | undefined {
  const v = file.metadata.get(key);
  if (v === undefined) return undefined;
  if (typeof v.value === "bigint") return Number(v.value);
  if (typeof v.value !== "number") throw new Error(`metadata ${key} is not a number`);
  return v.value;
}

export function getArray(file: GgufFile, key: string): readonly GgufScalar[] | undefined {
  const v = file.metadata.get(key);
  if (v === undefined) return undefined;
  if (v.type !== GgufValueType.ARRAY) throw new Error(`metadata ${key} is not an array`);
  return v.value;
}
