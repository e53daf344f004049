/**
 * Tokenization for an embedding model: @huggingface/tokenizers does the work; this class adds
 * truncation to the model's limit while keeping the special tokens the post-processor adds
 * ([CLS] … [SEP]), which the library does not do by itself.
 */
import { Tokenizer } from "@huggingface/tokenizers";

/** Characters kept per allowed token before tokenizing: bounds the work on a huge input. */
const CHARS_PER_TOKEN_CAP = 32;

export class ModelTokenizer {
  private readonly tokenizer: Tokenizer;
  private readonly prefixIds: number[] = [];
  private readonly suffixIds: number[] = [];
  readonly padId: number;

  constructor(
    tokenizerJson: object,
    tokenizerConfig: object,
    readonly maxTokens: number,
  ) {
    this.tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
    // Learn the special-token template once from a probe: the ids the post-processor puts around
    // the content. Truncation then cuts only the content.
    const content: number[] = this.tokenizer.encode("a", { add_special_tokens: false }).ids;
    const full: number[] = this.tokenizer.encode("a", { add_special_tokens: true }).ids;
    for (let k = 0; k + content.length <= full.length; k++) {
      if (content.every((id, i) => full[k + i] === id)) {
        this.prefixIds = full.slice(0, k);
        this.suffixIds = full.slice(k + content.length);
        break;
      }
    }
    if (this.prefixIds.length + this.suffixIds.length >= maxTokens) {
      throw new Error(`the model's limit of ${maxTokens} tokens leaves no room beside its ${this.prefixIds.length + this.suffixIds.length} special tokens`);
    }
    const padToken = (tokenizerConfig as { pad_token?: unknown }).pad_token;
    const padText = typeof padToken === "string" ? padToken : typeof padToken === "object" && padToken !== null ? (padToken as { content?: string }).content : undefined;
    this.padId = (padText !== undefined ? this.tokenizer.token_to_id(padText) : undefined) ?? 0;
  }

  /** Token ids of one text, special tokens included, at most maxTokens long. */
  encode(text: string): number[] {
    const room = this.maxTokens - this.prefixIds.length - this.suffixIds.length;
    const clipped = text.length > room * CHARS_PER_TOKEN_CAP ? text.slice(0, room * CHARS_PER_TOKEN_CAP) : text;
    const content = this.tokenizer.encode(clipped, { add_special_tokens: false }).ids;
    return [...this.prefixIds, ...(content.length > room ? content.slice(0, room) : content), ...this.suffixIds];
  }

  tokens(text: string): string[] {
    return this.tokenizer.tokenize(text);
  }
}
