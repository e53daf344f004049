/**
 * What every local backend does around a generation on a sequence: prompt parts to tokens, the
 * sampling of a request's temperature, and the result reported from the sequence's outcome.
 */
import type { LlamaModel, SequenceEvaluateOptions, Token } from "node-llama-cpp";
import { ModelUnavailableError, SPECIAL_TOKEN_TEXT, type GenerateResult, type PromptPart, type SpecialToken } from "../types.js";
import { keptByLineBlocks } from "../../util/lineBlocks.js";
import type { SequenceOutcome } from "./generateOnSequence.js";

/**
 * Prompt parts as tokens. Text is never parsed for special tokens, so file contents cannot inject
 * a control token; a special token the model lacks is a model that cannot serve (`fix` says what to
 * configure).
 */
export function tokenizeParts(
  textTokens: LlamaModel | ((text: string) => readonly Token[]),
  ids: ReadonlyMap<SpecialToken, Token>,
  parts: readonly PromptPart[],
  fix: string,
): Token[] {
  const tokenize = typeof textTokens === "function" ? textTokens : (text: string): readonly Token[] => textTokens.tokenize(text, false);
  const out: Token[] = [];
  for (const part of parts) {
    if (part.kind === "special") {
      const id = ids.get(part.token);
      if (id === undefined) throw new ModelUnavailableError(`the model has no ${SPECIAL_TOKEN_TEXT[part.token]} token; ${fix}`);
      out.push(id);
    } else if (part.text) {
      for (const t of tokenize(part.text)) out.push(t);
    }
  }
  return out;
}

/** Line blocks whose tokens are kept: about the prompts of a few documents. */
const KEPT_BLOCKS = 256;

/**
 * The model's tokens of a text (no special tokens parsed), computed by line blocks and with each
 * block's tokens kept (see lineBlocks: the blocks' tokens, joined, are the text's), so a prompt
 * that differs from the previous keystroke's in its last lines costs only those.
 */
export function keptTextTokens(model: LlamaModel): (text: string) => Token[] {
  const blocks = keptByLineBlocks((block) => model.tokenize(block, false), KEPT_BLOCKS);
  return (text) => (text ? blocks(text).flat() : []);
}

/** Greedy at temperature 0; otherwise top-k 40 and top-p 0.95, as completions and next edits sample. */
export function samplingFor(temperature: number): SequenceEvaluateOptions {
  return { temperature, ...(temperature > 0 ? { topK: 40, topP: 0.95 } : {}) };
}

export function resultOf(outcome: SequenceOutcome, promptTokens: number, started: number): GenerateResult {
  return {
    text: outcome.text,
    stopReason: outcome.reason,
    promptTokens,
    reusedTokens: outcome.reusedTokens,
    evaluatedTokens: outcome.evaluatedTokens,
    generatedTokens: outcome.generatedTokens,
    ...(outcome.firstTokenMs !== undefined ? { firstTokenMs: outcome.firstTokenMs } : {}),
    totalMs: performance.now() - started,
  };
}
