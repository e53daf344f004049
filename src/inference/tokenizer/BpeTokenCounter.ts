/**
 * Counts the tokens of plain text the way llama.cpp's byte-level BPE tokenizer splits it, for the
 * pre-tokenizers it knows (Qwen2 and Qwen2.5-Coder's), in plain JavaScript. A language server
 * whose model runs in the shared engine needs exact-enough counts for its prompt windows on every
 * keystroke, synchronously; llama.cpp's own vocabulary costs about 190 MB per process for Qwen's
 * 151k tokens, this about 4 MB (MergeTable).
 *
 * It counts; it never produces ids (the engine tokenizes the prompt it runs). Text is tokenized as
 * plain text (special-token markers in it are ordinary characters), as prompts tokenize user text.
 */
import type { Tokenizer } from "../types.js";
import type { GgufVocabulary } from "./ggufVocabulary.js";
import { MergeTable } from "./MergeTable.js";

/**
 * The pre-tokenizer of llama.cpp's LLAMA_VOCAB_PRE_TYPE_QWEN2 (the regular expression Qwen2's
 * tokenizer.json also uses): contractions, letters with one leading non-letter, single digits,
 * punctuation runs with a leading space and trailing line breaks, line-break runs, spaces.
 */
const QWEN2_SPLIT = /(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+/gu;

/** Pre-tokenizers this counter reproduces, by GGUF name, with the id a stored table names them by; any other falls back to llama.cpp's vocabulary. */
const SPLITTERS: Record<string, { id: number; split: RegExp }> = { qwen2: { id: 1, split: QWEN2_SPLIT } };

/** GPT-2's byte → printable character table: the alphabet merges are written in. */
function byteAlphabet(): string[] {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const table: string[] = new Array(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) table[b] = String.fromCodePoint(printable.includes(b) ? b : 256 + extra++);
  return table;
}

/** Words counted so far; cleared when full (code repeats its identifiers, so the hit rate is high). */
const MEMO_LIMIT = 50_000;
/** A pre-token longer than this is counted in pieces: BPE work grows with the square of its length. */
const LONGEST_PIECE = 256;

export class BpeTokenCounter implements Tokenizer {
  private readonly memo = new Map<string, number>();
  private readonly encoder = new TextEncoder();

  private constructor(
    /** The merges, over symbols numbered from the bytes (a byte's symbol is its value). */
    readonly table: MergeTable,
    private readonly split: RegExp,
  ) {}

  /** A counter for this vocabulary, or undefined when its tokenizer is not one this reproduces. */
  static forVocabulary(vocabulary: GgufVocabulary): BpeTokenCounter | undefined {
    const splitter = SPLITTERS[vocabulary.pre];
    if (vocabulary.model !== "gpt2" || !splitter) return undefined;
    return new BpeTokenCounter(MergeTable.build(vocabulary.merges, byteAlphabet(), splitter.id), splitter.split);
  }

  /** A counter from a table built earlier (see counterCache.ts), or undefined for a splitter this version does not know. */
  static fromTable(table: MergeTable): BpeTokenCounter | undefined {
    const splitter = Object.values(SPLITTERS).find((s) => s.id === table.splitter);
    return splitter ? new BpeTokenCounter(table, splitter.split) : undefined;
  }

  countTokens(text: string): number {
    if (!text) return 0;
    let count = 0;
    this.split.lastIndex = 0;
    for (const match of text.matchAll(this.split)) count += this.countWord(match[0]);
    return count;
  }

  private countWord(word: string): number {
    const known = this.memo.get(word);
    if (known !== undefined) return known;
    const bytes = this.encoder.encode(word);
    let count = 0;
    for (let start = 0; start < bytes.length; start += LONGEST_PIECE) count += this.merge(bytes.subarray(start, start + LONGEST_PIECE));
    if (word.length > LONGEST_PIECE) return count;
    if (this.memo.size >= MEMO_LIMIT) this.memo.clear();
    this.memo.set(word, count);
    return count;
  }

  /** Applies merges lowest rank first (leftmost on ties) until none applies; returns the symbols left. */
  private merge(bytes: Uint8Array): number {
    const symbols: number[] = Array.from(bytes);
    for (;;) {
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i < symbols.length - 1; i++) {
        const rank = this.table.rank(symbols[i]!, symbols[i + 1]!);
        if (rank >= 0 && rank < bestRank) {
          bestRank = rank;
          best = i;
        }
      }
      if (best < 0) return symbols.length;
      symbols.splice(best, 2, this.table.merged(symbols[best]!, symbols[best + 1]!));
    }
  }
}
