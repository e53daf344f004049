import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError, OpenAIError } from "openai/error";
import { redactSecrets } from "../router/sensitive.js";

export type CloudErrorKind =
  | "config"
  | "auth"
  | "forbidden"
  | "not-found"
  | "bad-request"
  | "rate-limit"
  | "server"
  | "timeout"
  | "unreachable"
  | "bad-response"
  | "aborted";

/** Kinds worth another attempt: the same request may succeed a moment later. */
const RETRYABLE = new Set<CloudErrorKind>(["rate-limit", "server", "timeout", "unreachable"]);

/**
 * A cloud failure with a message a user can act on: what happened, at which provider, and the
 * fix. Messages never carry the API key (it is scrubbed even when a server echoes it back).
 */
export class CloudError extends Error {
  override readonly name = "CloudError";
  readonly retryable: boolean;
  /** Attempts made before giving up (retries included). */
  attempts = 1;

  constructor(
    readonly kind: CloudErrorKind,
    message: string,
    readonly status?: number,
    /** The wait a Retry-After header asked for. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.retryable = RETRYABLE.has(kind);
  }

  /** A short label for reasons and counts: "HTTP 429", "time-out", "unreachable". */
  get short(): string {
    if (this.status) return `HTTP ${this.status}`;
    return this.kind;
  }
}

export interface ErrorContext {
  provider: string;
  url: string;
  apiKeyEnv: string;
  apiKey?: string;
  timeoutMs: number;
}

/** Turns whatever the SDK or fetch threw into a CloudError with a clear message. */
export function classifyCloudError(error: unknown, ctx: ErrorContext): CloudError {
  if (error instanceof CloudError) return error;
  const where = `cloud provider "${ctx.provider}" (${ctx.url})`;
  const detail = scrub(errorText(error), ctx.apiKey);
  if (error instanceof APIUserAbortError) return new CloudError("aborted", `${where}: request cancelled`);
  if (error instanceof APIConnectionTimeoutError) return timeoutError(ctx);
  if (error instanceof APIConnectionError) {
    return new CloudError("unreachable", `${where} is unreachable (${causeText(error) || detail}); check that the server runs and that "baseUrl" is right`);
  }
  if (error instanceof APIError && typeof error.status === "number") {
    const status = error.status;
    const retryAfterMs = retryAfter(error.headers);
    const said = detail ? `: ${detail}` : "";
    if (status === 401) {
      const fix = ctx.apiKeyEnv
        ? `set a valid key in the environment variable ${ctx.apiKeyEnv} (it may have expired or been revoked) and restart the editor`
        : 'this server needs an API key: name the environment variable that holds it in the provider\'s "apiKeyEnv"';
      return new CloudError("auth", `${where} rejected the API key (HTTP 401)${said}; ${fix}`, status);
    }
    if (status === 403) return new CloudError("forbidden", `${where} refused the request (HTTP 403)${said}; check the key's permissions and the model's availability for your account`, status);
    if (status === 404) return new CloudError("not-found", `${where} has no such endpoint or model (HTTP 404)${said}; check "baseUrl" (it usually ends in /v1), "model", and "completionApi"`, status);
    if (status === 429) return new CloudError("rate-limit", `${where} is rate-limiting (HTTP 429)${said}`, status, retryAfterMs);
    if (status >= 500 || status === 408 || status === 409) return new CloudError("server", `${where} failed (HTTP ${status})${said}`, status, retryAfterMs);
    return new CloudError("bad-request", `${where} rejected the request (HTTP ${status})${said}; check "model" and "completionApi"`, status);
  }
  if (error instanceof OpenAIError) return new CloudError("bad-response", `${where} gave an answer that is not OpenAI-compatible (${detail})`);
  if (error instanceof Error && (error.name === "AbortError" || error.name === "TimeoutError")) return new CloudError("aborted", `${where}: request cancelled`);
  return new CloudError("unreachable", `${where} failed: ${detail}`);
}

export function timeoutError(ctx: Pick<ErrorContext, "provider" | "url" | "timeoutMs">): CloudError {
  return new CloudError("timeout", `cloud provider "${ctx.provider}" (${ctx.url}) did not answer within ${ctx.timeoutMs} ms (cloud.timeoutMs)`);
}

/** Removes the key (and anything secret-looking) from text that may reach a log or a message. */
export function scrub(text: string, apiKey?: string): string {
  let out = text;
  if (apiKey && apiKey.length >= 4) out = out.split(apiKey).join("[key]");
  return redactSecrets(out).text;
}

function errorText(error: unknown): string {
  if (error instanceof APIError) {
    const body = error.error as { message?: unknown } | undefined;
    if (body && typeof body.message === "string") return body.message.slice(0, 300);
  }
  const text = error instanceof Error ? error.message : String(error);
  return text.replace(/\s+/g, " ").slice(0, 300);
}

function causeText(error: Error): string {
  // fetch wraps the socket error a few levels down (TypeError "fetch failed" → Error with a code).
  let current: unknown = error;
  let message = "";
  for (let depth = 0; depth < 6 && current; depth++) {
    const e = current as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown[] };
    if (typeof e.code === "string" && /^E[A-Z_]+$/.test(e.code)) return e.code;
    if (typeof e.message === "string" && e.message) message = e.message;
    current = e.cause ?? e.errors?.[0];
  }
  return message;
}

function retryAfter(headers: Headers | undefined): number | undefined {
  const ms = headers?.get("retry-after-ms");
  if (ms && Number.isFinite(Number(ms))) return Number(ms);
  const s = headers?.get("retry-after");
  if (s && Number.isFinite(Number(s))) return Number(s) * 1000;
  return undefined;
}
