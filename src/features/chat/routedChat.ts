import type { CloudRegistry } from "../../inference/cloud/CloudRegistry.js";
import { CloudError } from "../../inference/cloud/errors.js";
import type { ChatMessage } from "../../inference/cloud/fimPrompts.js";
import type { Router } from "../../inference/router/Router.js";
import { runRouted } from "../../inference/router/runRouted.js";
import { redactForCloud } from "../../privacy/redact.js";
import type { TaskType } from "../../config/tasks.js";
import type { BackendKind, RouteDecision } from "../../inference/router/types.js";
import type { ChatBackend, ChatRequest, ChatResult, ChatTurn } from "../../inference/types.js";

export interface RoutedChatDeps {
  router: Router;
  /** The local chat backend (LocalChatBackend on the shared model). */
  local: ChatBackend;
  /** The cloud providers; the router names the one to use. */
  cloud: Pick<CloudRegistry, "client">;
  /** Told about cloud failures a user must fix (a bad key, a wrong URL). */
  onCloudProblem?: (error: CloudError) => void;
}

export interface RoutedChatRoute {
  task: TaskType;
  messages: ChatTurn[];
  /** Tokens of the prompt (an estimate is fine: the router compares it with its thresholds). */
  contextTokens: number;
  override?: BackendKind;
  /** The document the request is about, to keep secrets and ignored files away from cloud APIs. */
  uri?: string;
  /**
   * Every other file whose content is in the messages (codebase chunks, an existing test file).
   * Required, so that no caller can put a file's content in a prompt without the privacy gate
   * seeing it: the router refuses the cloud when any of them must stay local.
   */
  sources: readonly string[];
}

export interface RoutedChatAnswer {
  result: ChatResult;
  /** "local", "cloud:<provider>", or "none" when cancelled before any backend started. */
  servedBy: string;
  /** The router's reasons, fallbacks included, in words ("cancelled" for a cancelled request). */
  reason: string;
  /** The model that answered (local file name or the provider's model id). */
  model: string;
  /** The decision behind the answer; absent for a cancelled request. */
  decision?: RouteDecision;
}

type CloudChatResult = ChatResult & { cloudAttempts?: number };

/**
 * Runs a chat-like task (chat, explain, the code actions) where the router decides: the local
 * chat backend or the cloud provider's chat API, with the fallback the router allows. Messages
 * sent to a cloud API have secrets redacted. A cancelled request resolves with stopReason
 * "aborted" and the text streamed so far; failures without a fallback reject
 * (ModelUnavailableError or the local error).
 */
export async function routedChat(deps: RoutedChatDeps, route: RoutedChatRoute, request: Omit<ChatRequest, "messages">, signal: AbortSignal): Promise<RoutedChatAnswer> {
  const started = performance.now();
  let attempted = "none";
  let model = "";
  let textSoFar = "";
  // A backend that stops on the abort still returns what it generated (counts, model); keep it.
  let stopped: ChatResult | undefined;
  // A cloud stream that is cancelled rejects without its counts; its pieces are counted here instead.
  let cloudPieces = 0;
  const onText = (text: string): void => {
    textSoFar = text;
    request.onText?.(text);
  };
  const answer = await runRouted<CloudChatResult>(
    deps.router,
    {
      task: route.task,
      contextTokens: route.contextTokens,
      ...(route.override ? { override: route.override } : {}),
      ...(route.uri ? { uri: route.uri } : {}),
      sources: route.sources,
    },
    {
      local: async (s) => {
        attempted = "local";
        // A fallback restarts the answer; the client sees the new text from its start.
        textSoFar = "";
        const r = await deps.local.chat({ ...request, messages: route.messages, onText }, s);
        if (r.stopReason === "aborted") stopped = r;
        return r;
      },
      cloud: async (provider, s) => {
        attempted = `cloud:${provider}`;
        textSoFar = "";
        const client = deps.cloud.client(provider);
        if (!client) throw new CloudError("config", `cloud provider ${provider || "(none)"} is not available`);
        model = client.provider.model;
        const messages: ChatMessage[] = await Promise.all(route.messages.map(async (m) => ({ role: m.role, content: (await redactForCloud(m.content)).text })));
        s.throwIfAborted();
        cloudPieces = 0;
        const onPiece = (text: string): void => {
          cloudPieces++;
          onText(text);
        };
        const r = await client.chat(messages, { maxTokens: request.maxTokens, temperature: request.temperature, maxTimeMs: request.maxTimeMs, onText: onPiece }, s);
        return {
          text: r.text,
          stopReason: r.stopReason,
          // Streaming APIs do not report usage; the router's estimate stands in.
          promptTokens: route.contextTokens,
          generatedTokens: r.generatedTokens,
          totalMs: r.totalMs,
          model,
          ...(r.firstTokenMs !== undefined ? { firstTokenMs: r.firstTokenMs } : {}),
          cloudAttempts: r.attempts,
        };
      },
      cancelled: (r) => r.stopReason === "aborted",
      attempts: (r) => r.cloudAttempts,
    },
    signal,
    deps.onCloudProblem,
  );
  if (!answer) {
    const result: ChatResult = stopped
      ? { ...stopped, text: textSoFar || stopped.text, totalMs: performance.now() - started }
      : { text: textSoFar, stopReason: "aborted", promptTokens: 0, generatedTokens: attempted.startsWith("cloud") ? cloudPieces : 0, totalMs: performance.now() - started };
    return { result, servedBy: attempted, reason: "cancelled", model: stopped?.model ?? model };
  }
  const { cloudAttempts: _attempts, ...result } = answer.value;
  return { result, servedBy: answer.servedBy, reason: answer.reason, model: result.model ?? model, decision: answer.decision };
}
