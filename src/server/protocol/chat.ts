/** `ifai/chat` and its streamed pieces (re-exported by ../protocol.ts). */
/**
 * `ifai/chat` (client → server request): one chat answer, streamed. With a partialResultToken
 * the answer streams as `$/progress` { token, value: ChatPartialResult }; else with a
 * workDoneToken as work-done progress whose reports carry the same fields (`message` is the
 * delta); else as `ifai/chatDelta` notifications (eglot 1.9 drops `$/progress`). The final
 * response always carries the whole answer. `$/cancelRequest` stops generation at once; the
 * response then has stopReason "aborted" and the text so far.
 */
export const ChatRequest = { method: "ifai/chat" } as const;
export interface ChatParams {
  messages: Array<{ role: "system" | "user" | "assistant"; content: string }>;
  /** The document the chat is about; with `selection`, the selected code joins the prompt. */
  textDocument?: { uri: string };
  selection?: { start: { line: number; character: number }; end: { line: number; character: number } };
  /** Codebase retrieval from the index; an `@codebase` mention in the last user message turns it on too. */
  codebase?: boolean;
  /** Where to run it; absent or "auto": the router decides. */
  backend?: "local" | "cloud" | "auto";
  /** Router task type (chat, explain, architecture, deepRefactor…); default "chat". */
  task?: string;
  /** Most tokens of the answer (at most chat.maxTokens). */
  maxTokens?: number;
  /** Echoed in every delta so a client can match notifications to its request; default: one the server makes. */
  chatId?: string;
  workDoneToken?: string | number;
  partialResultToken?: string | number;
}
/** One piece of a streamed answer: the deltas in `seq` order concatenate to the answer's content. */
export interface ChatPartialResult {
  chatId: string;
  seq: number;
  delta: string;
}
/** `ifai/chatDelta` (server → client notification): a streamed piece of an `ifai/chat` or `ifai.chat` answer. */
export const ChatDeltaNotification = { method: "ifai/chatDelta" } as const;
export type ChatDeltaParams = ChatPartialResult;
export interface ChatSource {
  uri: string;
  /** Workspace-relative path. */
  path: string;
  range: { start: { line: number; character: number }; end: { line: number; character: number } };
  score: number;
  symbol?: string;
}
export interface ChatResponse {
  chatId: string;
  content: string;
  /** end-of-generation | stop-token | max-tokens | max-time | aborted */
  stopReason: string;
  route: {
    /** "local", "cloud:<provider>", or "none" (cancelled before a backend started). */
    servedBy: string;
    backend?: "local" | "cloud";
    provider?: string;
    rule?: string;
    reasons: string[];
  };
  /** The model that answered: the local GGUF file name or the provider's model id. */
  model: string;
  sources: ChatSource[];
  usage: {
    promptTokens: number;
    completionTokens: number;
    timeToFirstTokenMs?: number;
    tokensPerSecond?: number;
    totalMs: number;
  };
  /** What the server changed about the request (messages trimmed to the budget, retrieval skipped…), in words. */
  notices: string[];
}
