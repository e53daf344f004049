import { abortableDelay } from "../../util/delay.js";
import type { Logger } from "../../util/logger.js";
import { FIRST_LANE_MARK, ModelUnavailableError, type CompletionBackend, type GenerateResult, type PromptPart } from "../../inference/types.js";
import { LruCache } from "../../util/LruCache.js";
import { ABORTED, raceAbort } from "../../util/raceAbort.js";
import { CompletionCache } from "./CompletionCache.js";
import { countNewlines, cutAtJunk, normalizeLineEndings, restoreLineEndings, restoreOffset } from "./lineEndings.js";
import { decideCompletionMode, type CompletionMode } from "./completionMode.js";
import { PrefixWindows, selectSuffix, topWindowEnd } from "./contextWindow.js";
import { postprocessCompletion } from "./postprocess.js";
import { buildFimPrompt } from "./prompt.js";
import { SlotLedger } from "./SlotLedger.js";
import { OpenDocumentSnippets, type SnippetSource } from "./snippets.js";
import type { CompletionMetrics, CompletionOutcome, CompletionRequest, CompletionSource, PromptLane, Snippet } from "./types.js";

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

interface PreparedPrompt {
  lane: PromptLane;
  /** The KV slot this prompt is evaluated on. */
  slot: string;
  prompt: PromptPart[];
  prefix: string;
  suffix: string;
  snippets: Snippet[];
  nearPrefix: string;
  nearSuffix: string;
  mode: CompletionMode;
}

