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
  /** For state "error": what went wrong and what to configure, in one sentence a user can act on. */
  message?: string;
  /** The compute backend in use once loaded: "cpu", "cuda", "vulkan" or "metal". */
  gpu?: string;
  threads?: number;
  /** How long the last load took. */
  loadMs?: number;
  /** Generation speed of the last request that generated at least a few tokens. */
  lastTokensPerSecond?: number;
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
  totalMs: number;
}

/** Thrown when no model can serve: the message says what to configure. */
export class ModelUnavailableError extends Error {
  override readonly name = "ModelUnavailableError";
}

export interface CompletionBackend {
  status(): ModelStatus;
  /** Resolves once the model is loaded (loading it lazily); rejects with ModelUnavailableError. */
  tokenizer(signal: AbortSignal): Promise<Tokenizer>;
  /** Generates a completion; a request aborted through `signal` resolves with stopReason "aborted". */
  generate(request: GenerateRequest, signal: AbortSignal): Promise<GenerateResult>;
}
