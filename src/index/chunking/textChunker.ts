import type { Chunk } from "../types.js";
import { finishChunk, splitRange, type ChunkLimits } from "./common.js";

const HEADING = /^(#{1,6})\s+(.+?)\s*#*\s*$/;

/**
 * Line windows for files without a grammar: up to the token bound, broken at blank lines once
 * half full, and at Markdown headings, whose text becomes the chunk's symbol.
 */
export function chunkLines(lines: readonly string[], sums: Int32Array, language: string, limits: ChunkLimits, pathWords: readonly string[]): Chunk[] {
  const tokens = (a: number, b: number): number => sums[b + 1]! - sums[a]!;
  const markdown = language === "markdown";
  const chunks: Chunk[] = [];
  /** The heading of the section the current line is in. */
  let section = "";
  let start = firstNonBlank(lines, 0);
  let startSection = section;
  const emit = (end: number): void => {
    while (end >= start && lines[end]!.trim() === "") end--;
    if (end < start) return;
    for (const range of splitRange(lines, sums, start, end, limits)) {
      chunks.push(finishChunk(lines, range, { language, symbol: startSection, kind: "text", names: startSection ? [startSection] : [], pathWords }));
    }
  };
  for (let line = start; line < lines.length; line++) {
    const text = lines[line]!;
    const heading = markdown ? HEADING.exec(text) : null;
    if (heading) {
      section = heading[2]!.slice(0, 120);
      if (line > start) emit(line - 1);
      start = line;
      startSection = section;
      continue;
    }
    if (line > start && tokens(start, line) > limits.maxTokens) {
      emit(line - 1);
      start = line;
      startSection = section;
    } else if (text.trim() === "" && tokens(start, line) >= limits.maxTokens / 2) {
      emit(line);
      start = firstNonBlank(lines, line + 1);
      line = start - 1;
      startSection = section;
    }
  }
  if (start < lines.length) emit(lines.length - 1);
  return chunks;
}

function firstNonBlank(lines: readonly string[], from: number): number {
  let i = from;
  while (i < lines.length && lines[i]!.trim() === "") i++;
  return i;
}
