import type { LlamaContextSequence, LlamaModel, Token } from "node-llama-cpp";
import type { Logger } from "../../util/logger.js";
import {
  ModelUnavailableError,
  ModelUnloadedError,
  SPECIAL_TOKEN_TEXT,
  type CompletionBackend,
  type GenerateRequest,
  type GenerateResult,
  type ModelStatus,
  type PrefillRequest,
  type PrefillResult,
  type SpecialToken,
  type Tokenizer,
} from "../types.js";
import type { LoadedModel, LocalModel } from "./LocalModel.js";
import { Mutex } from "../../util/Mutex.js";
import { Precedence } from "./Precedence.js";
import { generateOnSequence, prefillSequence } from "./generateOnSequence.js";
import { SequencePool } from "./SequencePool.js";
import { keptTextTokens, resultOf, samplingFor, tokenizeParts } from "./promptTokens.js";

/** What to configure when the model lacks a token the completion prompt needs. */
const FIX = "use a Qwen2.5-Coder GGUF";

/** The slot of requests that name none. */
const DEFAULT_SLOT = "";
/**
 * Prompt tokens per background prefill step: the first step's, and the most. A real request waits
 * for the step in flight (for the 0.5B model on 2 CPU cores about 35 ms a step plus 4 ms a token),
 * and a prefill mostly runs in a pause between keystrokes, so its steps start short and double up
 * to 32 tokens, which still run at most of the speed of larger batches (bench:completion prints
 * the speed by step size).
 */
export const PREFILL_FIRST_STEP = 4;
export const PREFILL_STEP = 32;

/**
 * Completion generation on the local model's dedicated context sequence.
 *
 * Keeping up with typing on a CPU rests on three things done here: the KV cache of the previous
 * prompt is reused up to the first token that differs (a keystroke at the end of the prefix costs
 * only the new tokens plus the short suffix); the prompt is evaluated in small steps so a
 * superseded request stops within one step; and only one request uses the sequence at a time.
 */
/** What the backend keeps per loaded model for turning prompts into tokens. */
interface ModelTokens {
  model: LlamaModel;
  ids: Map<SpecialToken, Token>;
  stop: Set<Token>;
  textTokens: (text: string) => Token[];
  tokenizer: Tokenizer;
}

export class LocalCompletionBackend implements CompletionBackend {
  private readonly pool = new SequencePool<LlamaContextSequence>();
  /** One lock per sequence: requests on different sequences run at once (see onSequence). */
  private readonly locks = new WeakMap<LlamaContextSequence, Mutex>();
  /** Requests holding or waiting for each sequence, so a new slot takes an idle one. */
  private readonly users = new Map<LlamaContextSequence, number>();
  private perModel: ModelTokens | undefined;
  /** Completions of the window the user looks at go first (the shared engine says which). */
  private readonly precedence = new Precedence();

  constructor(
    private readonly localModel: LocalModel,
    private readonly logger: Logger,
  ) {}

  status(): ModelStatus {
    return this.localModel.status();
  }

  async tokenizer(signal: AbortSignal): Promise<Tokenizer> {
    const loaded = await this.localModel.load(signal);
    // The same object for as long as the model stays loaded: callers keep counts per tokenizer.
    return this.modelTokens(loaded.model).tokenizer;
  }

  /**
   * `answerLater` replaces `request.shouldStop` with one that answers asynchronously: the shared
   * engine's, which asks the language server that sent the request (src/engine). `order` is the
   * shared engine's too, asked before every evaluation step (the user may switch windows while a
   * request runs): "first" for the focused window's completions, "after-first" for the other
   * windows', which pause between steps while a first one runs (see Precedence). Without it a
   * request neither waits nor makes others wait.
   */
  async generate(
    request: GenerateRequest,
    signal: AbortSignal,
    answerLater?: (textSoFar: string) => Promise<boolean>,
    order?: () => "first" | "after-first" | undefined,
  ): Promise<GenerateResult> {
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
    try {
      return await this.onSequence(request.slot, signal, aborted, async (loaded, sequence, running) => {
        const heldMs = performance.now() - started;
        // Only once the sequence is held: a first request still waiting for a lock must not
        // pause the request that holds it.
        let end = order?.() === "first" ? this.precedence.begin() : undefined;
        const yieldTurn = !order
          ? undefined
          : (): Promise<void> | undefined => {
            const now = order();
            if (now === "first") {
              end ??= this.precedence.begin();
              return undefined;
            }
            end?.();
            end = undefined;
            return now === "after-first" ? this.precedence.turn(running) : undefined;
          };
        try {
          return { ...(await this.run(loaded, sequence, request, running, started, answerLater, yieldTurn)), heldMs };
        } finally {
          end?.();
        }
      });
    } catch (error) {
      // A completion cut short by an unload is as good as superseded: the next keystroke reloads.
      if (error instanceof ModelUnloadedError) return aborted();
      throw error;
    }
  }

