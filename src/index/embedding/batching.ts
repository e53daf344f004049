/**
 * Pure helpers of the embedding worker: grouping tokenized texts into batches, building padded
 * int64 input tensors, pooling token states into one vector per text, and L2 normalisation.
 */
import type { Pooling } from "./catalog.js";

export interface BatchLimits {
  /** Most texts per batch. */
  batchSize: number;
  /** Most padded tokens (texts × longest text) per batch, so long chunks go in smaller batches. */
  maxBatchTokens: number;
}

/**
 * Splits texts into batches of similar length (longest first), so padding wastes little work.
 * Returns indices into `lengths`; every index appears exactly once.
 */
export function planBatches(lengths: readonly number[], limits: BatchLimits): number[][] {
  const order = lengths.map((_, i) => i).sort((a, b) => lengths[b]! - lengths[a]! || a - b);
  const batches: number[][] = [];
  let current: number[] = [];
  let longest = 0;
  for (const i of order) {
    const len = lengths[i]!;
    const wouldBe = Math.max(longest, len) * (current.length + 1);
    if (current.length > 0 && (current.length >= limits.batchSize || wouldBe > limits.maxBatchTokens)) {
      batches.push(current);
      current = [];
      longest = 0;
    }
    current.push(i);
    longest = Math.max(longest, len);
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

export interface PaddedBatch {
  batch: number;
  sequence: number;
  inputIds: BigInt64Array;
  attentionMask: BigInt64Array;
  /** All zeros: single-sequence inputs. */
  tokenTypeIds: BigInt64Array;
  /** 0..n-1 per row, for exports that take explicit positions. */
  positionIds: BigInt64Array;
}

/** Right-pads token id rows into [batch, sequence] tensors. */
export function padBatch(rows: readonly (readonly number[])[], padId: number): PaddedBatch {
  const batch = rows.length;
  const sequence = Math.max(1, ...rows.map((r) => r.length));
  const inputIds = new BigInt64Array(batch * sequence).fill(BigInt(padId));
  const attentionMask = new BigInt64Array(batch * sequence);
  const positionIds = new BigInt64Array(batch * sequence);
  rows.forEach((row, b) => {
    for (let t = 0; t < sequence; t++) {
      const at = b * sequence + t;
      positionIds[at] = BigInt(t);
      if (t < row.length) {
        inputIds[at] = BigInt(row[t]!);
        attentionMask[at] = 1n;
      }
    }
  });
  return { batch, sequence, inputIds, attentionMask, tokenTypeIds: new BigInt64Array(batch * sequence), positionIds };
}

/**
 * Pools [batch, sequence, hidden] token states into [batch, hidden] using the attention mask, so
 * padding never contributes: mean over unmasked tokens, the first token, or the last unmasked one.
 */
export function poolTokenStates(
  states: Float32Array,
  batch: number,
  sequence: number,
  hidden: number,
  mask: BigInt64Array,
  pooling: Pooling,
): Float32Array {
  const out = new Float32Array(batch * hidden);
  for (let b = 0; b < batch; b++) {
    const row = out.subarray(b * hidden, (b + 1) * hidden);
    if (pooling === "cls") {
      row.set(states.subarray(b * sequence * hidden, b * sequence * hidden + hidden));
      continue;
    }
    if (pooling === "last") {
      let last = 0;
      for (let t = 0; t < sequence; t++) if (mask[b * sequence + t] !== 0n) last = t;
      const at = (b * sequence + last) * hidden;
      row.set(states.subarray(at, at + hidden));
      continue;
    }
    let count = 0;
    for (let t = 0; t < sequence; t++) {
      if (mask[b * sequence + t] === 0n) continue;
      count++;
      const at = (b * sequence + t) * hidden;
      for (let h = 0; h < hidden; h++) row[h]! += states[at + h]!;
    }
    if (count > 0) for (let h = 0; h < hidden; h++) row[h]! /= count;
  }
  return out;
}

/** Scales each row of a [rows, dims] array to unit length in place (zero rows stay zero). */
export function normalizeRows(data: Float32Array, dims: number): Float32Array {
  for (let at = 0; at < data.length; at += dims) {
    let sum = 0;
    for (let i = at; i < at + dims; i++) sum += data[i]! * data[i]!;
    const norm = Math.sqrt(sum);
    if (norm > 0) for (let i = at; i < at + dims; i++) data[i]! /= norm;
  }
  return data;
}
