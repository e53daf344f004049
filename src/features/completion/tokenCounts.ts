import type { Tokenizer } from "../../inference/types.js";
import { keptByLineBlocks } from "../../util/lineBlocks.js";
import type { CountTokens } from "./contextWindow.js";

/** Blocks whose counts are kept: the prompts of a few documents' two lanes. */
const KEPT_BLOCKS = 256;

/**
 * Token counts that cost a keystroke only the text it changed. Building a prompt counts the
 * prefix window, the suffix, the snippets and the estimate of what the KV cache holds, several
 * times over and mostly the same text as at the keystroke before: with llama.cpp's tokenizer that
 * took 5–20 ms per keystroke on 2 cores, on the way to the first token. Text is counted by line
 * blocks (their counts add up to the text's, see lineBlocks) and each block's count is kept.
 */
export class TokenCounts {
  private readonly counters = new WeakMap<Tokenizer, CountTokens>();

  /** The counting function for a tokenizer (per model: counts are kept per tokenizer). */
  for(tokenizer: Tokenizer): CountTokens {
    let counter = this.counters.get(tokenizer);
    if (!counter) {
      counter = keptCounts((text) => tokenizer.countTokens(text));
      this.counters.set(tokenizer, counter);
    }
    return counter;
  }
}

/** `count` by line blocks, each block's count kept (the least recently used dropped first). */
export function keptCounts(count: CountTokens): CountTokens {
  const blocks = keptByLineBlocks(count, KEPT_BLOCKS);
  return (text) => (text ? blocks(text).reduce((sum, n) => sum + n, 0) : 0);
}
