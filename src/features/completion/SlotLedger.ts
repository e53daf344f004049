import type { PromptPart } from "../../inference/types.js";
import { LruCache } from "../../util/LruCache.js";
import type { CountTokens } from "./contextWindow.js";

/** What a slot's KV cache holds, as far as this side knows: a prompt and how many of its tokens. */
interface Held {
  parts: readonly PromptPart[];
  tokens: number;
}

/** The estimate of a prompt's cost on a slot. */
export interface PromptCost {
  promptTokens: number;
  /** Tokens at the prompt's start that the slot's KV cache already holds (a lower bound). */
  cachedTokens: number;
  /** What evaluating it would cost: promptTokens − cachedTokens. */
  uncachedTokens: number;
}

/**
 * Remembers which prompt each slot's KV cache holds, so the completion service can tell before a
 * request how many prompt tokens it would have to evaluate on that slot, without asking the model.
 *
 * The backend reuses the KV cache up to the first token that differs, so the estimate is the
 * tokens of the parts both prompts share, plus those of the common start of the first text part
 * that differs (less one: the token at the seam may merge differently), capped at what the slot
 * was known to hold. It errs low: a cold estimate only makes the service pick a smaller prompt.
 */
export class SlotLedger {
  private readonly held = new LruCache<string, Held>(128);

  /** After a request or prefill on `slot`: its KV cache holds the first `tokens` tokens of `parts`. */
  record(slot: string, parts: readonly PromptPart[], tokens: number): void {
    this.held.set(slot, { parts, tokens: Math.max(0, Math.floor(tokens)) });
  }

  forget(slot: string): void {
    this.held.delete(slot);
  }

  clear(): void {
    this.held.clear();
  }

  /** The cost of `parts` on `slot`; `warm` (when the backend reports its slots) says whether the slot still has a sequence. */
  estimate(slot: string, parts: readonly PromptPart[], count: CountTokens, warm?: (slot: string) => boolean): PromptCost {
    const promptTokens = partsTokens(parts, parts.length, count);
    const held = warm && !warm(slot) ? undefined : this.held.get(slot);
    const cachedTokens = held ? Math.min(held.tokens, promptTokens, sharedTokens(held.parts, parts, count)) : 0;
    return { promptTokens, cachedTokens, uncachedTokens: promptTokens - cachedTokens };
  }
}

/** Tokens of the first `n` parts: a special token is one, text is counted (parts never merge across a special token). */
function partsTokens(parts: readonly PromptPart[], n: number, count: CountTokens): number {
  let total = 0;
  for (let i = 0; i < n; i++) {
    const part = parts[i]!;
    total += part.kind === "special" ? 1 : count(part.text);
  }
  return total;
}

function samePart(a: PromptPart, b: PromptPart): boolean {
  if (a.kind === "special") return b.kind === "special" && a.token === b.token;
  return b.kind === "text" && a.text === b.text;
}

/** Tokens at the start of both prompts that tokenize alike. */
function sharedTokens(a: readonly PromptPart[], b: readonly PromptPart[], count: CountTokens): number {
  let i = 0;
  while (i < a.length && i < b.length && samePart(a[i]!, b[i]!)) i++;
  let shared = partsTokens(b, i, count);
  const x = a[i];
  const y = b[i];
  if (x?.kind === "text" && y?.kind === "text") {
    let common = 0;
    const limit = Math.min(x.text.length, y.text.length);
    while (common < limit && x.text.charCodeAt(common) === y.text.charCodeAt(common)) common++;
    if (common > 0) shared += Math.max(0, count(y.text.slice(0, common)) - 1);
  }
  return shared;
}
