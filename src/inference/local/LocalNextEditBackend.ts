import type { InputLookupTokenPredictor, LlamaContext, LlamaContextSequence, LlamaModel, Token } from "node-llama-cpp";
import type { Logger } from "../../util/logger.js";
import { Mutex } from "../../util/Mutex.js";
import {
  ModelUnloadedError,
  SPECIAL_TOKEN_TEXT,
  type CompletionBackend,
  type GenerateRequest,
  type GenerateResult,
  type ModelStatus,
  type SpecialToken,
  type Tokenizer,
} from "../types.js";
import { generateOnSequence } from "./generateOnSequence.js";
import { resultOf, samplingFor, tokenizeParts } from "./promptTokens.js";
import type { LoadedModel, LocalModel } from "./LocalModel.js";
import { runExclusive } from "./runExclusive.js";

export interface LocalNextEditOptions {
  /** Tokens of the next-edit context (prompt plus answer). */
  contextSize: number;
  /** Threads of that context (at most the model's); fewer than the model's keeps a core for completions. */
  threads?: number;
  /** Prompt-lookup speculative decoding: copied spans of the region are checked in batches. */
  speculative: boolean;
}

/**
 * Next-edit generation on the local model, on a context of its own (LocalModel's "nextEdit"
 * context), so a next-edit prompt never evicts the completion sequence's KV cache and completions
 * never wait for it. The prompt is any list of parts (the next-edit formats differ in their special
 * tokens); every special token of the model ends the answer. With `speculative` on, the sequence
 * carries node-llama-cpp's input-lookup token predictor fed with the request's `copySource`: the
 * model then confirms several copied tokens per evaluation instead of one, and greedy output is
 * unchanged (test/nextEditBackend.test.ts checks it).
 */
export class LocalNextEditBackend implements CompletionBackend {
  private readonly lock = new Mutex();
  private held: { context: LlamaContext; sequence: LlamaContextSequence; predictor: InputLookupTokenPredictor | undefined } | undefined;
  private specials: { model: LlamaModel; ids: Map<SpecialToken, Token>; stop: Set<Token> } | undefined;

  constructor(
    private readonly localModel: LocalModel,
    private readonly logger: Logger,
    private readonly options: () => LocalNextEditOptions,
  ) {}

  status(): ModelStatus {
    return this.localModel.status();
  }

  async tokenizer(signal: AbortSignal): Promise<Tokenizer> {
    const loaded = await this.localModel.load(signal);
    return { countTokens: (text) => (text ? loaded.model.tokenize(text, false).length : 0) };
  }

  /** `answerLater`: an asynchronous `shouldStop` (the shared engine's; see LocalCompletionBackend). */
  async generate(request: GenerateRequest, signal: AbortSignal, answerLater?: (textSoFar: string) => Promise<boolean>): Promise<GenerateResult> {
    const started = performance.now();
    const aborted = (): GenerateResult => ({ text: "", stopReason: "aborted", promptTokens: 0, reusedTokens: 0, evaluatedTokens: 0, generatedTokens: 0, totalMs: performance.now() - started });
    try {
      return await runExclusive(this.lock, this.localModel, signal, aborted, (loaded, running) => this.run(loaded, request, running, started, answerLater));
    } catch (error) {
      // A suggestion cut short by an unload is simply not shown; the next pause asks again.
      if (error instanceof ModelUnloadedError) return aborted();
      throw error;
    }
  }

  private async sequenceFor(loaded: LoadedModel): Promise<{ sequence: LlamaContextSequence; predictor: InputLookupTokenPredictor | undefined }> {
    const options = this.options();
    const threads = options.threads ?? Math.max(1, Math.floor(loaded.options.threads / 2));
    const context = await this.localModel.extraContext("nextEdit", loaded, options.contextSize, threads);
    const wantPredictor = options.speculative;
    if (this.held?.context === context && (this.held.predictor !== undefined) === wantPredictor) return this.held;
    // The sequence is kept for the context's life (its KV state is reused between requests); a
    // change of the speculative setting gives it back and takes a new one.
    if (this.held?.context === context) this.held.sequence.dispose();
    // A match of two tokens at least, and three predicted tokens at a time: on stories260K (its
    // retelling copies ~18% of the tokens) six at a time cost 47% more time than no prediction,
    // three 20% (bench:nextedit); a model that copies most of the region gains from either.
    // Imported here, not at the top: a language server whose model runs in the shared engine never
    // loads node-llama-cpp (about 10 MB of heap and 30 MB of resident memory per window).
    const { InputLookupTokenPredictor } = await import("node-llama-cpp");
    const predictor = wantPredictor ? new InputLookupTokenPredictor({ patternLength: { min: 2 }, predictionLength: { max: 3 } }) : undefined;
    const sequence = context.getSequence(predictor ? { tokenPredictor: predictor } : {});
    this.held = { context, sequence, predictor };
    return this.held;
  }

  private async run(
    loaded: LoadedModel,
    request: GenerateRequest,
    signal: AbortSignal,
    started: number,
    answerLater?: (textSoFar: string) => Promise<boolean>,
  ): Promise<GenerateResult> {
    const { model } = loaded;
    const { sequence, predictor } = await this.sequenceFor(loaded);
    const specials = this.specialTokens(model);
    const tokens = tokenizeParts(model, specials.ids, request.prompt, "this next-edit format needs it; choose another nextEdit.format");
    const room = sequence.contextSize - request.maxTokens - 1;
    if (tokens.length > room) throw new Error(`next-edit prompt of ${tokens.length} tokens does not fit the ${sequence.contextSize}-token context; raise nextEdit.contextSize or lower nextEdit.contextLines`);
    predictor?.updateInputTokens(request.copySource ? model.tokenize(request.copySource, false) : []);
    const before = sequence.tokenPredictions;
    const outcome = await generateOnSequence({
      model,
      sequence,
      tokens,
      step: Math.max(32, loaded.options.batchSize),
      stopTokens: specials.stop,
      maxTokens: request.maxTokens,
      started,
      deadline: started + request.maxTimeMs,
      signal,
      sampling: () => samplingFor(request.temperature),
      ...(answerLater ? { onText: answerLater } : request.shouldStop ? { onText: request.shouldStop } : {}),
    });
    const after = sequence.tokenPredictions;
    const result: GenerateResult = {
      ...resultOf(outcome, tokens.length, started),
      ...(predictor ? { predictions: { validated: after.validated - before.validated, refuted: after.refuted - before.refuted } } : {}),
    };
    this.logger.debug(
      { promptTokens: result.promptTokens, reused: result.reusedTokens, generated: result.generatedTokens, reason: result.stopReason, predictions: result.predictions, ms: Math.round(result.totalMs) },
      "next edit generated",
    );
    return result;
  }

  /** The model's special tokens, once per loaded model; every one of them ends an answer. */
  private specialTokens(model: LlamaModel): { ids: Map<SpecialToken, Token>; stop: Set<Token> } {
    if (this.specials?.model === model) return this.specials;
    const ids = new Map<SpecialToken, Token>();
    for (const [name, text] of Object.entries(SPECIAL_TOKEN_TEXT) as [SpecialToken, string][]) {
      const tokens = model.tokenize(text, true);
      if (tokens.length === 1 && model.tokenize(text, false).length > 1) ids.set(name, tokens[0]!);
    }
    const stop = new Set<Token>(ids.values());
    const eos = model.tokens.eos;
    if (eos !== null) stop.add(eos);
    this.specials = { model, ids, stop };
    return this.specials;
  }
}