  /**
   * Background work: evaluates the prompt into its slot's sequence unless the model is not loaded
   * (a prefill never loads one). It shares the completion lock, so a request that aborts it waits
   * at most for the step in flight.
   */
  async prefill(request: PrefillRequest, signal: AbortSignal): Promise<PrefillResult> {
    const started = performance.now();
    const result = (state: PrefillResult["state"], promptTokens = 0, reusedTokens = 0, evaluatedTokens = 0): PrefillResult => ({
      state,
      promptTokens,
      reusedTokens,
      evaluatedTokens,
      totalMs: performance.now() - started,
    });
    if (this.localModel.status().state !== "ready") return result("skipped");
    try {
      return await this.onSequence(request.slot, signal, () => result("aborted"), async (loaded, sequence, running) => {
        const tokensOf = this.modelTokens(loaded.model);
        const tokens = tokenizeParts(tokensOf.textTokens, tokensOf.ids, request.prompt, FIX);
        if (tokens.length === 0 || tokens.length >= sequence.contextSize) return result("skipped", tokens.length);
        const outcome = await prefillSequence({ model: loaded.model, sequence, tokens, step: PREFILL_STEP, firstStep: PREFILL_FIRST_STEP, signal: running, ...(request.onProgress ? { onProgress: request.onProgress } : {}) });
        this.logger.debug({ slot: request.slot, promptTokens: tokens.length, reused: outcome.reusedTokens, evaluated: outcome.evaluatedTokens, aborted: outcome.aborted }, "prompt prefilled");
        return result(outcome.aborted ? "aborted" : "done", tokens.length, outcome.reusedTokens, outcome.evaluatedTokens);
      });
    } catch (error) {
      if (error instanceof ModelUnavailableError) return result("skipped");
      throw error;
    }
  }

  /**
   * Runs `work` on the slot's sequence while holding that sequence alone. Requests on different
   * sequences (two editor windows on the shared engine, or a prefill beside a request in another
   * document) run at the same time, and node-llama-cpp evaluates their tokens in the same batches:
   * on a CPU, decoding one token for each of two sequences costs little more than for one, so
   * neither waits for the other's whole answer. A request cancelled before or while it waits gets
   * `aborted()` at once; one cancelled while it runs gets it too, unless the model itself is
   * unavailable (that error is the user's to see). Work cut short by an unload rejects with
   * ModelUnloadedError (see LocalModel.use).
   */
  private async onSequence<T>(
    slot: string | undefined,
    signal: AbortSignal,
    aborted: () => T,
    work: (loaded: LoadedModel, sequence: LlamaContextSequence, signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    if (signal.aborted) return aborted();
    try {
      return await this.localModel.use(signal, async (loaded, running) => {
        const sequence = this.pool.take(loaded.sequences, slot ?? DEFAULT_SLOT, (s) => (this.users.get(s) ?? 0) > 0);
        this.users.set(sequence, (this.users.get(sequence) ?? 0) + 1);
        try {
          let lock = this.locks.get(sequence);
          if (!lock) this.locks.set(sequence, (lock = new Mutex()));
          const release = await lock.acquire(running);
          try {
            return await work(loaded, sequence, running);
          } finally {
            release();
          }
        } finally {
          const left = (this.users.get(sequence) ?? 1) - 1;
          if (left > 0) this.users.set(sequence, left);
          else this.users.delete(sequence);
        }
      });
    } catch (error) {
      if (signal.aborted && !(error instanceof ModelUnavailableError)) return aborted();
      throw error;
    }
  }

  /** The slots whose KV state the sequences hold, most recently used first. */
  warmSlots(): string[] {
    return this.pool.slots();
  }

  private async run(
    loaded: LoadedModel,
    sequence: LlamaContextSequence,
    request: GenerateRequest,
    signal: AbortSignal,
    started: number,
    answerLater?: (textSoFar: string) => Promise<boolean>,
    yieldTurn?: () => Promise<void> | undefined,
  ): Promise<GenerateResult> {
    const { model } = loaded;
    const tokensOf = this.modelTokens(model);
    const tokens = tokenizeParts(tokensOf.textTokens, tokensOf.ids, request.prompt, FIX);
    const room = sequence.contextSize - request.maxTokens - 1;
    if (tokens.length > room) {
      throw new Error(`prompt of ${tokens.length} tokens does not fit the ${sequence.contextSize}-token context; lower the completion budgets`);
    }

    const outcome = await generateOnSequence({
      model,
      sequence,
      tokens,
      step: loaded.options.batchSize,
      stopTokens: tokensOf.stop,
      maxTokens: request.maxTokens,
      started,
      deadline: started + request.maxTimeMs,
      signal,
      sampling: () => samplingFor(request.temperature),
      ...(request.onPromptProgress ? { onPromptProgress: request.onPromptProgress } : {}),
      ...(answerLater ? { onText: answerLater } : request.shouldStop ? { onText: request.shouldStop } : {}),
      ...(yieldTurn ? { yieldTurn } : {}),
    });
    if (outcome.tokensPerSecond !== undefined) this.localModel.reportSpeed(outcome.tokensPerSecond);
    const result = resultOf(outcome, tokens.length, started);
    this.logger.debug(
      {
        promptTokens: result.promptTokens,
        reused: result.reusedTokens,
        evaluated: result.evaluatedTokens,
        generated: result.generatedTokens,
        firstTokenMs: result.firstTokenMs && Math.round(result.firstTokenMs),
        reason: result.stopReason,
      },
      "completion generated",
    );
    return result;
  }

  /** The Qwen special tokens, the tokenizer and kept prompt tokens, once per loaded model; a model without FIM tokens cannot complete. */
  private modelTokens(model: LlamaModel): ModelTokens {
    if (this.perModel?.model === model) return this.perModel;
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
    // Prompts repeat most of the previous keystroke's text: its line blocks are tokenized once.
    const textTokens = keptTextTokens(model);
    // Counts go through the same kept blocks: a block a prompt adds is tokenized once, for its
    // count while the prompt is built and for its tokens when it is evaluated.
    const tokenizer: Tokenizer = { countTokens: (text) => textTokens(text).length };
    this.perModel = { model, ids, stop, textTokens, tokenizer };
    return this.perModel;
  }
}
