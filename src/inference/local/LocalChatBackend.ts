import path from "node:path";
import type { LlamaContext, LlamaContextSequence, LlamaModel, Token } from "node-llama-cpp";
import type { Logger } from "../../util/logger.js";
import { Mutex } from "../../util/Mutex.js";
import { ModelUnavailableError, type ChatBackend, type ChatRequest, type ChatResult, type ChatTurn, type StopReason } from "../types.js";
import type { LoadedModel, LocalModel } from "./LocalModel.js";
import { runExclusive } from "./runExclusive.js";
import { generateOnSequence } from "./generateOnSequence.js";

export interface LocalChatOptions {
  /** Tokens of the chat context (prompt plus answer); it is separate from the completion context. */
  contextSize: number;
  /**
   * Threads of the chat context (at most the model's). Fewer than the completion context's keeps
   * a core for completions while a chat streams: two contexts on all cores oversubscribe the CPU.
   */
  threads?: number;
}

/** Qwen's recommended chat sampling (see NOTES); a request may override each. */
export const CHAT_SAMPLING_DEFAULTS = Object.freeze({ temperature: 0.7, topP: 0.8, topK: 20, repeatPenalty: 1.05 });

const DEFAULT_OPTIONS: LocalChatOptions = { contextSize: 4096 };

/** Default chat threads: half the model's threads, at least one, so completion keeps cores of its own. */
export function chatThreads(modelThreads: number): number {
  return Math.max(1, Math.floor(modelThreads / 2));
}

/** How many of the last generated tokens the repetition penalty looks at. */
const PENALTY_WINDOW = 64;

/** What marks the place where an oversized message was cut, so the model (and the user) can tell. */
const CUT_MARK = "\n[… trimmed to fit the context …]\n";

interface ChatSpecials {
  model: LlamaModel;
  imStart: Token;
  imEnd: Token;
  stop: Set<Token>;
}

/**
 * Chat and code-action generation on the local model, on a context of its own (LocalModel's
 * chat context), so a long chat prompt never evicts the completion sequence's KV cache and a
 * completion can run while a chat streams. The prompt is ChatML; message text is tokenized
 * without special-token parsing, so a message cannot inject `<|im_end|>` or a role. One request
 * at a time uses the chat context (chat and actions queue on the lock); a cancelled request stops
 * within one evaluation step or one token and resolves with the text so far.
 */
export class LocalChatBackend implements ChatBackend {
  private readonly lock = new Mutex();
  private specials: ChatSpecials | undefined;
  private held: { context: LlamaContext; sequence: LlamaContextSequence } | undefined;

  constructor(
    private readonly localModel: LocalModel,
    private readonly logger: Logger,
    private readonly options: () => LocalChatOptions = () => DEFAULT_OPTIONS,
  ) {}

  async chat(request: ChatRequest, signal: AbortSignal): Promise<ChatResult> {
    const started = performance.now();
    const aborted = (): ChatResult => ({ text: "", stopReason: "aborted", promptTokens: 0, generatedTokens: 0, totalMs: performance.now() - started });
    return runExclusive(this.lock, this.localModel, signal, aborted, (loaded, running) => this.run(loaded, request, running, started));
  }

  private async run(loaded: LoadedModel, request: ChatRequest, signal: AbortSignal, started: number): Promise<ChatResult> {
    const options = this.options();
    const context = await this.localModel.chatContext(loaded, options.contextSize, options.threads ?? chatThreads(loaded.options.threads));
    // The sequence is kept for the context's life: disposing it would clear its KV state, which a
    // follow-up question reuses up to the first differing token.
    if (this.held?.context !== context) this.held = { context, sequence: context.getSequence() };
    return this.generate(loaded, this.held.sequence, request, signal, started);
  }

