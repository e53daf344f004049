import { abortableDelay } from "../../util/delay.js";
import type { Logger } from "../../util/logger.js";
import { ModelUnavailableError, type CompletionBackend, type GenerateResult } from "../../inference/types.js";
import { ABORTED, raceAbort } from "../../util/raceAbort.js";
import { CompletionCache } from "./CompletionCache.js";
import { CompletionPrompts, CONTEXT_CHARS } from "./CompletionPrompts.js";
import { cutAtJunk, normalizeLineEndings, restoreLineEndings, restoreOffset } from "./lineEndings.js";
import { topWindowEnd } from "./contextWindow.js";
import { postprocessCompletion } from "./postprocess.js";
import { OpenDocumentSnippets, type SnippetSource } from "./snippets.js";
import { stopRule } from "./stopRule.js";
import { TokenCounts } from "./tokenCounts.js";
import type { CompletionMetrics, CompletionOutcome, CompletionRequest, CompletionSource, PromptLane } from "./types.js";

export interface CompletionSettings {
  enabled: boolean;
  debounceMs: number;
  maxPrefixTokens: number;
  maxSuffixTokens: number;
  maxSnippetTokens: number;
  maxTokens: number;
  maxMultilineTokens: number;
  maxTimeMs: number;
  temperature: number;
  cacheSize: number;
  /** Evaluate a document's prompt in the background when it is opened, focused or paused in. */
  prefill: boolean;
  /** Prefix budget of a first suggestion whose full prompt is not evaluated yet; 0: always the full prompt. */
  firstPrefixTokens: number;
  /** Typed lines kept after the fill-in-the-middle marker, so keystrokes reuse the suffix's KV cache; 0: off. */
  middleLines: number;
}

/** One background prefill, for `ifai/completionMetrics` and tests. */
export interface PrefillRecord {
  uri: string;
  /** What started it; "upgrade": an answer came from the short first prompt, so the full one is due. */
  reason: "open" | "focus" | "pause" | "upgrade";
  lane: PromptLane;
  /** done: the prompt is cached; aborted: a request (or a newer prefill) stopped it; skipped: nothing was evaluated. */
  state: "done" | "aborted" | "skipped";
  promptTokens: number;
  reusedTokens: number;
  evaluatedTokens: number;
  totalMs: number;
  detail?: string;
}

/** How many recent requests' metrics are kept for `ifai/completionMetrics` and benchmarks. */
const METRICS_KEPT = 500;
/**
 * After an answer from a document's short first prompt, how long no keystroke must follow before
 * its full prompt is evaluated in the background: a person's hesitation, longer than the gap
 * between keystrokes of fast typing.
 */
const UPGRADE_AFTER_MS = 250;

/**
 * Code completion: from a document and cursor to a cleaned-up suggestion.
 *
 * Latest request wins: a new request aborts the one in flight, which is answered empty at once
 * (its model work stops at the next evaluation step). Cache and typing-through answers come
 * before the debounce, so they cost no wait and no model time.
 */
export class CompletionService {
  private settings: CompletionSettings;
  private readonly cache: CompletionCache;
  private readonly prompts: CompletionPrompts;
  private readonly counts = new TokenCounts();
  private inflight: AbortController | undefined;
  /** Model work of requests still running, superseded ones included (they stop within a step). */
  private modelRuns = 0;
  private prefilling: AbortController | undefined;
  private upgradeTimer: NodeJS.Timeout | undefined;
  private readonly recentPrefills: PrefillRecord[] = [];
  private nextId = 1;
  private readonly recent: CompletionMetrics[] = [];
  private active = 0;
  private readonly activityListeners: Array<(busy: boolean) => void> = [];

  constructor(
    private readonly backend: CompletionBackend,
    settings: CompletionSettings,
    private readonly logger: Logger,
    private readonly snippetSource: SnippetSource = new OpenDocumentSnippets(),
  ) {
    this.settings = { ...settings };
    this.cache = new CompletionCache(settings.cacheSize);
    this.prompts = new CompletionPrompts(backend, snippetSource, () => this.settings);
  }

  /**
   * Listens for the service starting (true) and finishing (false) requests, so background work
   * such as indexing can yield to completions.
   */
  onActivity(listener: (busy: boolean) => void): void {
    this.activityListeners.push(listener);
  }

