import { LruCache } from "../../util/LruCache.js";

/** Characters of context around the cursor that identify a completion context. */
const PREFIX_KEY_CHARS = 1500;
const SUFFIX_KEY_CHARS = 300;
/** Shown completions remembered per document for typing-through. */
const SHOWN_PER_DOCUMENT = 8;

interface Shown {
  offset: number;
  prefixTail: string;
  suffixHead: string;
  text: string;
}

export interface CacheHit {
  text: string;
  kind: "cache" | "typed-through";
}

/**
 * Answers completions without the model.
 *
 * An LRU keyed by the text around the cursor serves a context seen before (undo, backspace and
 * retype). Typing-through serves the rest of a shown suggestion while the user types its first
 * characters: if "foo(bar)" was shown and the user typed "foo(", the answer is "bar)". Each
 * typed-through answer is stored under its own key too, so deleting back to it stays instant.
 */
export class CompletionCache {
  private readonly exact: LruCache<string, string>;
  private readonly shown = new LruCache<string, Shown[]>(32);

  constructor(capacity: number) {
    this.exact = new LruCache(capacity);
  }

  resize(capacity: number): void {
    this.exact.resize(capacity);
  }

  clear(): void {
    this.exact.clear();
    this.shown.clear();
  }

  lookup(uri: string, text: string, offset: number): CacheHit | undefined {
    const key = contextKey(uri, text, offset);
    const cached = this.exact.get(key);
    if (cached !== undefined) return { text: cached, kind: "cache" };

    for (const entry of this.shown.get(uri) ?? []) {
      const typed = offset - entry.offset;
      if (typed <= 0 || typed >= entry.text.length) continue;
      if (text.slice(entry.offset, offset) !== entry.text.slice(0, typed)) continue;
      if (!text.startsWith(entry.suffixHead, offset)) continue;
      if (text.slice(Math.max(0, entry.offset - entry.prefixTail.length), entry.offset) !== entry.prefixTail) continue;
      const rest = entry.text.slice(typed);
      this.exact.set(key, rest);
      return { text: rest, kind: "typed-through" };
    }
    return undefined;
  }

  /** Records an answer for this context; non-empty answers also become typing-through candidates. */
  remember(uri: string, text: string, offset: number, completion: string): void {
    this.exact.set(contextKey(uri, text, offset), completion);
    if (!completion) return;
    const entry: Shown = {
      offset,
      prefixTail: text.slice(Math.max(0, offset - 200), offset),
      suffixHead: text.slice(offset, offset + SUFFIX_KEY_CHARS),
      text: completion,
    };
    const list = (this.shown.get(uri) ?? []).filter((e) => e.offset !== offset);
    list.unshift(entry);
    this.shown.set(uri, list.slice(0, SHOWN_PER_DOCUMENT));
  }

  forgetDocument(uri: string): void {
    this.shown.set(uri, []);
  }
}

function contextKey(uri: string, text: string, offset: number): string {
  return `${uri}\u0000${text.slice(Math.max(0, offset - PREFIX_KEY_CHARS), offset)}\u0000${text.slice(offset, offset + SUFFIX_KEY_CHARS)}`;
}
