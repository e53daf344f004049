/**
 * The narrow interfaces between features and inference backends. Features build prompts from
 * plain parts and never see node-llama-cpp; the router (a later module) can put a cloud backend
 * behind the same interface.
 */

export type ModelState = "unloaded" | "loading" | "ready" | "error";

export interface ModelStatus {
  state: ModelState;
  /** The GGUF file the backend is configured with. */
  modelPath: string;
  /**
   * For state "error": what went wrong and what to configure, in one sentence a user can act on.
   * For "unloaded": why, when it was not the user's doing (the model file changed on disk).
   */
  message?: string;
  /** The compute backend in use once loaded: "cpu", "cuda", "vulkan" or "metal". */
  gpu?: string;
  threads?: number;
  /** How long the last load took. */
  loadMs?: number;
  /** Generation speed of the last request that generated at least a few tokens. */
  lastTokensPerSecond?: number;
  /** Context size in use once loaded (smaller than configured when the memory guard shrank it). */
  contextSize?: number;
  /** Something the user should know about a loaded model (e.g. the context was shrunk to fit memory). */
  notice?: string;
}

/** Special tokens of the Qwen2.5-Coder format that prompts may use. */
export type SpecialToken =
  | "fim_prefix"
  | "fim_suffix"
  | "fim_middle"
  | "fim_pad"
  | "repo_name"
  | "file_sep"
  | "endoftext"
  | "im_start"
  | "im_end";

export const SPECIAL_TOKEN_TEXT: Readonly<Record<SpecialToken, string>> = {
  fim_prefix: "<|fim_prefix|>",
  fim_suffix: "<|fim_suffix|>",
  fim_middle: "<|fim_middle|>",
  fim_pad: "<|fim_pad|>",
  repo_name: "<|repo_name|>",
  file_sep: "<|file_sep|>",
  endoftext: "<|endoftext|>",
  im_start: "<|im_start|>",
  im_end: "<|im_end|>",
};

/**
 * A prompt is a list of parts so that user text is always tokenized as plain text: a file that
 * contains the characters "<|fim_prefix|>" must not be able to inject a control token.
 */
export type PromptPart = { kind: "text"; text: string } | { kind: "special"; token: SpecialToken };

export interface Tokenizer {
  countTokens(text: string): number;
}

export interface GenerateRequest {
  prompt: PromptPart[];
  maxTokens: number;
  maxTimeMs: number;
  temperature: number;
  /** Called with the text generated so far; returning true ends generation (a single-line suggestion stops at its newline). */
  shouldStop?: (textSoFar: string) => boolean;
  /** Called after each prompt evaluation step with the number of prompt tokens evaluated so far. */
  onPromptProgress?: (evaluated: number, total: number) => void;
  /**
   * The raw fill-in-the-middle parts behind `prompt`, for backends that do not take Qwen prompt
   * parts (cloud APIs). The local backend ignores them.
   */
  fim?: FimParts;
  /** What the router needs to choose a backend; absent fields take the defaults of a completion. */
  routing?: RoutingHints;
  /**
   * Whose KV state to use (the document's uri for completions). The local backend keeps one
   * context sequence per recently used slot, so switching back to a file finds its prompt cached.
   */
  slot?: string;
  /**
   * Text the answer is expected to copy from (a next edit rewrites a region it was shown). A local
   * backend with prompt-lookup decoding predicts tokens from it; the output is the same without it.
   */
  copySource?: string;
  /**
   * The same request as chat messages, for backends that take chat APIs (a cloud provider serving
   * a next edit); the local backend ignores them. A request with neither this nor `fim` stays local.
   */
  chat?: ChatTurn[];
}

/** Evaluating a prompt ahead of the request that will need it (see `CompletionBackend.prefill`). */
export interface PrefillRequest {
  prompt: PromptPart[];
  /** As GenerateRequest.slot. */
  slot?: string;
  /** After each evaluation step: prompt tokens evaluated so far by this prefill, of how many. */
  onProgress?: (evaluated: number, total: number) => void;
}

export interface PrefillResult {
  /** "done": the whole prompt is in the KV cache; "aborted": stopped by the signal (what was evaluated stays); "skipped": nothing to do here (model not loaded, prompt for the cloud). */
  state: "done" | "aborted" | "skipped";
  promptTokens: number;
  reusedTokens: number;
  evaluatedTokens: number;
  totalMs: number;
}

export interface FimParts {
  prefix: string;
  suffix: string;
  /** Cross-file context, each with the path shown to the model and the document it came from (for the privacy gate). */
  snippets: ReadonlyArray<{ path: string; text: string; uri?: string }>;
  /** Path of the current file shown to the model (relative to its workspace folder when possible). */
  filePath: string;
  /** LSP language id of the current file. */
  language: string;
  repoName?: string;
}

