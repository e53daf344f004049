import type { LlamaModel, Token } from "node-llama-cpp";
import type { Logger } from "../../util/logger.js";
import {
  ModelUnavailableError,
  SPECIAL_TOKEN_TEXT,
  type CompletionBackend,
  type GenerateRequest,
  type GenerateResult,
  type ModelStatus,
  type PromptPart,
  type SpecialToken,
  type StopReason,
  type Tokenizer,
} from "../types.js";
import type { LoadedModel, LocalModel } from "./LocalModel.js";
import { Mutex } from "../../util/Mutex.js";
import { runExclusive } from "./runExclusive.js";

/**
 * Completion generation on the local model's dedicated context sequence.
 *
 * Keeping up with typing on a CPU rests on three things done here: the KV cache of the previous
 * prompt is reused up to the first token that differs (a keystroke at the end of the prefix costs
 * only the new tokens plus the short suffix); the prompt is evaluated in small steps so a
 * superseded request stops within one step; and only one request uses the sequence at a time.
 */
export class LocalCompletionBackend implements CompletionBackend {
  private readonly lock = new Mutex();
  private specials: { model: LlamaModel; ids: Map<SpecialToken, Token>; stop: Set<Token> } | undefined;

  constructor(
    private readonly localModel: LocalModel,
    private readonly logger: Logger,
  ) {}

  status(): ModelStatus {
    return this.localModel.status();
  }

  async tokenizer(signal: AbortSignal): Promise<Tokenizer> {
    const loaded = await this.localModel.load(signal);
    this.specialTokens(loaded.model);
    return { countTokens: (text) => (text ? loaded.model.tokenize(text, false).length : 0) };
  }

  async generate(request: GenerateRequest, signal: AbortSignal): Promise<GenerateResult> {
    const started = performance.now();
    const aborted = (): GenerateResult => ({
      text: "",
      stopReason: "aborted",
      promptTokens: 0,
      reusedTokens: 0,
      evaluatedTokens: 0,
      generatedTokens: 0,
      totalMs: performance.now() - started,
    });
    return runExclusive(this.lock, this.localModel, signal, aborted, (loaded) => this.run(loaded, request, signal, started));
  }

