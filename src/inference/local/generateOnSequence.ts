import type { LlamaContextSequence, LlamaModel, SequenceEvaluateOptions, Token } from "node-llama-cpp";
import type { StopReason } from "../types.js";
import { nativeGarbage } from "./nativeGarbage.js";

export interface SequenceGeneration {
  model: LlamaModel;
  sequence: LlamaContextSequence;
  tokens: Token[];
  /** Prompt tokens evaluated per step; a cancel lands between steps. */
  step: number;
  /** Tokens that end generation and are never shown. */
  stopTokens: ReadonlySet<Token>;
  maxTokens: number;
  /** performance.now() values: when the request started, and when generation must stop. */
  started: number;
  deadline: number;
  signal: AbortSignal;
  /** Sampling for sequence.evaluate; it receives the tokens generated so far (for repeat penalties). */
  sampling: (generated: readonly Token[]) => SequenceEvaluateOptions;
  /** After each prompt step: tokens evaluated so far by this request, of how many. */
  onPromptProgress?: (evaluated: number, total: number) => void;
  /**
   * After each generated token, with the text so far; returning true ends generation
   * ("should-stop"). It may answer later (the shared engine asks the language server), and the
   * next token waits for the answer, so generation stops exactly where it would in process.
   */
  onText?: (textSoFar: string) => boolean | void | Promise<boolean>;
  /**
   * Before each evaluation step: a promise to wait for before taking it (another window's request
   * comes first, see Precedence), or undefined to go on at once.
   */
  yieldTurn?: () => Promise<void> | undefined;
}

export interface SequenceOutcome {
  text: string;
  reason: StopReason;
  /** Prompt tokens whose KV state was kept from the previous request on this sequence. */
  reusedTokens: number;
  /** Prompt tokens this request evaluated (fewer than the rest when cancelled during the prompt). */
  evaluatedTokens: number;
  generatedTokens: number;
  firstTokenMs?: number;
  /** Generation speed, when enough tokens came to measure it. */
  tokensPerSecond?: number;
}

/**
 * Runs a prompt on a context sequence the way every local backend must: keep the KV state up to
 * the first token that differs from the previous request (never shifting positions, which only
 * approximates a fresh evaluation), evaluate the rest in steps so a cancel stops within one step,
 * then sample until a stop token, the callback, the token cap, the deadline or a cancel.
 */
export async function generateOnSequence(g: SequenceGeneration): Promise<SequenceOutcome> {
  const counter = { evaluations: 0 };
  const done = nativeGarbage.working();
  try {
    return await generate(g, counter);
  } finally {
    done();
    // Every evaluation call leaves a sampler whose native buffer only a collection frees.
    nativeGarbage.noteEvaluations(g.model, counter.evaluations);
  }
}

