import { LruCache } from "./LruCache.js";

/**
 * Splits `text` into consecutive blocks of at least `minChars` characters (the last may be
 * shorter), each ending just after a line break whose next line holds a visible character (it
 * may be indented: spaces and tabs, then something else than a line break). Joined, the blocks
 * are `text`.
 *
 * Why there: the pre-tokenizers of Qwen2 and the GPT-2 family cut text into pieces and BPE works
 * within a piece. A piece that holds a line break holds only whitespace, or punctuation then line
 * breaks, and it reaches past the break only over whitespace up to a further line break (a blank
 * line), so no piece spans such a point, and the tokens of the blocks, joined, are the tokens of
 * the text. The blocks depend only on the text from its start: a text that grows at its end (a
 * prefix window while the user types) keeps all its earlier blocks, so those are counted or
 * tokenized once and then looked up.
 *
 * Each block ends strictly after where it started, and the search for an end only moves forward,
 * so the walk ends after at most one step per line break.
 */
export function lineBlocks(text: string, minChars: number): string[] {
  const min = Math.max(1, Math.floor(minChars));
  const blocks: string[] = [];
  let start = 0;
  while (text.length - start > min) {
    const end = blockEnd(text, start + min);
    if (end >= text.length) break;
    blocks.push(text.slice(start, end));
    start = end;
  }
  blocks.push(text.slice(start));
  return blocks;
}

/** The first position at or after `from` just after a line break whose next line holds a visible character; text.length if none. */
function blockEnd(text: string, from: number): number {
  let at = from - 1;
  for (;;) {
    const lineBreak = text.indexOf("\n", at);
    if (lineBreak === -1) return text.length;
    let next = lineBreak + 1;
    while (next < text.length && isBlank(text.charCodeAt(next))) next++;
    if (next >= text.length) return text.length;
    const code = text.charCodeAt(next);
    if (code !== 10 && code !== 13) return lineBreak + 1;
    at = next;
  }
}

/** Whitespace other than a line break (\r, \n): what may indent a line. */
function isBlank(code: number): boolean {
  return code !== 10 && code !== 13 && isWhitespace(code);
}

/**
 * Whitespace for one UTF-16 code unit: JavaScript's `\s` and U+0085, so Unicode's White_Space
 * (which llama.cpp's `\s` follows) is all in it. Calling more characters whitespace only moves a
 * block's end further on.
 */
function isWhitespace(code: number): boolean {
  if (code === 32 || (code >= 9 && code <= 13)) return true;
  if (code < 128) return false;
  return code === 0x85 || /\s/.test(String.fromCharCode(code));
}

/** Blocks are at least this long: a 1,024-token prefix window is about eight of them. */
const BLOCK_CHARS = 512;
/** A longer block (a long line with no place to cut: minified code) is computed every time, not kept. */
const MAX_KEPT_CHARS = 8192;

/**
 * `compute` for each line block of a text, with the results of the most recent `capacity` blocks
 * kept: a text that differs from an earlier one only in its last lines costs only those.
 */
export function keptByLineBlocks<T>(compute: (block: string) => T, capacity: number): (text: string) => T[] {
  const kept = new LruCache<string, T>(capacity);
  const one = (block: string): T => {
    if (block.length > MAX_KEPT_CHARS) return compute(block);
    let value = kept.get(block);
    if (value === undefined) {
      value = compute(block);
      // A copy: a slice of a document would keep the whole document's text alive as a key.
      kept.set(Buffer.from(block, "utf16le").toString("utf16le"), value);
    }
    return value;
  };
  return (text) => lineBlocks(text, BLOCK_CHARS).map(one);
}