  private async generate(
    loaded: LoadedModel,
    sequence: LlamaContextSequence,
    request: ChatRequest,
    signal: AbortSignal,
    started: number,
  ): Promise<ChatResult> {
    const { model } = loaded;
    const specials = this.chatSpecials(model);
    const maxTokens = Math.max(1, Math.min(request.maxTokens, Math.floor(sequence.contextSize / 2)));
    const { tokens, notice } = buildPrompt(model, specials, request.messages, sequence.contextSize - maxTokens - 1);
    const result: ChatResult = {
      text: "",
      stopReason: "aborted",
      promptTokens: tokens.length,
      generatedTokens: 0,
      totalMs: 0,
      model: path.basename(loaded.options.modelPath),
      ...(notice ? { notice } : {}),
    };
    const finish = (reason: StopReason): ChatResult => {
      result.stopReason = reason;
      result.totalMs = performance.now() - started;
      return result;
    };

    // Evaluate the prompt in steps so a cancel stops within one step.
    const temperature = request.temperature;
    const outcome = await generateOnSequence({
      model,
      sequence,
      tokens,
      step: Math.max(32, loaded.options.batchSize),
      stopTokens: specials.stop,
      maxTokens,
      started,
      deadline: started + request.maxTimeMs,
      signal,
      sampling: (generated) => ({
        temperature,
        ...(temperature > 0 ? { topK: request.topK ?? CHAT_SAMPLING_DEFAULTS.topK, topP: request.topP ?? CHAT_SAMPLING_DEFAULTS.topP } : {}),
        repeatPenalty: { punishTokens: () => generated.slice(-PENALTY_WINDOW), penalty: request.repeatPenalty ?? CHAT_SAMPLING_DEFAULTS.repeatPenalty, maxPunishTokens: PENALTY_WINDOW },
      }),
      ...(request.onText ? { onText: (text: string) => void request.onText?.(text) } : {}),
    });
    if (outcome.tokensPerSecond !== undefined) this.localModel.reportSpeed(outcome.tokensPerSecond);
    result.text = outcome.text;
    result.generatedTokens = outcome.generatedTokens;
    if (outcome.firstTokenMs !== undefined) result.firstTokenMs = outcome.firstTokenMs;
    this.logger.debug(
      { promptTokens: tokens.length, generated: outcome.generatedTokens, firstTokenMs: result.firstTokenMs && Math.round(result.firstTokenMs), reason: outcome.reason },
      "chat generated",
    );
    return finish(outcome.reason);
  }

  private chatSpecials(model: LlamaModel): ChatSpecials {
    if (this.specials?.model === model) return this.specials;
    const id = (text: string): Token | undefined => {
      const t = model.tokenize(text, true);
      return t.length === 1 ? t[0] : undefined;
    };
    const imStart = id("<|im_start|>");
    const imEnd = id("<|im_end|>");
    if (imStart === undefined || imEnd === undefined) {
      throw new ModelUnavailableError(
        `The model ${this.localModel.status().modelPath} has no ChatML tokens (<|im_start|>, <|im_end|>): configure a Qwen2.5-Coder GGUF in "model.path" for chat.`,
      );
    }
    const stop = new Set<Token>([imStart, imEnd]);
    const eot = id("<|endoftext|>");
    if (eot !== undefined) stop.add(eot);
    this.specials = { model, imStart, imEnd, stop };
    return this.specials;
  }
}

/**
 * The ChatML prompt as tokens, trimmed to `room` tokens: the oldest turns after the system
 * message go first (the last turn always stays), then the longest remaining turn loses its middle.
 */
export function buildPrompt(model: LlamaModel, specials: Pick<ChatSpecials, "imStart" | "imEnd">, messages: readonly ChatTurn[], room: number): { tokens: Token[]; notice?: string } {
  const newline = model.tokenize("\n", false);
  const turnTokens = (turn: ChatTurn, content: Token[]): Token[] => [specials.imStart, ...model.tokenize(`${turn.role}\n`, false), ...content, specials.imEnd, ...newline];
  const turns = messages.map((m) => ({ turn: m, overhead: turnTokens(m, []).length, content: m.content ? model.tokenize(m.content, false) : [] }));
  const tail = [specials.imStart, ...model.tokenize("assistant\n", false)];
  const size = (): number => turns.reduce((n, t) => n + t.content.length + t.overhead, tail.length);
  const notices: string[] = [];

  let dropped = 0;
  while (size() > room && turns.length > 1) {
    const at = turns[0]!.turn.role === "system" && turns.length > 2 ? 1 : 0;
    if (at === 0 && turns[0]!.turn.role === "system") break;
    turns.splice(at, 1);
    dropped++;
  }
  if (dropped > 0) notices.push(`${dropped} earlier message${dropped === 1 ? "" : "s"} left out to fit the ${room}-token prompt budget`);
  const cut = model.tokenize(CUT_MARK, false);
  while (size() > room && turns.length > 0) {
    const longest = turns.reduce((a, b) => (b.content.length > a.content.length ? b : a));
    if (longest.content.length === 0) break;
    const excess = size() - room + cut.length;
    const keep = longest.content.length - excess;
    if (keep <= 0) {
      longest.content = [];
      notices.push(`the ${longest.turn.role} message was left out: it does not fit the prompt budget`);
      continue;
    }
    const head = Math.ceil(keep / 2);
    const removed = longest.content.length - keep;
    longest.content = [...longest.content.slice(0, head), ...cut, ...longest.content.slice(longest.content.length - (keep - head))];
    notices.push(`a ${longest.turn.role} message was cut by ${removed} tokens in its middle to fit the prompt budget`);
  }
  const tokens: Token[] = [];
  for (const t of turns) tokens.push(...turnTokens(t.turn, t.content));
  tokens.push(...tail);
  return { tokens, ...(notices.length ? { notice: notices.join("; ") } : {}) };
}