async function generate(g: SequenceGeneration, counter: { evaluations: number }): Promise<SequenceOutcome> {
  const { model, sequence, tokens, signal } = g;
  await sequence.adaptStateToTokens(tokens, false);
  let position = Math.min(sequence.nextTokenIndex, tokens.length);
  if (position >= tokens.length) {
    // The whole prompt is cached, but the logits of its last token are not: evaluate it again.
    await sequence.eraseContextTokenRanges([{ start: tokens.length - 1, end: sequence.nextTokenIndex }]);
    position = tokens.length - 1;
  }
  const reusedTokens = position;
  const outcome: SequenceOutcome = { text: "", reason: "aborted", reusedTokens, evaluatedTokens: 0, generatedTokens: 0 };

  while (tokens.length - position > g.step) {
    await g.yieldTurn?.();
    if (signal.aborted) return outcome;
    counter.evaluations++;
    await sequence.evaluateWithoutGeneratingNewTokens(tokens.slice(position, position + g.step));
    position += g.step;
    outcome.evaluatedTokens = position - reusedTokens;
    g.onPromptProgress?.(outcome.evaluatedTokens, tokens.length - reusedTokens);
  }
  await g.yieldTurn?.();
  if (signal.aborted) return outcome;

  const generated: Token[] = [];
  let reason: StopReason = "end-of-generation";
  counter.evaluations++;
  const iterator = sequence.evaluate(tokens.slice(position), g.sampling(generated));
  try {
    for await (const token of iterator) {
      if (generated.length === 0) {
        outcome.evaluatedTokens = tokens.length - reusedTokens;
        outcome.firstTokenMs = performance.now() - g.started;
      }
      if (g.stopTokens.has(token)) {
        reason = "stop-token";
        break;
      }
      generated.push(token);
      // NUL never belongs in code or prose, and Emacs 28's JSON parser (jansson) rejects a
      // message carrying "\u0000", which would silently lose a whole chat delta or answer.
      outcome.text = model.detokenize(generated, false).replaceAll("\0", "");
      outcome.generatedTokens = generated.length;
      if (signal.aborted) {
        reason = "aborted";
        break;
      }
      const verdict = g.onText?.(outcome.text);
      if ((verdict instanceof Promise ? await verdict : verdict) === true) {
        reason = "should-stop";
        break;
      }
      if (generated.length >= g.maxTokens) {
        reason = "max-tokens";
        break;
      }
      if (performance.now() > g.deadline) {
        reason = "max-time";
        break;
      }
      // The iterator decodes the next token when asked for it: waiting here takes this sequence
      // out of the batches until the request that comes first is done.
      const turn = g.yieldTurn?.();
      if (turn) {
        await turn;
        if (signal.aborted) {
          reason = "aborted";
          break;
        }
      }
    }
  } finally {
    await iterator.return();
  }
  if (outcome.evaluatedTokens === 0 && !signal.aborted) outcome.evaluatedTokens = tokens.length - reusedTokens;
  if (outcome.firstTokenMs !== undefined && generated.length >= 4) {
    const genMs = performance.now() - g.started - outcome.firstTokenMs;
    if (genMs > 0) outcome.tokensPerSecond = ((generated.length - 1) * 1000) / genMs;
  }
  outcome.reason = reason;
  return outcome;
}

export interface SequencePrefill {
  model: LlamaModel;
  sequence: LlamaContextSequence;
  tokens: Token[];
  /** Most tokens per evaluation step: the most a request that preempts the prefill waits for. */
  step: number;
  /**
   * Tokens in the first step (default `step`); each later step doubles up to `step`. A step then
   * never takes much longer than the prefill has run so far: a keystroke that ends a short pause
   * waits for a short step, and a long pause still reaches the speed of the larger steps.
   */
  firstStep?: number;
  signal: AbortSignal;
  onProgress?: (evaluated: number, total: number) => void;
}

/**
 * Evaluates `tokens` into the sequence's KV cache without sampling, keeping what it already holds
 * up to the first token that differs (as `generateOnSequence` does, so a request that follows
 * finds the same prefix). It checks the signal before every step; what was evaluated before a
 * cancel stays in the cache for the request that cancelled it.
 */
export async function prefillSequence(p: SequencePrefill): Promise<{ reusedTokens: number; evaluatedTokens: number; aborted: boolean }> {
  const { sequence, tokens, signal } = p;
  let evaluations = 0;
  const done = nativeGarbage.working();
  try {
    await sequence.adaptStateToTokens(tokens, false);
    const reusedTokens = Math.min(sequence.nextTokenIndex, tokens.length);
    let position = reusedTokens;
    const most = Math.max(1, p.step);
    let step = Math.max(1, Math.min(p.firstStep ?? most, most));
    while (position < tokens.length) {
      if (signal.aborted) return { reusedTokens, evaluatedTokens: position - reusedTokens, aborted: true };
      const chunk = tokens.slice(position, position + step);
      step = Math.min(step * 2, most);
      evaluations++;
      await sequence.evaluateWithoutGeneratingNewTokens(chunk);
      position += chunk.length;
      p.onProgress?.(position - reusedTokens, tokens.length - reusedTokens);
    }
    return { reusedTokens, evaluatedTokens: position - reusedTokens, aborted: false };
  } finally {
    done();
    nativeGarbage.noteEvaluations(p.model, evaluations);
  }
}
