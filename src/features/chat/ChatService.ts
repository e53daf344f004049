import { isTaskType, type TaskType } from "../../config/tasks.js";
import type { BackendKind } from "../../inference/router/types.js";
import type { ChatTurn, StopReason } from "../../inference/types.js";
import type { Logger } from "../../util/logger.js";
import { estimateTokens, fitConversation, systemMessage, takeCodebaseMention, type SelectionContext, type SourceChunk } from "./chatPrompt.js";
import { routedChat, type RoutedChatDeps } from "./routedChat.js";

export interface ChatSettings {
  maxTokens: number;
  maxTimeMs: number;
  maxPromptTokens: number;
  temperature: number;
  topP: number;
  topK: number;
  repeatPenalty: number;
  codebaseChunks: number;
  codebaseTokens: number;
}

/** What chat needs from the codebase index: its context builder, and whether it can answer now. */
export interface ChatContextSource {
  searchable(): boolean;
  /** Why the index cannot answer (disabled, still indexing…), in words. */
  unavailableReason(): string;
  buildContext(params: {
    query: string;
    uri?: string;
    cursor?: { line: number; character: number };
    tokenBudget: number;
    k: number;
    signal?: AbortSignal;
  }): Promise<{ chunks: SourceChunk[] }>;
}

export interface ChatInput {
  messages: ReadonlyArray<{ role: string; content: unknown }>;
  /** The document the chat is about and the selected code in it. */
  uri?: string;
  selection?: SelectionContext;
  /** Codebase retrieval; an `@codebase` mention in the last user message turns it on too. */
  codebase?: boolean;
  override?: BackendKind;
  task?: string;
  maxTokens?: number;
}

export interface ChatOutput {
  content: string;
  stopReason: StopReason;
  servedBy: string;
  reason: string;
  reasons: string[];
  backend?: BackendKind;
  provider?: string;
  rule?: string;
  model: string;
  sources: SourceChunk[];
  usage: { promptTokens: number; completionTokens: number; timeToFirstTokenMs?: number; tokensPerSecond?: number; totalMs: number };
  notices: string[];
}

/** Raised for a request that cannot be answered at all (no message with content). */
export class ChatInputError extends Error {
  override readonly name = "ChatInputError";
}

const ROLES = new Set(["system", "user", "assistant"]);

/**
 * A chat request end to end, without LSP: clean the messages, retrieve codebase context when asked,
 * fit the prompt to the budget (with notices), route it (local chat context or a cloud provider)
 * and report the route, sources and usage. Streaming goes through `onText` with the text so far.
 */
export class ChatService {
  constructor(
    private readonly deps: RoutedChatDeps,
    private readonly context: ChatContextSource | undefined,
    private readonly settings: () => ChatSettings,
    private readonly logger: Logger,
  ) {}

  async chat(input: ChatInput, onText: (textSoFar: string) => void, signal: AbortSignal): Promise<ChatOutput> {
    const started = performance.now();
    const settings = this.settings();
    const notices: string[] = [];
    const { turns, userSystem, mentioned } = cleanMessages(input.messages, notices);
    const task: TaskType = isTaskType(input.task) && input.task !== "completion" ? input.task : "chat";
    if (input.task !== undefined && task !== input.task) notices.push(`unknown task type "${String(input.task)}": answered as chat`);

    let sources: SourceChunk[] = [];
    if (input.codebase || mentioned) sources = await this.retrieve(turns, input, settings, notices, signal);

    const system = systemMessage(sources, input.selection, userSystem);
    const budget = Math.max(256, settings.maxPromptTokens - estimateTokens(system));
    const fitted = fitConversation(turns, budget);
    notices.push(...fitted.notices);
    const messages: ChatTurn[] = [{ role: "system", content: system }, ...fitted.messages];
    const contextTokens = messages.reduce((n, m) => n + estimateTokens(m.content) + 4, 0);

    const answer = await routedChat(
      this.deps,
      // The selection is part of the document (uri); the codebase chunks are the other files.
      { task, messages, contextTokens, ...(input.override ? { override: input.override } : {}), ...(input.uri ? { uri: input.uri } : {}), sources: sources.map((c) => c.uri) },
      {
        maxTokens: Math.max(1, Math.min(input.maxTokens ?? settings.maxTokens, settings.maxTokens)),
        maxTimeMs: settings.maxTimeMs,
        temperature: settings.temperature,
        topP: settings.topP,
        topK: settings.topK,
        repeatPenalty: settings.repeatPenalty,
        onText,
      },
      signal,
    );
    const r = answer.result;
    if (r.notice) notices.push(r.notice);
    const genMs = r.firstTokenMs !== undefined ? r.totalMs - r.firstTokenMs : 0;
    const tokensPerSecond = r.generatedTokens >= 2 && genMs > 0 ? Math.round(((r.generatedTokens - 1) * 10_000) / genMs) / 10 : undefined;
    const d = answer.decision;
    this.logger.debug({ servedBy: answer.servedBy, task, promptTokens: r.promptTokens, generated: r.generatedTokens, stop: r.stopReason, sources: sources.length }, "chat answered");
    return {
      content: r.text,
      stopReason: r.stopReason,
      servedBy: answer.servedBy,
      reason: answer.reason,
      reasons: answer.reason === "cancelled" ? ["cancelled"] : answer.reason.split("; "),
      ...(d ? { backend: d.backend, rule: d.rule, ...(d.provider ? { provider: d.provider } : {}) } : {}),
      model: answer.model,
      sources,
      usage: {
        promptTokens: r.promptTokens,
        completionTokens: r.generatedTokens,
        ...(r.firstTokenMs !== undefined ? { timeToFirstTokenMs: Math.round(r.firstTokenMs) } : {}),
        ...(tokensPerSecond !== undefined ? { tokensPerSecond } : {}),
        totalMs: Math.round(performance.now() - started),
      },
      notices,
    };
  }

