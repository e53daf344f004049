import type { Logger } from "../../util/logger.js";
import { CloudError } from "../cloud/errors.js";
import type { CloudRegistry } from "../cloud/CloudRegistry.js";
import {
  ModelUnavailableError,
  type ChatTurn,
  type CompletionBackend,
  type FimParts,
  type GenerateRequest,
  type GenerateResult,
  type ModelStatus,
  type PrefillRequest,
  type PrefillResult,
  type Tokenizer,
} from "../types.js";
import type { Router } from "./Router.js";
import { runRouted } from "./runRouted.js";
import { redactForCloud, sensitiveFileReason } from "../../privacy/index.js";
import { isTaskType } from "../../config/tasks.js";

/** Characters per token assumed when no local tokenizer is at hand (code averages 3–4). */
const CHARS_PER_TOKEN = 3;
const estimateTokens = (text: string): number => Math.ceil(text.length / CHARS_PER_TOKEN);
const ESTIMATOR: Tokenizer = { countTokens: estimateTokens };

type CloudGenerateResult = GenerateResult & { cloudAttempts?: number };

/**
 * The completion backend the feature talks to: each request goes to the local model or a cloud
 * provider as the router decides, falls back when the chosen one fails, and its result says
 * which backend served it and why. The local path adds only the decision (no I/O) to a keystroke.
 */
export class RoutedCompletionBackend implements CompletionBackend {
  constructor(
    private readonly local: CompletionBackend,
    private readonly router: Router,
    private readonly cloud: CloudRegistry,
    private readonly logger: Logger,
    /** Told about cloud failures a user must fix (a bad key, a wrong URL). */
    private readonly onCloudProblem: (error: CloudError) => void = () => undefined,
    /** Why a cross-file snippet's document must stay local (the privacy gate's context check), or undefined. */
    private readonly snippetRefusal: (source: string) => string | undefined = sensitiveFileReason,
  ) {}

  status(): ModelStatus {
    return this.local.status();
  }

  /**
   * The local tokenizer, unless completions can only go to the cloud (then the local model is not
   * loaded just to count) or the local model is unavailable and the cloud may stand in.
   */
  async tokenizer(signal: AbortSignal): Promise<Tokenizer> {
    const { preference } = this.router.preferenceFor("completion");
    const blocked = this.router.cloudBlocked({ task: "completion" });
    if (preference === "cloud" && !blocked) return ESTIMATOR;
    try {
      return await this.local.tokenizer(signal);
    } catch (error) {
      if (error instanceof ModelUnavailableError && !blocked && preference !== "local" && this.router.settings().fallback) return ESTIMATOR;
      throw error;
    }
  }

  /**
   * Warms the local model's cache, unless completions go to the cloud by preference (then the
   * local KV state would never be used). Nothing here leaves the machine.
   */
  warmSlots(): string[] {
    return this.local.warmSlots?.() ?? [];
  }

  async prefill(request: PrefillRequest, signal: AbortSignal): Promise<PrefillResult> {
    const { preference } = this.router.preferenceFor("completion");
    const cloudOnly = preference === "cloud" && !this.router.cloudBlocked({ task: "completion" });
    if (cloudOnly || !this.local.prefill) return { state: "skipped", promptTokens: 0, reusedTokens: 0, evaluatedTokens: 0, totalMs: 0 };
    return this.local.prefill(request, signal);
  }

  async generate(request: GenerateRequest, signal: AbortSignal): Promise<GenerateResult> {
    const started = performance.now();
    const hints = request.routing ?? {};
    const contextTokens = hints.contextTokens ?? estimatePrompt(request);
    const answer = await runRouted<CloudGenerateResult>(
      this.router,
      {
        task: isTaskType(hints.task) ? hints.task : "completion",
        contextTokens,
        ...(hints.countContextTokens ? { countContextTokens: hints.countContextTokens } : {}),
        ...(hints.override ? { override: hints.override } : {}),
        ...(hints.uri ? { uri: hints.uri } : {}),
        ...(hints.sources ? { sources: hints.sources } : {}),
        cloudCapable: request.fim !== undefined || request.chat !== undefined,
      },
      {
        local: (s) => this.local.generate(request, s),
        cloud: (provider, s) => this.generateInCloud(provider, request, contextTokens, s),
        cancelled: (r) => r.stopReason === "aborted",
        attempts: (r) => r.cloudAttempts,
      },
      signal,
      this.onCloudProblem,
    );
    if (!answer) return abortedResult(started);
    const { cloudAttempts: _attempts, ...result } = answer.value;
    return { ...result, promptTokens: answer.servedBy === "local" ? result.promptTokens : answer.decision.contextTokens, backend: answer.servedBy, reason: answer.reason };
  }