/** How many recent requests' metrics are kept for `ifai/completionMetrics` and benchmarks. */
const METRICS_KEPT = 500;
/** Text around the cursor handed to mode detection and post-processing. */
const CONTEXT_CHARS = 4000;

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
  private readonly prefixWindows = new PrefixWindows();
  /** What each slot's KV cache holds, to choose between a document's full and first prompt. */
  private readonly ledger = new SlotLedger();
  private inflight: AbortController | undefined;
  /** Model work of requests still running, superseded ones included (they stop within a step). */
  private modelRuns = 0;
  private prefilling: AbortController | undefined;
  private readonly recentPrefills: PrefillRecord[] = [];
  /**
   * The snippets a prefill evaluated, per document, kept for the requests on the line of the
   * first request that follows (`line` unset until then). The snippet sources reconsider their
   * choice when the cursor changes lines, and the first request is usually on another line than
   * the one a prefill assumed: without this, the prompt would differ from its first snippet on
   * and the prefill would be wasted.
   */
  private readonly pinnedSnippets = new LruCache<string, { snippets: Snippet[]; line: number | undefined }>(64);
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
    for (const slot of [uri, uri + FIRST_LANE_MARK]) {
      this.prefixWindows.forget(slot);
      this.ledger.forget(slot);
    }
    this.pinnedSnippets.delete(uri);
  }

  clearCache(): void {
    this.cache.clear();
    this.ledger.clear();
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
      const count = (text: string): number => tokenizer.countTokens(text);
      // Without a cursor, the window from the top of the file: it serves every cursor in its reach.
      const at = where === "top" ? topWindowEnd(normalizeLineEndings(request.document.text, 0).value, this.settings.maxPrefixTokens, count) : offset;
      const cursor = where === "top" ? restoreOffset(request.document.text, at) : at;
      const full = this.preparePrompt(request, cursor, count, "full", true);
      // With the cursor known and the full prompt far from evaluated, the short first prompt goes
      // first (about a second's work on a CPU), so a keystroke during the long part is answered
      // from it.
      const lanes: PreparedPrompt[] = [full];
      if (where === "cursor" && this.firstLaneOn()) {
        const warm = this.warmCheck();
        if (this.ledger.estimate(full.slot, full.prompt, count, warm).uncachedTokens > this.settings.firstPrefixTokens) {
          const first = this.preparePrompt(request, cursor, count, "first", true);
          if (this.ledger.estimate(first.slot, first.prompt, count, warm).uncachedTokens > 0) lanes.unshift(first);
        }
      }
      let last: PrefillRecord | undefined;
      for (const lane of lanes) {
        const result = await this.backend.prefill({ prompt: lane.prompt, slot: lane.slot }, controller.signal);
        if (result.state !== "skipped") this.ledger.record(lane.slot, lane.prompt, result.reusedTokens + result.evaluatedTokens);
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
   * than at the next pause. It waits for the answer to go out and never replaces another prefill.
   */
  private scheduleUpgrade(request: CompletionRequest, offset: number): void {
    setImmediate(() => {
      if (this.inflight || this.modelRuns > 0 || this.prefilling) return;
      this.prefill({ ...request, offset }, "upgrade").catch((error: unknown) => this.logger.warn({ err: error }, "prefill failed"));
    });
  }

  private firstLaneOn(): boolean {
    const s = this.settings;
    return s.firstPrefixTokens > 0 && s.firstPrefixTokens < s.maxPrefixTokens;
  }

  /** Whether a slot still has a sequence, where the backend says which do. */
  private warmCheck(): ((slot: string) => boolean) | undefined {
    const slots = this.backend.warmSlots?.();
    if (!slots) return undefined;
    const set = new Set(slots);
    return (slot) => set.has(slot);
  }

  /**
   * The prompt a request uses: the document's full prompt, unless it is far from evaluated
   * (more than `firstPrefixTokens` left to evaluate) and the short first prompt costs less — a
   * file just opened, or a cursor far from where the model last looked. The full prompt takes
   * over as soon as a pause has evaluated it.
   */
  private choosePrompt(request: CompletionRequest, offset: number, count: (text: string) => number): PreparedPrompt & { cachedTokens?: number } {
    const full = this.preparePrompt(request, offset, count, "full");
    if (!this.firstLaneOn()) return full;
    const warm = this.warmCheck();
    const fullCost = this.ledger.estimate(full.slot, full.prompt, count, warm);
    if (fullCost.uncachedTokens <= this.settings.firstPrefixTokens) return { ...full, cachedTokens: fullCost.cachedTokens };
    const first = this.preparePrompt(request, offset, count, "first");
    const firstCost = this.ledger.estimate(first.slot, first.prompt, count, warm);
    return firstCost.uncachedTokens < fullCost.uncachedTokens ? { ...first, cachedTokens: firstCost.cachedTokens } : { ...full, cachedTokens: fullCost.cachedTokens };
  }

  recentPrefillRecords(): PrefillRecord[] {
    return [...this.recentPrefills];
  }

  /** The prompt for a cursor, and what mode detection and post-processing need around it. */
  private preparePrompt(request: CompletionRequest, offset: number, count: (text: string) => number, lane: PromptLane, forPrefill = false): PreparedPrompt {
    const { document } = request;
    const text = normalizeLineEndings(document.text, offset);
    const cursor = text.cursor;
    const s = this.settings;
    const slot = lane === "first" ? document.uri + FIRST_LANE_MARK : document.uri;

    // Each lane keeps its own window start, so each keeps its KV cache while the user types.
    const prefix = this.prefixWindows.select(slot, text.value, cursor, lane === "first" ? s.firstPrefixTokens : s.maxPrefixTokens, count);
    const suffix = selectSuffix(text.value, cursor, s.maxSuffixTokens, count);
    const nearPrefix = text.value.slice(Math.max(0, cursor - CONTEXT_CHARS), cursor);
    const nearSuffix = text.value.slice(cursor, cursor + CONTEXT_CHARS);
    const mode: CompletionMode = decideCompletionMode({ prefix: nearPrefix, suffix: nearSuffix, languageId: document.languageId });

    if (lane === "first") {
      // No snippets: they come before the file in the prompt and would double its cold cost.
      const prompt = buildFimPrompt({ prefix, suffix, snippets: [], repoName: request.repoName, filePath: request.relativePath });
      return { lane, slot, prompt, prefix, suffix, snippets: [], nearPrefix, nearSuffix, mode };
    }
    const cursorLine = countNewlines(text.value, cursor);
    const pin = forPrefill ? undefined : this.pinnedSnippets.get(document.uri);
    let snippets: Snippet[];
    if (pin && (pin.line === undefined || pin.line === cursorLine)) {
      pin.line = cursorLine;
      snippets = pin.snippets;
    } else {
      if (pin) this.pinnedSnippets.delete(document.uri);
      snippets = this.snippetSource.select(
        { uri: document.uri, languageId: document.languageId, prefix: nearPrefix, cursorLine },
        request.otherDocuments(),
        s.maxSnippetTokens,
        count,
        request.displayPath,
      );
      if (forPrefill) this.pinnedSnippets.set(document.uri, { snippets, line: undefined });
    }
    const prompt = buildFimPrompt({ prefix, suffix, snippets, repoName: request.repoName, filePath: request.relativePath });
    return { lane, slot, prompt, prefix, suffix, snippets, nearPrefix, nearSuffix, mode };
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
    const count = (text: string): number => tokenizer.countTokens(text);
    const { document } = request;
    const s = this.settings;
    const chosen = this.choosePrompt(request, offset, count);
    const { prompt, prefix, suffix, snippets, nearPrefix, nearSuffix, mode, slot } = chosen;
    metrics.mode = mode;
    metrics.lane = chosen.lane;

    const maxTokens = mode === "single-line" ? s.maxTokens : s.maxMultilineTokens;
    const post = (completion: string): string =>
      postprocessCompletion({ prefix: nearPrefix, suffix: nearSuffix, languageId: document.languageId, mode, completion });
    // A control character ends the useful part (a replacement character may be half of a
    // multi-byte character still being generated, so only the final text is cut at one).
    const shouldStop =
      mode === "single-line"
        ? (soFar: string): boolean => /\S[^\n]*\n/.test(soFar) || CONTROL.test(soFar)
        : (soFar: string): boolean => CONTROL.test(soFar) || blockEnded(soFar, post);
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
    if (local) this.ledger.record(slot, prompt, evaluated ?? chosen.cachedTokens ?? 0);
    if (result.backend) metrics.backend = result.backend;
    if (result.reason) metrics.reason = result.reason;
    metrics.promptTokens = result.promptTokens;
    metrics.reusedTokens = result.reusedTokens;
    metrics.evaluatedTokens = result.evaluatedTokens;
    metrics.generatedTokens = result.generatedTokens;
    metrics.stopReason = result.stopReason;
    if (result.firstTokenMs !== undefined) metrics.firstTokenMs = result.firstTokenMs + (performance.now() - started - result.totalMs);
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

/**
 * A multi-line suggestion is finished once post-processing drops the line the model just
 * completed: the block ended, or the model started repeating the suffix. Stopping then saves the
 * tokens that would be thrown away. (Comparing lengths would not do: post-processing also trims
 * leading blank lines and overlaps, which do not mean the block ended.)
 */
function blockEnded(soFar: string, post: (completion: string) => string): boolean {
  if (!soFar.endsWith("\n")) return false;
  const complete = soFar.slice(0, -1);
  const lastLine = complete.slice(complete.lastIndexOf("\n") + 1).trim();
  if (!lastLine) return false;
  return !post(complete).trimEnd().endsWith(lastLine);
}

class SupersededError extends Error {
  constructor() {
    super("superseded by a newer completion request");
  }
}

const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return ms <= 0 ? Promise.resolve() : abortableDelay(ms, signal);
}

// Kept where callers have always found them.
export { cutAtJunk, normalizeLineEndings };