  private async run(loaded: LoadedModel, request: GenerateRequest, signal: AbortSignal, started: number): Promise<GenerateResult> {
    const { model, sequence } = loaded;
    const specials = this.specialTokens(model);
    const tokens = this.tokenizePrompt(model, specials.ids, request.prompt);
    const room = sequence.contextSize - request.maxTokens - 1;
    if (tokens.length > room) {
      throw new Error(`prompt of ${tokens.length} tokens does not fit the ${sequence.contextSize}-token context; lower the completion budgets`);
    }

    // Keep the cached state up to the first differing token; never shift positions (that only
    // approximates a fresh evaluation and would change what the model sees).
    await sequence.adaptStateToTokens(tokens, false);
    let position = Math.min(sequence.nextTokenIndex, tokens.length);
    if (position >= tokens.length) {
      // The whole prompt is cached, but the logits of its last token are not: evaluate it again.
      await sequence.eraseContextTokenRanges([{ start: tokens.length - 1, end: sequence.nextTokenIndex }]);
      position = tokens.length - 1;
    }
    const reusedTokens = position;
    const result: GenerateResult = {
      text: "",
      stopReason: "aborted",
      promptTokens: tokens.length,
      reusedTokens,
      evaluatedTokens: 0,
      generatedTokens: 0,
      totalMs: 0,
    };
    const finish = (reason: StopReason): GenerateResult => {
      result.stopReason = reason;
      result.totalMs = performance.now() - started;
      return result;
    };

    // Evaluate all but the last step without sampling, checking for cancellation between steps.
    const step = loaded.options.batchSize;
    while (tokens.length - position > step) {
      if (signal.aborted) return finish("aborted");
      await sequence.evaluateWithoutGeneratingNewTokens(tokens.slice(position, position + step));
      position += step;
      result.evaluatedTokens = position - reusedTokens;
      request.onPromptProgress?.(result.evaluatedTokens, tokens.length - reusedTokens);
    }
    if (signal.aborted) return finish("aborted");

    const generated: Token[] = [];
    const deadline = started + request.maxTimeMs;
    let reason: StopReason = "end-of-generation";
    const iterator = sequence.evaluate(tokens.slice(position), {
      temperature: request.temperature,
      ...(request.temperature > 0 ? { topK: 40, topP: 0.95 } : {}),
    });
    try {
      for await (const token of iterator) {
        if (generated.length === 0) {
          result.evaluatedTokens = tokens.length - reusedTokens;
          result.firstTokenMs = performance.now() - started;
        }
        if (specials.stop.has(token)) {
          reason = "stop-token";
          break;
        }
        generated.push(token);
        result.text = model.detokenize(generated, false);
        result.generatedTokens = generated.length;
        if (signal.aborted) {
          reason = "aborted";
          break;
        }
        if (request.shouldStop?.(result.text)) {
          reason = "should-stop";
          break;
        }
        if (generated.length >= request.maxTokens) {
          reason = "max-tokens";
          break;
        }
        if (performance.now() > deadline) {
          reason = "max-time";
          break;
        }
      }
    } finally {
      await iterator.return();
    }
    if (result.evaluatedTokens === 0 && !signal.aborted) result.evaluatedTokens = tokens.length - reusedTokens;
    if (result.firstTokenMs !== undefined && generated.length >= 4) {
      const genMs = performance.now() - started - result.firstTokenMs;
      if (genMs > 0) this.localModel.reportSpeed(((generated.length - 1) * 1000) / genMs);
    }
    this.logger.debug(
      {
        promptTokens: result.promptTokens,
        reused: reusedTokens,
        evaluated: result.evaluatedTokens,
        generated: generated.length,
        firstTokenMs: result.firstTokenMs && Math.round(result.firstTokenMs),
        reason,
      },
      "completion generated",
    );
    return finish(reason);
  }

  private tokenizePrompt(model: LlamaModel, ids: Map<SpecialToken, Token>, prompt: PromptPart[]): Token[] {
    const out: Token[] = [];
    for (const part of prompt) {
      if (part.kind === "special") {
        const id = ids.get(part.token);
        if (id === undefined) throw new ModelUnavailableError(`the model has no ${SPECIAL_TOKEN_TEXT[part.token]} token; use a Qwen2.5-Coder GGUF`);
        out.push(id);
      } else if (part.text) {
        // Plain text is never parsed for special tokens, so file contents cannot inject control tokens.
        for (const t of model.tokenize(part.text, false)) out.push(t);
      }
    }
    return out;
  }

  /** Looks up the Qwen special tokens once per loaded model; a model without FIM tokens cannot complete. */
  private specialTokens(model: LlamaModel): { ids: Map<SpecialToken, Token>; stop: Set<Token> } {
    if (this.specials?.model === model) return this.specials;
    const ids = new Map<SpecialToken, Token>();
    for (const [name, text] of Object.entries(SPECIAL_TOKEN_TEXT) as [SpecialToken, string][]) {
      const tokens = model.tokenize(text, true);
      if (tokens.length === 1) ids.set(name, tokens[0]!);
    }
    for (const required of ["fim_prefix", "fim_suffix", "fim_middle"] as const) {
      if (!ids.has(required)) {
        throw new ModelUnavailableError(
          `The model ${this.localModel.status().modelPath} has no fill-in-the-middle token ${SPECIAL_TOKEN_TEXT[required]}: configure a Qwen2.5-Coder GGUF in "model.path".`,
        );
      }
    }
    // Every Qwen special token ends a completion: a small model that starts a new file or turn is done.
    const stop = new Set<Token>(ids.values());
    this.specials = { model, ids, stop };
    return this.specials;
  }
}
