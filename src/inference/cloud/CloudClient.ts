import type OpenAI from "openai";
import { gatedFetch } from "../../privacy/egress.js";
import { abortableDelay } from "../../util/delay.js";
import type { Logger } from "../../util/logger.js";
import type { FimParts, StopReason } from "../types.js";
import { CloudError, classifyCloudError, scrub, timeoutError, type ErrorContext } from "./errors.js";
import { chatCompletionPrompt, completionsPrompt, extractChatCompletion, type ChatMessage } from "./fimPrompts.js";
import type { ResolvedProvider } from "./providers.js";

/** The openai SDK costs ~140 ms to import; it is loaded on the first cloud request, not at start-up. */
let OpenAIClass: typeof OpenAI | undefined;
async function loadSdk(): Promise<typeof OpenAI> {
  OpenAIClass ??= (await import("openai")).default;
  return OpenAIClass;
}

export interface CloudOptions {
  /** Per attempt: the longest wait for the answer to start, and between streamed chunks. */
  timeoutMs: number;
  maxRetries: number;
  retryBaseMs: number;
  maxRetryDelayMs: number;
}

export interface StreamParams {
  maxTokens: number;
  temperature: number;
  /** Generation budget from the call; when it runs out the text so far is returned ("max-time"). */
  maxTimeMs?: number;
  /** Called with the (extracted) text so far; true ends the stream ("should-stop"). */
  shouldStop?: (textSoFar: string) => boolean;
  /** Called as text streams in. */
  onText?: (textSoFar: string) => void;
}

export interface CloudResult {
  text: string;
  stopReason: StopReason;
  /** Attempts made, retries included. */
  attempts: number;
  /** Streamed chunks (close to tokens for most servers). */
  generatedTokens: number;
  firstTokenMs?: number;
  totalMs: number;
  /** Time spent waiting between attempts. */
  backoffMs: number;
}

type Api = "completions" | "chat";

/**
 * One OpenAI-compatible provider through the openai SDK: streaming, cancellation through an
 * AbortSignal, a time-out per attempt (to the first chunk and between chunks), and bounded
 * retries with exponential backoff done here rather than in the SDK, so their number and timing
 * follow the settings and the router sees every failure.
 */
export class CloudClient {
  private readonly clients = new Map<string, OpenAI>();
  private readonly apiKey: string | undefined;

  constructor(
    readonly provider: ResolvedProvider,
    private readonly options: CloudOptions,
    private readonly logger: Logger,
    env: NodeJS.ProcessEnv = process.env,
  ) {
    this.apiKey = provider.apiKeyEnv ? env[provider.apiKeyEnv] || undefined : undefined;
  }

  /** Fill-in-the-middle through the provider's completion API (a suffix-aware endpoint, else chat). */
  completeFim(fim: FimParts, params: StreamParams, signal: AbortSignal): Promise<CloudResult> {
    const p = this.provider;
    if (p.completionApi === "completions") {
      const { prompt, suffix } = completionsPrompt(fim);
      const body = { model: p.completionModel, prompt, suffix, max_tokens: params.maxTokens, temperature: params.temperature, stream: true as const };
      return this.stream("completions", p.completionBaseUrl, body, params, signal, (raw) => raw);
    }
    const body = { model: p.completionModel, messages: chatCompletionPrompt(fim), max_tokens: params.maxTokens, temperature: params.temperature, stream: true as const };
    return this.stream("chat", p.baseUrl, body, params, signal, (raw) => extractChatCompletion(raw, fim));
  }

  /** A chat answer, streamed (for chat and code actions). */
  chat(messages: ChatMessage[], params: StreamParams, signal: AbortSignal): Promise<CloudResult> {
    const body = { model: this.provider.model, messages, max_tokens: params.maxTokens, temperature: params.temperature, stream: true as const };
    return this.stream("chat", this.provider.baseUrl, body, params, signal, (raw) => raw);
  }

