import { LruCache } from "../../util/LruCache.js";

export type CountTokens = (text: string) => number;

/** Characters per token assumed when capping how much text is handed to the tokenizer at all. */
const MAX_CHARS_PER_TOKEN = 8;

interface Anchor {
  offset: number;
  /** The characters just before the anchor, to notice edits above it. */
  before: string;
  /** The characters from the anchor up to the cursor (at most 64), likewise. */
  head: string;
}

/** How much text before an anchor must be unchanged for the anchor to stay. */
const ANCHOR_CONTEXT = 16;

/**
 * Chooses where the prefix window starts, and keeps that start fixed while the user types.
 *
 * The KV cache is reused only up to the first token that differs from the previous prompt, so a
 * window that slid by a line per keystroke would force a cold evaluation of the whole prefix
 * (seconds on a CPU). The start is re-chosen only when the window outgrows its budget, and then
 * with room to grow (75% of the budget), so that happens rarely.
 */
export class PrefixWindows {
  private readonly anchors = new LruCache<string, Anchor>(64);

  select(uri: string, text: string, offset: number, tokens: number, count: CountTokens): string {
    const cursor = clampOffset(text, offset);
    const budget = tokens > 0 ? Math.floor(tokens) : 0;
    const maxChars = budget * MAX_CHARS_PER_TOKEN;
    const anchor = this.anchors.get(uri);
    if (anchor && anchor.offset <= cursor && cursor - anchor.offset <= maxChars && isAnchorValid(text, anchor)) {
      const window = text.slice(anchor.offset, cursor);
      if (count(window) <= budget) return window;
    }
    const start = chooseStart(text, cursor, Math.floor(budget * 0.75), maxChars, count);
    // The head stops at the cursor: typing there must not make the anchor look edited.
    this.anchors.set(uri, {
      offset: start,
      before: text.slice(Math.max(0, start - ANCHOR_CONTEXT), start),
      head: text.slice(start, Math.min(start + 64, cursor)),
    });
    return text.slice(start, cursor);
  }

  forget(uri: string): void {
    this.anchors.set(uri, { offset: -1, before: "", head: "" });
  }
}

/** A cursor offset inside the text: callers clamp, but these functions must not depend on it. */
function clampOffset(text: string, offset: number): number {
  if (!(offset > 0)) return 0;
  return Math.min(Math.floor(offset), text.length);
}

/**
 * Whether the text around the anchor is as it was when the anchor was set. This holds for a start
 * on a line boundary (the line break is part of `before`) and for a start cut inside a long line
 * alike, so minified code keeps its window start while the user types too.
 */
function isAnchorValid(text: string, anchor: Anchor): boolean {
  if (anchor.offset < 0 || anchor.offset > text.length) return false;
  if (text.slice(anchor.offset - anchor.before.length, anchor.offset) !== anchor.before) return false;
  return text.startsWith(anchor.head, anchor.offset);
}

/**
 * Where the line before the one starting at `lineStart` begins; strictly less than `lineStart`
 * when `lineStart > 0`. `lastIndexOf` with a negative position still looks at index 0, so the
 * search must not start before the newline that ends the previous line (at `lineStart - 1`).
 */
function previousLineStart(text: string, lineStart: number): number {
  if (lineStart <= 1) return 0;
  return text.lastIndexOf("\n", lineStart - 2) + 1;
}

/** Whether `offset` falls between the two halves of a surrogate pair. */
function splitsPair(text: string, offset: number): boolean {
  if (offset <= 0 || offset >= text.length) return false;
  const high = text.charCodeAt(offset - 1);
  const low = text.charCodeAt(offset);
  return high >= 0xd800 && high <= 0xdbff && low >= 0xdc00 && low <= 0xdfff;
}

/** Moves `offset` forwards off the second half of a surrogate pair, so a cut never splits a character. */
function alignToCharacter(text: string, offset: number): number {
  return splitsPair(text, offset) ? offset + 1 : offset;
}

/**
 * Walks back from the cursor a line at a time until the target is reached; starts on a line
 * boundary. Every step moves `start` strictly backwards or stops, so the walk ends after at most
 * one step per line above the cursor.
 */
function chooseStart(text: string, cursor: number, target: number, maxChars: number, count: CountTokens): number {
  const floor = Math.max(0, cursor - maxChars);
  let start = cursor === 0 ? 0 : Math.max(floor, text.lastIndexOf("\n", cursor - 1) + 1);
  let used = count(text.slice(start, cursor));
  if (used > target) {
    // A single very long line (minified code): keep its last part, cut by characters. Each step
    // keeps at most 80% of the characters (floor of 0.8·d < d), so `cut` reaches `cursor`.
    let cut = Math.max(start, cursor - target * 3);
    while (cut < cursor && count(text.slice(cut, cursor)) > target) cut = cursor - Math.floor((cursor - cut) * 0.8);
    return Math.min(cursor, alignToCharacter(text, cut));
  }
  while (start > floor) {
    const lineStart = previousLineStart(text, start);
    if (lineStart < floor) break;
    const lineTokens = count(text.slice(lineStart, start));
    if (used + lineTokens > target) break;
    used += lineTokens;
    start = lineStart;
  }
  return start;
}

/**
 * The text after the cursor: the rest of the current line, then whole lines while they fit the
 * budget. Every suffix token is evaluated again on every keystroke, so the budget is small.
 */
export function selectSuffix(text: string, offset: number, budget: number, count: CountTokens): string {
  if (!(budget > 0)) return "";
  const cursor = clampOffset(text, offset);
  const maxChars = budget * MAX_CHARS_PER_TOKEN;
  let end = text.indexOf("\n", cursor);
  end = end === -1 ? text.length : end + 1;
  if (end - cursor > maxChars || count(text.slice(cursor, end)) > budget) {
    const cut = Math.min(end, cursor + budget * 2);
    return text.slice(cursor, splitsPair(text, cut) ? cut - 1 : cut);
  }
  let used = count(text.slice(cursor, end));
  while (end < text.length && end - cursor < maxChars) {
    let next = text.indexOf("\n", end);
    next = next === -1 ? text.length : next + 1;
    const lineTokens = count(text.slice(end, next));
    if (used + lineTokens > budget) break;
    used += lineTokens;
    end = next;
  }
  return text.slice(cursor, end);
}

/**
 * Where a cursor at the top of a file would have to be for the prefix window to start at the
 * file's first character and cover as much as a window chosen there may (75% of the budget): the
 * end of the last whole line that fits. A prompt evaluated up to there serves any later cursor
 * within the budget, since that window keeps its start at 0. Each step moves `end` strictly
 * forwards, so the walk ends after at most one step per line.
 */
export function topWindowEnd(text: string, tokens: number, count: CountTokens): number {
  const budget = tokens > 0 ? Math.floor(tokens) : 0;
  const target = Math.floor(budget * 0.75);
  const maxChars = budget * MAX_CHARS_PER_TOKEN;
  let end = 0;
  let used = 0;
  while (end < text.length) {
    let next = text.indexOf("\n", end);
    next = next === -1 ? text.length : next + 1;
    if (next > maxChars) break;
    const lineTokens = count(text.slice(end, next));
    if (used + lineTokens > target) break;
    used += lineTokens;
    end = next;
  }
  return alignToCharacter(text, end);
}
