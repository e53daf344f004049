import { compoundWords, splitIdentifier } from "../identifiers.js";
import { estimateTokens } from "../tokens.js";
import type { Chunk, ChunkKind, LineRange } from "../types.js";

export interface ChunkLimits {
  /** Upper bound of a chunk, in estimated tokens. */
  maxTokens: number;
  /** Pieces smaller than this are merged with their neighbours. */
  minTokens: number;
}

export const DEFAULT_LIMITS: ChunkLimits = Object.freeze({ maxTokens: 512, minTokens: 32 });

/** Characters per token assumed when a single line has to be cut. */
const CHARS_PER_TOKEN = 3;

/**
 * Line range start..end (inclusive) as pieces within the bound: whole lines while they fit,
 * preferring a break at a blank line once a piece is half full; a line longer than the bound
 * (minified code, data) is cut into column ranges.
 */
export function splitRange(lines: readonly string[], sums: Int32Array, start: number, end: number, limits: ChunkLimits): LineRange[] {
  const tokens = (a: number, b: number): number => sums[b + 1]! - sums[a]!;
  const whole = (a: number, b: number): LineRange => ({ startLine: a, startCol: 0, endLine: b, endCol: lines[b]!.length });
  if (tokens(start, end) <= limits.maxTokens) return [whole(start, end)];
  const out: LineRange[] = [];
  let pieceStart = start;
  let lastBlank = -1;
  for (let line = start; line <= end; line++) {
    const own = tokens(line, line);
    if (own > limits.maxTokens) {
      if (line > pieceStart) out.push(whole(pieceStart, line - 1));
      out.push(...cutLine(lines[line]!, line, limits));
      pieceStart = line + 1;
      lastBlank = -1;
      continue;
    }
    if (tokens(pieceStart, line) > limits.maxTokens) {
      // Break at the last blank line when it leaves a reasonable piece, else before this line.
      const cut = lastBlank > pieceStart && tokens(pieceStart, lastBlank) >= limits.maxTokens / 2 ? lastBlank : line - 1;
      out.push(whole(pieceStart, cut));
      pieceStart = cut + 1;
      lastBlank = -1;
    }
    if (lines[line]!.trim() === "") lastBlank = line;
  }
  if (pieceStart <= end) out.push(whole(pieceStart, end));
  return out.filter((r) => !(r.startLine === r.endLine && r.startCol === r.endCol));
}

function cutLine(text: string, line: number, limits: ChunkLimits): LineRange[] {
  const out: LineRange[] = [];
  let col = 0;
  while (col < text.length) {
    let width = limits.maxTokens * CHARS_PER_TOKEN;
    while (width > 16 && estimateTokens(text.slice(col, col + width)) > limits.maxTokens) width = Math.floor(width * 0.8);
    // At least one character per piece, so the loop advances whatever the limits are.
    let endCol = Math.min(text.length, col + Math.max(1, Math.floor(width)));
    // Never split a surrogate pair.
    if (endCol < text.length && /[\uD800-\uDBFF]/.test(text[endCol - 1]!)) endCol++;
    out.push({ startLine: line, startCol: col, endLine: line, endCol });
    col = endCol;
  }
  return out;
}

export function rangeText(lines: readonly string[], range: LineRange): string {
  if (range.startLine === range.endLine) return lines[range.startLine]!.slice(range.startCol, range.endCol);
  const parts = [lines[range.startLine]!.slice(range.startCol)];
  for (let i = range.startLine + 1; i < range.endLine; i++) parts.push(lines[i]!);
  parts.push(lines[range.endLine]!.slice(0, range.endCol));
  return parts.join("\n");
}

export interface ChunkMeta {
  language: string;
  symbol: string;
  kind: ChunkKind;
  /** Definition names in the chunk. */
  names: readonly string[];
  pathWords: readonly string[];
}

export function finishChunk(lines: readonly string[], range: LineRange, meta: ChunkMeta): Chunk {
  const text = rangeText(lines, range);
  return { ...range, language: meta.language, symbol: meta.symbol, kind: meta.kind, text, symbols: symbolsField(meta.names, text, meta.pathWords), tokens: estimateTokens(text) };
}

/** The `symbols` column: definition names, their words, compound-identifier words, the file name's words. */
export function symbolsField(names: readonly string[], text: string, pathWords: readonly string[]): string {
  const out = new Set<string>();
  for (const name of names) {
    if (!name) continue;
    out.add(name);
    for (const part of name.split(/[^A-Za-z0-9_$]+/)) {
      if (part && part !== name) out.add(part);
      for (const w of splitIdentifier(part)) if (w.length > 1) out.add(w);
    }
  }
  for (const w of compoundWords(text)) out.add(w);
  for (const w of pathWords) out.add(w);
  return [...out].join(" ");
}

/** Words of a file's name for its chunks' symbols ("src/config/loadSettings.ts" → load, settings). */
export function pathWords(rel: string): string[] {
  const base = rel.slice(rel.lastIndexOf("/") + 1).replace(/\.[^.]*$/, "");
  const words = splitIdentifier(base).filter((w) => w.length > 1);
  return words.length > 0 ? words : base ? [base.toLowerCase()] : [];
}
