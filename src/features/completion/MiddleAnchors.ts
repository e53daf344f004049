import { LruCache } from "../../util/LruCache.js";

/** A prefix window cut in two: the text before the anchor, and the typed text after it. */
export interface PrefixSplit {
  /** Goes before the suffix: `<|fim_prefix|>{head}<|fim_suffix|>…`. */
  head: string;
  /** Goes after the middle marker, as if the model had written it: `…<|fim_middle|>{middle}`. */
  middle: string;
}

/** Longest typed run kept after the middle marker before the anchor moves to the cursor's line. */
export const MAX_MIDDLE_CHARS = 2000;

/**
 * Where each slot's prompt cuts the prefix for the fill-in-the-middle layout
 * `<|fim_prefix|>{head}<|fim_suffix|>{suffix}<|fim_middle|>{middle}`.
 *
 * In the usual layout the whole prefix comes before the suffix, so every keystroke changes the
 * prompt in front of the suffix and all suffix tokens are evaluated again. A model trained to fill
 * in the middle also continues a middle it has begun, so the text typed since the cursor came to
 * rest can go after the middle marker instead: the model reads the same text, and a keystroke
 * then changes only the end of the prompt, where the KV cache keeps everything before it.
 * llama.vim lays out the cursor's line this way; here the anchor also stays put over the next
 * lines typed (up to `maxLines` new lines), so pressing Enter does not re-evaluate the suffix either.
 *
 * The anchor is a line start. It stays while the prompt's head is unchanged text before the
 * cursor (the prefix window did not move, nothing before the anchor was edited) and the typed
 * run is short; otherwise it moves to the start of the cursor's line.
 */
export class MiddleAnchors {
  private readonly heads = new LruCache<string, string>(64);

  split(slot: string, prefix: string, maxLines: number): PrefixSplit {
    if (maxLines <= 0) {
      this.heads.delete(slot);
      return { head: prefix, middle: "" };
    }
    const kept = this.heads.get(slot);
    if (kept !== undefined && prefix.startsWith(kept) && fits(prefix, kept.length, maxLines)) {
      return { head: kept, middle: prefix.slice(kept.length) };
    }
    const lineStart = prefix.lastIndexOf("\n") + 1;
    const head = prefix.slice(0, lineStart);
    this.heads.set(slot, head);
    return { head, middle: prefix.slice(lineStart) };
  }

  forget(slot: string): void {
    this.heads.delete(slot);
  }
}

/** Whether the typed run from `from` to the end spans at most `maxLines` line breaks and a bounded length. */
function fits(prefix: string, from: number, maxLines: number): boolean {
  if (prefix.length - from > MAX_MIDDLE_CHARS) return false;
  let breaks = 0;
  for (let i = prefix.indexOf("\n", from); i !== -1; i = prefix.indexOf("\n", i + 1)) {
    if (++breaks > maxLines) return false;
  }
  return true;
}