  private async stream(api: Api, baseUrl: string, body: object, params: StreamParams, signal: AbortSignal, transform: (raw: string) => string): Promise<CloudResult> {
    const started = performance.now();
    const deadline = params.maxTimeMs !== undefined ? started + params.maxTimeMs : Infinity;
    const ctx = this.context(api, baseUrl);
    if (this.provider.apiKeyEnv && !this.apiKey) {
      throw new CloudError("config", `cloud provider "${this.provider.name}" needs an API key: set the environment variable ${this.provider.apiKeyEnv} where the editor starts the server`);
    }
    let backoffMs = 0;
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await this.attempt(api, baseUrl, body, params, signal, transform, started, deadline, ctx);
        return { ...result, attempts: attempt, backoffMs, totalMs: performance.now() - started };
      } catch (thrown) {
        const error = classifyCloudError(thrown, ctx);
        if (error.kind === "aborted" || signal.aborted) throw new CloudError("aborted", error.message);
        const wait = this.backoff(attempt, error.retryAfterMs);
        const last = attempt > this.options.maxRetries || !error.retryable || performance.now() + wait >= deadline;
        this.logger.info({ provider: this.provider.name, api, attempt, kind: error.kind, status: error.status, retryInMs: last ? undefined : Math.round(wait) }, scrub(error.message, this.apiKey));
        if (last) throw attachAttempts(error, attempt);
        await sleep(wait, signal);
        backoffMs += wait;
      }
    }
  }

  private async attempt(
    api: Api,
    baseUrl: string,
    body: object,
    params: StreamParams,
    signal: AbortSignal,
    transform: (raw: string) => string,
    started: number,
    deadline: number,
    ctx: ErrorContext,
  ): Promise<Omit<CloudResult, "attempts" | "backoffMs" | "totalMs">> {
    const controller = new AbortController();
    let why: "timeout" | "max-time" | "cancel" | undefined;
    const stop = (reason: typeof why): void => {
      why ??= reason;
      controller.abort();
    };
    const onAbort = (): void => stop("cancel");
    if (signal.aborted) throw new CloudError("aborted", "request cancelled");
    signal.addEventListener("abort", onAbort, { once: true });
    let idle = setTimeout(() => stop("timeout"), this.options.timeoutMs);
    const untilDeadline = deadline - performance.now();
    const budget = Number.isFinite(untilDeadline) ? setTimeout(() => stop("max-time"), Math.max(0, untilDeadline)) : undefined;
    let raw = "";
    let text = "";
    let chunks = 0;
    let firstTokenMs: number | undefined;
    let stopReason: StopReason = "end-of-generation";
    try {
      const client = this.client(baseUrl, await loadSdk());
      const options = { signal: controller.signal, maxRetries: 0, timeout: this.options.timeoutMs + 60_000 };
      const request =
        api === "completions"
          ? client.completions.create(body as OpenAI.CompletionCreateParamsStreaming, options)
          : client.chat.completions.create(body as OpenAI.ChatCompletionCreateParamsStreaming, options);
      const { data: stream, response } = await request.withResponse();
      checkContentType(response, ctx);
      if (isPlainJson(response)) {
        // Some servers ignore "stream": true and send the whole answer as one JSON object; the
        // event-stream parser would find no events in it and report an empty success.
        const whole = await plainJsonAnswer(response, ctx);
        if (whole.text) {
          chunks = 1;
          firstTokenMs = performance.now() - started;
          raw = whole.text;
          text = transform(raw);
          params.onText?.(text);
        }
        if (whole.finishReason === "length") stopReason = "max-tokens";
        return { text, stopReason, generatedTokens: chunks, ...(firstTokenMs !== undefined ? { firstTokenMs } : {}) };
      }
      let events = 0;
      for await (const chunk of stream as AsyncIterable<{ choices?: Array<{ text?: string; delta?: { content?: string | null }; finish_reason?: string | null }> }>) {
        clearTimeout(idle);
        idle = setTimeout(() => stop("timeout"), this.options.timeoutMs);
        events++;
        const choice = chunk.choices?.[0];
        const piece = choice?.text ?? choice?.delta?.content ?? "";
        if (piece) {
          chunks++;
          firstTokenMs ??= performance.now() - started;
          raw += piece;
          text = transform(raw);
          params.onText?.(text);
          if (params.shouldStop?.(text)) {
            stopReason = "should-stop";
            break;
          }
        }
        if (choice?.finish_reason === "length") stopReason = "max-tokens";
      }
      // The SDK ends a stream quietly when its signal aborts mid-answer (no exception): a cancel or
      // a time-out then looks like a finished answer unless it is handled as the error it is.
      if (why) throw new CloudError("aborted", `stream stopped (${why})`);
      // An event stream that closes without one event is not an empty answer but a broken reply.
      if (events === 0 && !stopReasonIsEarly(stopReason)) throw new CloudError("bad-response", `cloud provider "${ctx.provider}": ${ctx.url} ended without sending any answer (an empty event stream)`);
    } catch (error) {
      // The caller's time budget ran out: the text so far is the answer, marked as cut by time.
      if (why === "max-time" && raw) return { text, stopReason: "max-time", generatedTokens: chunks, ...(firstTokenMs !== undefined ? { firstTokenMs } : {}) };
      // The server went silent mid-answer: that is the provider failing (retried), not an answer
      // the time limit cut off, which is what returning the partial text used to claim.
      if (why === "timeout" && raw) {
        throw new CloudError("timeout", `cloud provider "${ctx.provider}" (${ctx.url}) stopped sending mid-answer: nothing for ${ctx.timeoutMs} ms (cloud.timeoutMs) after ${chunks} pieces`);
      }
      if (why === "timeout" || why === "max-time") throw timeoutError(ctx);
      if (why === "cancel") throw new CloudError("aborted", "request cancelled");
      throw error;
    } finally {
      clearTimeout(idle);
      if (budget) clearTimeout(budget);
      signal.removeEventListener("abort", onAbort);
    }
    return { text, stopReason, generatedTokens: chunks, ...(firstTokenMs !== undefined ? { firstTokenMs } : {}) };
  }

  /** Exponential backoff with up to 25% jitter; a server's Retry-After wins, within the cap. */
  private backoff(attempt: number, retryAfterMs: number | undefined): number {
    const { retryBaseMs, maxRetryDelayMs } = this.options;
    const computed = retryBaseMs * 2 ** (attempt - 1) * (1 - Math.random() * 0.25);
    return Math.min(maxRetryDelayMs, retryAfterMs ?? computed);
  }

  private client(baseUrl: string, Sdk: typeof OpenAI): OpenAI {
    let client = this.clients.get(baseUrl);
    if (!client) {
      // Everything is passed explicitly so that OPENAI_* environment variables meant for other
      // tools never redirect a request or attach another key; the SDK logs nothing itself.
      client = new Sdk({
        apiKey: this.apiKey ?? "no-key",
        baseURL: baseUrl,
        organization: null,
        project: null,
        webhookSecret: null,
        maxRetries: 0,
        logLevel: "off",
        fetch: gatedFetch("cloud API"),
      });
      this.clients.set(baseUrl, client);
    }
    return client;
  }

  private context(api: Api, baseUrl: string): ErrorContext {
    return {
      provider: this.provider.name,
      url: `${baseUrl}/${api === "completions" ? "completions" : "chat/completions"}`,
      apiKeyEnv: this.provider.apiKeyEnv,
      timeoutMs: this.options.timeoutMs,
      ...(this.apiKey ? { apiKey: this.apiKey } : {}),
    };
  }
}

