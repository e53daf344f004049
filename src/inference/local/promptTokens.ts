/**
 * What every local backend does around a generation on a sequence: prompt parts to tokens, the
 * sampling of a request's temperature, and the result reported from the sequence's outcome.
 */
import type { LlamaModel, SequenceEvaluateOptions, Token } from "node-llama-cpp";
import { ModelUnavailableError, SPECIAL_TOKEN_TEXT, type GenerateResult, type PromptPart, type SpecialToken } from "../types.js";
import type { SequenceOutcome } from "./generateOnSequence.js";

/**
 * Prompt parts as tokens. Text is never parsed for special tokens, so file contents cannot inject
 * a control token; a special token the model lacks is a model that cannot serve (`fix` says what to
 * configure).
 */
export function tokenizeParts(model: LlamaModel, ids: ReadonlyMap<SpecialToken, Token>, parts: readonly PromptPart[], fix: string): Token[] {
  const out: Token[] = [];
  for (const part of parts) {
    if (part.kind === "special") {
      const id = ids.get(part.token);
      if (id === undefined) throw new ModelUnavailableError(`the model has no ${SPECIAL_TOKEN_TEXT[part.token]} token; ${fix}`);
      out.push(id);
    } else if (part.text) {
      for (const t of model.tokenize(part.text, false)) out.push(t);
    }
  }
  return out;
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
