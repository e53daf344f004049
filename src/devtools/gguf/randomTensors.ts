/**
 * Seeded random tensor data for generated test models, and the half-precision conversion it
 * needs: the same seed and tensor name always give the same bytes, so a generated model file is
 * reproducible and its cache key can be its parameters.
 */
import { GGML_TYPE_LAYOUT, alignUp, tensorByteSize, type GgmlTypeName } from "./ggufWriter.js";
const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** Converts a number to IEEE binary16 bits with round-to-nearest-even, as ggml's converter does. */
export function float32ToFloat16Bits(value: number): number {
  f32Scratch[0] = value;
  const x = u32Scratch[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // The result is subnormal (or zero): shift the significand, implicit bit included, into place.
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && (half & 1) !== 0)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent (up to infinity).
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1) !== 0)) half++;
  return sign | half;
}

export function float16BitsToFloat32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >>> 10) & 0x1f;
  const mant = bits & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant === 0 ? sign * Infinity : NaN;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/**
 * A small, fast, seeded PRNG (the mulberry32 construction): 32 bits of state and a handful of
 * integer operations per output, which matters when filling hundreds of megabytes. It is not
 * meant to be statistically strong, only deterministic and well spread.
 */
export class SeededRandom {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A uniformly distributed unsigned 32-bit integer. */
  nextU32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** A uniformly distributed number in [0, 1). */
  nextFloat(): number {
    return this.nextU32() / 4294967296;
  }

  /** Fills a Uint32Array with random words; the hot loop of weight generation. */
  fillU32(words: Uint32Array): void {
    let s = this.state;
    for (let i = 0; i < words.length; i++) {
      s = (s + 0x6d2b79f5) >>> 0;
      let t = s;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      words[i] = (t ^ (t >>> 14)) >>> 0;
    }
    this.state = s;
  }
}

/** Derives an independent seed for a named stream, so each tensor's data does not depend on write order. */
export function deriveSeed(seed: number, name: string): number {
  // FNV-1a over the name, mixed with the seed, then one avalanche round.
  let h = (0x811c9dc5 ^ Math.imul(seed >>> 0, 0x9e3779b1)) >>> 0;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  return h >>> 0;
}

export interface RandomTensorOptions {
  type: GgmlTypeName;
  dims: readonly number[];
  seed: number;
  /** Values are drawn around this centre (1.0 for norm weights, 0 for weights and biases). */
  mean?: number;
  /** Approximate standard deviation of the values. */
  std: number;
}

/** Standard deviation of a uniform integer on [lo, hi], used to pick quantization scales. */
function uniformIntStd(lo: number, hi: number): number {
  const n = hi - lo + 1;
  return Math.sqrt((n * n - 1) / 12);
}

const CHUNK_BYTES = 4 * 1024 * 1024;

/**
 * Returns a chunk producer of seeded random data for one tensor. Quantized tensors get random
 * quants with small, finite, positive fp16 scales picked so that the dequantized values have
 * roughly the requested spread; float tensors get uniform values. The producer reuses one buffer.
 */
export function randomTensorData(options: RandomTensorOptions): () => Iterable<Uint8Array> {
  const { type, dims, seed, std } = options;
  const mean = options.mean ?? 0;
  const total = tensorByteSize(dims, type);
  const { blockBytes } = GGML_TYPE_LAYOUT[type];
  return function* produce(): Iterable<Uint8Array> {
    const rng = new SeededRandom(seed);
    if (type === "Q8_0" || type === "Q4_0") {
      if (mean !== 0) throw new Error("quantized random tensors are centred on zero");
      const quantStd = type === "Q8_0" ? uniformIntStd(-128, 127) : uniformIntStd(-8, 7);
      // A table of 64 scales between 0.75x and 1.25x the nominal one varies the blocks a little
      // without a float-to-half conversion per block.
      const scales = new Uint16Array(64);
      for (let i = 0; i < scales.length; i++) {
        scales[i] = float32ToFloat16Bits((std / quantStd) * (0.75 + (0.5 * i) / (scales.length - 1)));
      }
      // Small tensors get a buffer of their own size, so a tiny model does not zero megabytes per tensor.
      const blocksPerChunk = Math.min(Math.floor(CHUNK_BYTES / blockBytes), total / blockBytes);
      const buf = Buffer.alloc(alignUp(blocksPerChunk * blockBytes, 4));
      const words = new Uint32Array(buf.buffer, buf.byteOffset, buf.length / 4);
      let remaining = total / blockBytes;
      while (remaining > 0) {
        const blocks = Math.min(blocksPerChunk, remaining);
        // Random quants everywhere first, then overwrite each block's leading scale, picked by the
        // random byte that the scale replaces so that the quants themselves stay independent of it.
        rng.fillU32(words);
        for (let b = 0; b < blocks; b++) {
          const at = b * blockBytes;
          buf.writeUInt16LE(scales[buf[at]! & 63]!, at);
        }
        remaining -= blocks;
        yield buf.subarray(0, blocks * blockBytes);
      }
      return;
    }
    // F32 and F16: uniform values in [mean - a, mean + a], whose standard deviation is a / sqrt(3).
    const a = std * Math.sqrt(3);
    const perChunk = Math.min(Math.floor(CHUNK_BYTES / blockBytes), total / blockBytes);
    const buf = Buffer.alloc(perChunk * blockBytes);
    let remaining = total / blockBytes;
    while (remaining > 0) {
      const n = Math.min(perChunk, remaining);
      for (let i = 0; i < n; i++) {
        const v = mean + (rng.nextFloat() * 2 - 1) * a;
        if (type === "F32") buf.writeFloatLE(v, i * 4);
        else buf.writeUInt16LE(float32ToFloat16Bits(v), i * 2);
      }
      remaining -= n;
      yield buf.subarray(0, n * blockBytes);
    }
  };
}