  private beginActivity(): () => void {
    if (this.active++ === 0) for (const l of this.activityListeners) l(true);
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      if (--this.active === 0) for (const l of this.activityListeners) l(false);
    };
  }

  updateSettings(settings: CompletionSettings): void {
    const promptChanged =
      settings.maxPrefixTokens !== this.settings.maxPrefixTokens ||
      settings.maxSuffixTokens !== this.settings.maxSuffixTokens ||
      settings.maxSnippetTokens !== this.settings.maxSnippetTokens ||
      settings.temperature !== this.settings.temperature;
    this.settings = { ...settings };
    this.cache.resize(settings.cacheSize);
    if (promptChanged) this.cache.clear();
  }

  /** Forgets per-document state when a document closes or the model changes. */
  forgetDocument(uri: string): void {
    this.cache.forgetDocument(uri);
    this.prompts.forgetDocument(uri);
  }

  clearCache(): void {
    this.cache.clear();
    this.prompts.clear();
  }

  recentMetrics(): CompletionMetrics[] {
    return [...this.recent];
  }

  async complete(request: CompletionRequest, signal: AbortSignal): Promise<CompletionOutcome> {
    const started = performance.now();
    const metrics: CompletionMetrics = {
      requestId: this.nextId++,
      uri: request.document.uri,
      source: "model",
      totalMs: 0,
      promptTokens: 0,
      reusedTokens: 0,
      evaluatedTokens: 0,
      generatedTokens: 0,
    };
    const done = (source: CompletionSource, insertText = "", detail?: string): CompletionOutcome => {
      metrics.source = source;
      metrics.totalMs = performance.now() - started;
      if (detail) metrics.detail = detail;
      this.recent.push(metrics);
      if (this.recent.length > METRICS_KEPT) this.recent.splice(0, this.recent.length - METRICS_KEPT);
      const offset = request.offset;
      return {
        suggestions: insertText ? [{ insertText: restoreLineEndings(insertText, request.document.text), replaceStart: offset, replaceEnd: offset }] : [],
        metrics,
      };
    };

    if (!this.settings.enabled) return done("disabled");
    const { document } = request;
    const offset = Math.max(0, Math.min(request.offset, document.text.length));

    // A real request always goes before background work on the model.
    this.prefilling?.abort();
    this.cancelUpgrade();
    // Latest request wins, across documents: one completion runs at a time.
    const debounce = this.inflight !== undefined || this.modelRuns > 0;
    this.inflight?.abort(new SupersededError());
    const controller = new AbortController();
    this.inflight = controller;
    const onClientCancel = (): void => controller.abort(signal.reason);
    if (signal.aborted) return done("cancelled");
    signal.addEventListener("abort", onClientCancel, { once: true });
    const endActivity = this.beginActivity();

    try {
      const hit = this.cache.lookup(document.uri, document.text, offset);
      if (hit && (hit.text || request.trigger === "automatic")) return done(hit.kind, hit.text);

      const aroundCursor = document.text.slice(Math.max(0, offset - CONTEXT_CHARS), offset + CONTEXT_CHARS);
      if (aroundCursor.includes("\u0000")) return done("skipped", "", "binary content near the cursor");

      this.modelRuns++;
      const work = this.run(request, offset, controller.signal, metrics, started, debounce).finally(() => this.modelRuns--);
      const outcome = await raceAbort(work, controller.signal);
      if (outcome === ABORTED) {
        work.catch(() => undefined);
        return done(controller.signal.reason instanceof SupersededError ? "superseded" : "cancelled");
      }
      if (outcome.kind === "unavailable") return done("unavailable", "", outcome.detail);
      this.cache.remember(document.uri, document.text, offset, outcome.text);
      if (metrics.lane === "first") this.scheduleUpgrade(request, offset);
      return done("model", outcome.text);
    } finally {
      endActivity();
      signal.removeEventListener("abort", onClientCancel);
      if (this.inflight === controller) this.inflight = undefined;
    }
  }

  /**
   * Work ahead of the user: evaluates the prompt a request at `request.offset` would have into
   * the document's KV slot, so the first keystroke there evaluates only what it changed. The
   * prompt is built exactly as a request builds it (same prefix window anchor, same snippets),
   * and it is background work: it runs only while no completion does, a new completion request
   * aborts it (the request waits at most for one short evaluation step), and it never loads the
   * model. A newer prefill replaces an older one.
   */
  async prefill(request: CompletionRequest, reason: PrefillRecord["reason"], where: "cursor" | "top" = "cursor"): Promise<PrefillRecord> {
    const started = performance.now();
    const record = (lane: PromptLane, state: PrefillRecord["state"], detail?: string, counts?: Partial<PrefillRecord>): PrefillRecord => {
      const r: PrefillRecord = { uri: request.document.uri, reason, lane, state, promptTokens: 0, reusedTokens: 0, evaluatedTokens: 0, totalMs: performance.now() - started, ...counts };
      if (detail) r.detail = detail;
      this.recentPrefills.push(r);
      if (this.recentPrefills.length > METRICS_KEPT) this.recentPrefills.splice(0, this.recentPrefills.length - METRICS_KEPT);
      return r;
    };
    const finish = (state: PrefillRecord["state"], detail?: string): PrefillRecord => record("full", state, detail);
    if (!this.settings.enabled || !this.settings.prefill || !this.backend.prefill) return finish("skipped", "prefill is off");
    if (this.inflight || this.modelRuns > 0) return finish("skipped", "a completion is running");
    if (this.backend.status().state !== "ready") return finish("skipped", "the model is not loaded");
    this.prefilling?.abort();
    const controller = new AbortController();
    this.prefilling = controller;
    try {
      const offset = Math.max(0, Math.min(request.offset, request.document.text.length));
      if (request.document.text.slice(Math.max(0, offset - CONTEXT_CHARS), offset + CONTEXT_CHARS).includes("\u0000")) return finish("skipped", "binary content");
      const tokenizer = await this.backend.tokenizer(controller.signal);
      if (controller.signal.aborted) return finish("aborted");
      const count = this.counts.for(tokenizer);
      // Without a cursor, the window from the top of the file: it serves every cursor in its reach.
      const at = where === "top" ? topWindowEnd(normalizeLineEndings(request.document.text, 0).value, this.settings.maxPrefixTokens, count) : offset;
      const cursor = where === "top" ? restoreOffset(request.document.text, at) : at;
      const lanes = this.prompts.forPrefill(request, cursor, count, where === "cursor");
      let last: PrefillRecord | undefined;
      for (const lane of lanes) {
        const result = await this.backend.prefill({ prompt: lane.prompt, slot: lane.slot }, controller.signal);
        if (result.state !== "skipped") this.prompts.record(lane.slot, lane.prompt, result.reusedTokens + result.evaluatedTokens);
        last = record(lane.lane, result.state, undefined, { promptTokens: result.promptTokens, reusedTokens: result.reusedTokens, evaluatedTokens: result.evaluatedTokens });
        if (result.state !== "done") break;
      }
      return last!;
    } catch (error) {
      if (controller.signal.aborted) return finish("aborted");
      if (error instanceof ModelUnavailableError) return finish("skipped", error.message);
      this.logger.warn({ err: error, uri: request.document.uri }, "prefill failed");
      return finish("skipped", error instanceof Error ? error.message : String(error));
    } finally {
      if (this.prefilling === controller) this.prefilling = undefined;
    }
  }

  /**
   * After an answer from a document's short first prompt, evaluates its full prompt while the
   * model is idle: the next keystroke stops that (keeping what was evaluated, which the next
   * idle moment continues), so the full prompt takes over after a few seconds of typing rather
   * than at the next pause. It starts only when no keystroke followed for UPGRADE_AFTER_MS
   * (fast typing is not slowed by a prefill step in flight) and never replaces another prefill.
   */
  private scheduleUpgrade(request: CompletionRequest, offset: number): void {
    this.cancelUpgrade();
    this.upgradeTimer = setTimeout(() => {
      this.upgradeTimer = undefined;
      if (this.inflight || this.modelRuns > 0 || this.prefilling) return;
      this.prefill({ ...request, offset }, "upgrade").catch((error: unknown) => this.logger.warn({ err: error }, "prefill failed"));
    }, UPGRADE_AFTER_MS);
    this.upgradeTimer.unref?.();
  }

  private cancelUpgrade(): void {
    if (this.upgradeTimer) clearTimeout(this.upgradeTimer);
    this.upgradeTimer = undefined;
  }

  recentPrefillRecords(): PrefillRecord[] {
    return [...this.recentPrefills];
  }

  private async run(
    request: CompletionRequest,
    offset: number,
    signal: AbortSignal,
    metrics: CompletionMetrics,
    started: number,
    debounce: boolean,
  ): Promise<{ kind: "text"; text: string } | { kind: "unavailable"; detail: string }> {
    // The debounce saves work that the next keystroke would supersede, but only while the model
    // is busy: an idle model starts at once, and latest-wins cancellation stops it within one
    // evaluation step if another keystroke follows.
    if (debounce) await delay(this.settings.debounceMs, signal);
    let tokenizer;
    try {
      tokenizer = await this.backend.tokenizer(signal);
    } catch (error) {
      if (error instanceof ModelUnavailableError) return { kind: "unavailable", detail: error.message };
      throw error;
    }
    if (signal.aborted) throw new SupersededError();
    const count = this.counts.for(tokenizer);
    const { document } = request;
    const s = this.settings;
    const { full, chosen } = this.prompts.choose(request, offset, count);
    // The local model runs the chosen prompt; a cloud provider (which has no KV cache of ours to
    // warm) gets the full context, and the router decides by it.
    const { prompt, nearPrefix, nearSuffix, mode, slot } = chosen;
    const { prefix, suffix, snippets } = full;
    metrics.mode = mode;
    metrics.lane = chosen.lane;

    const maxTokens = mode === "single-line" ? s.maxTokens : s.maxMultilineTokens;
    const post = (completion: string): string =>
      postprocessCompletion({ prefix: nearPrefix, suffix: nearSuffix, languageId: document.languageId, mode, completion });
    const shouldStop = stopRule(mode, post);
    // The router needs the context size: a cheap upper bound from the budgets (exact counting
    // costs about a millisecond per keystroke), with the exact count on demand.
    const contextTokens =
      Math.min(s.maxPrefixTokens, Buffer.byteLength(prefix)) +
      Buffer.byteLength(suffix) +
      Math.min(s.maxSnippetTokens, snippets.reduce((n, sn) => n + Buffer.byteLength(sn.text), 0));
    const countContextTokens = (): number => count(prefix) + count(suffix) + snippets.reduce((n, sn) => n + count(sn.text), 0);
    let result: GenerateResult;
    try {
      result = await this.backend.generate(
        {
          prompt,
          maxTokens,
          maxTimeMs: s.maxTimeMs,
          temperature: s.temperature,
          shouldStop,
          fim: { prefix, suffix, snippets, filePath: request.relativePath, language: document.languageId, repoName: request.repoName },
          routing: { task: "completion", contextTokens, countContextTokens, uri: document.uri },
          slot,
        },
        signal,
      );
    } catch (error) {
      if (error instanceof ModelUnavailableError) return { kind: "unavailable", detail: error.message };
      throw error;
    }
    // What the slot's KV cache holds now: the whole prompt, or (stopped early, or served
    // elsewhere) at least what it held of it before.
    const local = result.backend === undefined || result.backend === "local";
    const evaluated = result.stopReason !== "aborted" && result.promptTokens > 0 ? result.reusedTokens + result.evaluatedTokens : undefined;
    if (local) this.prompts.record(slot, prompt, evaluated ?? chosen.cachedTokens ?? 0);
    if (result.backend) metrics.backend = result.backend;
    if (result.reason) metrics.reason = result.reason;
    metrics.promptTokens = result.promptTokens;
    metrics.reusedTokens = result.reusedTokens;
    metrics.evaluatedTokens = result.evaluatedTokens;
    metrics.generatedTokens = result.generatedTokens;
    metrics.stopReason = result.stopReason;
    const before = performance.now() - started - result.totalMs;
    if (result.firstTokenMs !== undefined) metrics.firstTokenMs = result.firstTokenMs + before;
    if (result.heldMs !== undefined) metrics.waitMs = result.heldMs + before;
    if (result.stopReason === "aborted") {
      if (signal.aborted) throw new SupersededError();
      // The backend stopped on its own (the model was unloaded or reloaded under this request):
      // nothing to show, and not a failure of the request.
      return { kind: "unavailable", detail: "the model stopped this request (it was unloaded or reloaded)" };
    }
    const cleaned = post(cutAtJunk(result.text));
    this.logger.debug({ requestId: metrics.requestId, mode, raw: result.text.length, kept: cleaned.length }, "completion post-processed");
    return { kind: "text", text: cleaned };
  }
}

class SupersededError extends Error {
  constructor() {
    super("superseded by a newer completion request");
  }
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return ms <= 0 ? Promise.resolve() : abortableDelay(ms, signal);
}

// Kept where callers have always found them.
export { cutAtJunk, normalizeLineEndings };