/** A stream answered with a web page (a wrong base URL, a login portal) is named as such. */
function checkContentType(response: Response, ctx: ErrorContext): void {
  const type = response.headers.get("content-type") ?? "";
  if (/text\/event-stream|application\/(x-)?ndjson|application\/json/i.test(type) || !type) return;
  if (/html/i.test(type)) {
    throw new CloudError(
      "bad-response",
      `cloud provider "${ctx.provider}": ${ctx.url} answered with an HTML page, not an OpenAI-compatible API; check "baseUrl" (it is the API root, usually ending in /v1)`,
    );
  }
  throw new CloudError("bad-response", `cloud provider "${ctx.provider}": ${ctx.url} answered with ${type.split(";")[0]}, not a server-sent event stream; check "baseUrl"`);
}

function isPlainJson(response: Response): boolean {
  return /application\/json/i.test(response.headers.get("content-type") ?? "");
}

/** The answer in a non-streamed JSON reply, or a CloudError naming what the server said instead. */
async function plainJsonAnswer(response: Response, ctx: ErrorContext): Promise<{ text: string; finishReason?: string }> {
  const where = `cloud provider "${ctx.provider}" (${ctx.url})`;
  let body: unknown;
  try {
    body = JSON.parse(await response.text());
  } catch {
    throw new CloudError("bad-response", `${where} answered a streaming request with a body that is not JSON`);
  }
  const o = (typeof body === "object" && body !== null ? body : {}) as {
    error?: { message?: unknown } | string;
    choices?: Array<{ text?: unknown; message?: { content?: unknown }; finish_reason?: unknown }>;
  };
  if (o.error !== undefined) {
    const said = typeof o.error === "string" ? o.error : typeof o.error?.message === "string" ? o.error.message : JSON.stringify(o.error);
    throw new CloudError("bad-response", `${where} answered with an error: ${scrub(String(said).slice(0, 300), ctx.apiKey)}`);
  }
  const choice = Array.isArray(o.choices) ? o.choices[0] : undefined;
  const text = typeof choice?.message?.content === "string" ? choice.message.content : typeof choice?.text === "string" ? choice.text : undefined;
  if (text === undefined) throw new CloudError("bad-response", `${where} answered a streaming request with JSON that holds no completion (no choices[0].message.content or .text)`);
  return { text, ...(typeof choice?.finish_reason === "string" ? { finishReason: choice.finish_reason } : {}) };
}

/** A stream ended by our own shouldStop is complete whatever it received. */
function stopReasonIsEarly(reason: StopReason): boolean {
  return reason === "should-stop";
}

function attachAttempts(error: CloudError, attempts: number): CloudError {
  error.attempts = attempts;
  return error;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return abortableDelay(ms, signal, () => new CloudError("aborted", "request cancelled"));
}
