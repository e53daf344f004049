import { lineEnd, lineStart } from "./EditHistory.js";

/** A span of whole lines: [start, end) offsets, `end` before the last line's "\n". */
export interface LineSpan {
  start: number;
  end: number;
}

export interface RegionOptions {
  /** Lines of the editable region above and below the cursor's line. */
  linesAbove: number;
  linesBelow: number;
  /** Characters the region may hold at most: lines are dropped from the far side until it fits. */
  maxChars: number;
  /** Lines of read-only context above and below the region. */
  contextLines: number;
}

export const DEFAULT_REGION_OPTIONS: RegionOptions = { linesAbove: 10, linesBelow: 10, maxChars: 4000, contextLines: 40 };

/**
 * Walks `count` lines up from the line starting at `start`; stops at the text's start. Each step
 * moves strictly back, and the whole walk is linear in the characters passed.
 */
function linesUp(text: string, start: number, count: number): number {
  let at = start;
  for (let i = 0; i < count && at > 0; i++) at = lineStart(text, at - 1);
  return at;
}

/** Walks `count` lines down from the line ending at `end`; stops at the text's end. */
function linesDown(text: string, end: number, count: number): number {
  let at = end;
  for (let i = 0; i < count && at < text.length; i++) at = lineEnd(text, at + 1);
  return at;
}

/**
 * The editable region around `cursor`: whole lines, the cursor's line always included, trimmed
 * to `maxChars` from the side farther from the cursor (a single line longer than that is the
 * region on its own, cut around the cursor).
 */
export function editableRegion(text: string, cursor: number, options: RegionOptions = DEFAULT_REGION_OPTIONS): LineSpan {
  const c = Math.max(0, Math.min(text.length, Math.floor(cursor)));
  const lineA = lineStart(text, c);
  const lineB = lineEnd(text, c);
  if (lineB - lineA > options.maxChars) {
    const half = Math.floor(options.maxChars / 2);
    const start = Math.max(lineA, Math.min(c - half, lineB - options.maxChars));
    return { start, end: Math.min(lineB, start + options.maxChars) };
  }
  let start = linesUp(text, lineA, options.linesAbove);
  let end = linesDown(text, lineB, options.linesBelow);
  // Drop whole lines from the longer side until the region fits.
  while (end - start > options.maxChars) {
    if (c - start >= end - c && start < lineA) start = lineEnd(text, start) + 1;
    else if (end > lineB) end = lineStart(text, end) - 1;
    else start = lineEnd(text, start) + 1;
    if (start > lineA) start = lineA;
    if (end < lineB) end = lineB;
    if (start === lineA && end === lineB) break;
  }
  return { start, end };
}

/**
 * Read-only context around the region. Its start is snapped to a multiple of `contextLines`
 * lines counted back from the region, so while the user edits inside one area the prompt's
 * beginning stays byte-identical and the model's KV cache is reused up to the edit.
 */
export function contextSpan(text: string, region: LineSpan, options: RegionOptions = DEFAULT_REGION_OPTIONS): LineSpan {
  const start = linesUp(text, region.start, options.contextLines);
  const end = linesDown(text, region.end, options.contextLines);
  return { start, end };
}