  private async retrieve(turns: ChatTurn[], input: ChatInput, settings: ChatSettings, notices: string[], signal: AbortSignal): Promise<SourceChunk[]> {
    if (!this.context) {
      notices.push("codebase retrieval is not available here: answered without codebase context");
      return [];
    }
    if (!this.context.searchable()) {
      notices.push(`codebase retrieval skipped: ${this.context.unavailableReason()}`);
      return [];
    }
    const question = [...turns].reverse().find((t) => t.role === "user")?.content ?? "";
    const query = [question.slice(0, 2000), input.selection?.text.slice(0, 1000) ?? ""].join("\n").trim();
    try {
      const { chunks } = await this.context.buildContext({
        query,
        ...(input.uri ? { uri: input.uri } : {}),
        ...(input.selection ? { cursor: { line: input.selection.startLine, character: 0 } } : {}),
        tokenBudget: settings.codebaseTokens,
        k: settings.codebaseChunks,
        signal,
      });
      if (chunks.length === 0) notices.push("codebase retrieval found nothing relevant");
      return chunks;
    } catch (error) {
      if (signal.aborted) return [];
      this.logger.warn({ err: error }, "codebase retrieval failed");
      notices.push(`codebase retrieval failed (${error instanceof Error ? error.message : String(error)}): answered without codebase context`);
      return [];
    }
  }
}

/**
 * Keeps the turns a model can take: known roles and string content; the user's own system
 * messages are merged into one. Anything dropped is named in a notice.
 */
function cleanMessages(raw: ChatInput["messages"], notices: string[]): { turns: ChatTurn[]; userSystem?: string; mentioned: boolean } {
  const list = Array.isArray(raw) ? raw : [];
  const turns: ChatTurn[] = [];
  const systems: string[] = [];
  let skipped = 0;
  for (const m of list) {
    if (!m || typeof m !== "object" || !ROLES.has(m.role) || typeof m.content !== "string") {
      skipped++;
      continue;
    }
    if (m.role === "system") systems.push(m.content);
    else turns.push({ role: m.role as ChatTurn["role"], content: m.content });
  }
  if (skipped > 0) notices.push(`${skipped} message${skipped === 1 ? " was" : "s were"} skipped: each needs a role (system, user, assistant) and text content`);
  let mentioned = false;
  const lastUser = turns.findLastIndex((t) => t.role === "user");
  if (lastUser >= 0) {
    const taken = takeCodebaseMention(turns[lastUser]!.content);
    mentioned = taken.mentioned;
    turns[lastUser] = { role: "user", content: taken.text };
  }
  if (!turns.some((t) => t.role === "user" && t.content.trim() !== "")) {
    throw new ChatInputError("the chat has no user message with text: send messages as [{ role: \"user\", content: \"…\" }]");
  }
  return { turns, ...(systems.length ? { userSystem: systems.join("\n\n") } : {}), mentioned };
}