export interface RoutingHints {
  /** The kind of task (router task types: "completion", "chat", "unitTests"…); default "completion". */
  task?: string;
  /**
   * Tokens of context the task carries (prompt without generation): exact, or an upper bound
   * when `countContextTokens` is given (the router counts exactly only when a rule needs it).
   */
  contextTokens?: number;
  countContextTokens?: () => number;
  /** An explicit per-request choice that beats preferences and rules. */
  override?: "local" | "cloud";
  /** The document the request is about, to keep secrets and ignored files away from cloud APIs. */
  uri?: string;
  /** Every other document whose content is in the prompt; the privacy gate checks each before a cloud route. */
  sources?: readonly string[];
}

export type StopReason = "end-of-generation" | "stop-token" | "max-tokens" | "max-time" | "should-stop" | "aborted";

export interface GenerateResult {
  text: string;
  stopReason: StopReason;
  /** Tokens in the prompt. */
  promptTokens: number;
  /** Prompt tokens whose KV-cache state was reused from the previous request. */
  reusedTokens: number;
  /** Prompt tokens evaluated by this request (promptTokens - reusedTokens, less any left unevaluated by a cancel). */
  evaluatedTokens: number;
  generatedTokens: number;
  /** Milliseconds from the start of generate() to the first generated token; absent when none came. */
  firstTokenMs?: number;
  /**
   * Local model only: milliseconds from the start of generate() until the request held its KV
   * sequence, that is until the request before it on that sequence stopped (a cancelled one ends
   * the evaluation step it is in).
   */
  heldMs?: number;
  totalMs: number;
  /** Which backend served the request ("local", or "cloud:<provider>"), set by routing backends. */
  backend?: string;
  /** Why that backend served it, in words (the router's reasons, fallbacks included). */
  reason?: string;
  /** Speculative decoding: predicted tokens the model confirmed and those it rejected. */
  predictions?: { validated: number; refuted: number };
}

/** Thrown when no model can serve: the message says what to configure. */
export class ModelUnavailableError extends Error {
  override readonly name: string = "ModelUnavailableError";
}

/** Thrown to a request whose model was unloaded under it (ifai.unloadModel, a configuration change). */
export class ModelUnloadedError extends ModelUnavailableError {
  override readonly name = "ModelUnloadedError";
}

/** The model's lifecycle as the server's commands and status line use it (in process or shared). */
export interface ModelControl {
  status(): ModelStatus;
  onStatus(listener: (status: ModelStatus) => void): () => void;
  /** Loads the model now (it otherwise loads on first use); rejects with ModelUnavailableError. */
  load(signal?: AbortSignal): Promise<unknown>;
  unload(): Promise<void>;
}

export interface CompletionBackend {
  status(): ModelStatus;
  /** Resolves once the model is loaded (loading it lazily); rejects with ModelUnavailableError. */
  tokenizer(signal: AbortSignal): Promise<Tokenizer>;
  /** Generates a completion; a request aborted through `signal` resolves with stopReason "aborted". */
  generate(request: GenerateRequest, signal: AbortSignal): Promise<GenerateResult>;
  /**
   * Evaluates a prompt into the slot's KV cache without generating, so a later request whose
   * prompt shares its start evaluates only the rest. Background work: it never loads a model,
   * and it stops at its next evaluation step once `signal` is aborted. Optional: backends
   * without a cache to warm leave it out.
   */
  prefill?(request: PrefillRequest, signal: AbortSignal): Promise<PrefillResult>;
  /** The slots whose KV state the backend holds now, most recently used first (backends with slots). */
  warmSlots?(): string[];
}

/**
 * Marks a slot as a document's short first-suggestion prompt (see CompletionService), beside the
 * document's own slot for its full prompt.
 */
export const FIRST_LANE_MARK = "\u0001first";

/** The document a slot belongs to (its name without the first-lane mark). */
export function slotDocument(slot: string): string {
  return slot.endsWith(FIRST_LANE_MARK) ? slot.slice(0, -FIRST_LANE_MARK.length) : slot;
}

/** A chat turn, as in the OpenAI-compatible APIs. */
export interface ChatTurn {
  role: "system" | "user" | "assistant";
  content: string;
}

export interface ChatRequest {
  messages: ChatTurn[];
  maxTokens: number;
  maxTimeMs: number;
  temperature: number;
  /** Called with the text generated so far, as it streams. */
  onText?: (textSoFar: string) => void;
  /** Sampling beyond the temperature; absent: the backend's chat defaults (top_p 0.8, top_k 20, repetition penalty 1.05). */
  topP?: number;
  topK?: number;
  repeatPenalty?: number;
}

export interface ChatResult {
  text: string;
  stopReason: StopReason;
  promptTokens: number;
  generatedTokens: number;
  /** Milliseconds from the start of chat() to the first generated token. */
  firstTokenMs?: number;
  totalMs: number;
  /** The model that answered (file name for the local model, model id for a cloud provider). */
  model?: string;
  /** Set when the conversation was trimmed to fit the context: what was left out, in words. */
  notice?: string;
}

/**
 * Instruction-following generation for chat and code actions. The local implementation runs on a
 * context of its own, so a chat never evicts the completion sequence's KV cache; an aborted
 * request resolves with stopReason "aborted" and the text so far.
 */
export interface ChatBackend {
  chat(request: ChatRequest, signal: AbortSignal): Promise<ChatResult>;
}