  /** A request given as chat messages (a next edit): its messages with secrets redacted, through the provider's chat API. */
  private async chatInCloud(
    client: NonNullable<ReturnType<CloudRegistry["client"]>>,
    request: GenerateRequest,
    chat: ChatTurn[],
    promptTokens: number,
    signal: AbortSignal,
  ): Promise<CloudGenerateResult> {
    const messages = await Promise.all(chat.map(async (m) => ({ role: m.role, content: (await redactForCloud(m.content)).text })));
    signal.throwIfAborted();
    const result = await client.chat(
      messages,
      // No shouldStop: it reads the local prompt's answer (which a prefill opened); a chat model ends its own answer.
      { maxTokens: request.maxTokens, temperature: request.temperature, maxTimeMs: request.maxTimeMs },
      signal,
    );
    return {
      text: result.text,
      stopReason: result.stopReason,
      promptTokens,
      reusedTokens: 0,
      evaluatedTokens: promptTokens,
      generatedTokens: result.generatedTokens,
      totalMs: result.totalMs,
      ...(result.firstTokenMs !== undefined ? { firstTokenMs: result.firstTokenMs } : {}),
      cloudAttempts: result.attempts,
    };
  }

  private async generateInCloud(name: string, request: GenerateRequest, promptTokens: number, signal: AbortSignal): Promise<CloudGenerateResult> {
    const client = this.cloud.client(name);
    if (client && !request.fim && request.chat) return this.chatInCloud(client, request, request.chat, promptTokens, signal);
    if (!client || !request.fim) throw new CloudError("config", `cloud provider ${name || "(none)"} is not available`);
    const result = await client.completeFim(
      await forCloud(request.fim, this.snippetRefusal),
      { maxTokens: request.maxTokens, temperature: request.temperature, maxTimeMs: request.maxTimeMs, ...(request.shouldStop ? { shouldStop: request.shouldStop } : {}) },
      signal,
    );
    this.logger.debug({ provider: name, attempts: result.attempts, chunks: result.generatedTokens, ms: Math.round(result.totalMs) }, "cloud completion");
    return {
      text: result.text,
      stopReason: result.stopReason,
      promptTokens,
      reusedTokens: 0,
      evaluatedTokens: promptTokens,
      generatedTokens: result.generatedTokens,
      totalMs: result.totalMs,
      ...(result.firstTokenMs !== undefined ? { firstTokenMs: result.firstTokenMs } : {}),
      cloudAttempts: result.attempts,
    };
  }
}

/**
 * The FIM parts a cloud API may see: snippets only from documents the privacy gate lets go (judged
 * by their document, else by their path, so a snippet of unknown origin stays local), secrets
 * redacted in everything. Snippets are dropped rather than the request refused: they are optional
 * context, and the current document itself was already checked by the router.
 */
export async function forCloud(fim: FimParts, refusal: (source: string) => string | undefined = sensitiveFileReason): Promise<FimParts> {
  const allowed = fim.snippets.filter((s) => !sensitiveFileReason(s.path) && !refusal(s.uri ?? s.path));
  const [prefix, suffix, ...texts] = await Promise.all([fim.prefix, fim.suffix, ...allowed.map((s) => s.text)].map(async (t) => (await redactForCloud(t)).text));
  return { ...fim, prefix: prefix!, suffix: suffix!, snippets: allowed.map((s, i) => ({ path: s.path, text: texts[i]! })) };
}

function estimatePrompt(request: GenerateRequest): number {
  if (request.fim) return estimateTokens(request.fim.prefix) + estimateTokens(request.fim.suffix) + request.fim.snippets.reduce((n, s) => n + estimateTokens(s.text), 0);
  return request.prompt.reduce((n, p) => n + (p.kind === "text" ? estimateTokens(p.text) : 1), 0);
}

function abortedResult(started: number): GenerateResult {
  return { text: "", stopReason: "aborted", promptTokens: 0, reusedTokens: 0, evaluatedTokens: 0, generatedTokens: 0, totalMs: performance.now() - started };
}
