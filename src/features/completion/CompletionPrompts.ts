import { FIRST_LANE_MARK, type CompletionBackend, type PromptPart } from "../../inference/types.js";
import { LruCache } from "../../util/LruCache.js";
import { MiddleAnchors } from "./MiddleAnchors.js";
import { decideCompletionMode, type CompletionMode } from "./completionMode.js";
import { PrefixWindows, selectSuffix, type CountTokens as Count } from "./contextWindow.js";
import { countNewlines, normalizeLineEndings } from "./lineEndings.js";
import { buildFimPrompt } from "./prompt.js";
import { SlotLedger } from "./SlotLedger.js";
import type { SnippetSource } from "./snippets.js";
import type { CompletionRequest, PromptLane, Snippet } from "./types.js";

/** Text around the cursor handed to mode detection and post-processing. */
export const CONTEXT_CHARS = 4000;

/** The budgets a prompt is built with (a subset of the completion settings). */
export interface PromptBudgets {
  maxPrefixTokens: number;
  maxSuffixTokens: number;
  maxSnippetTokens: number;
  firstPrefixTokens: number;
  /** Typed lines kept after the middle marker (MiddleAnchors); 0: the whole prefix before the suffix. */
  middleLines: number;
}

export interface PreparedPrompt {
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

/**
 * Builds a document's completion prompts and chooses which one a request runs: the full prompt
 * (prefix window, suffix, cross-file snippets), or the short first prompt while the full one is
 * far from evaluated. It keeps what makes prompts reuse the KV cache: each lane's window start
 * (PrefixWindows), the snippets a prefill evaluated (kept for the first request's line), and
 * which prompt each slot holds (SlotLedger).
 */
export class CompletionPrompts {
  private readonly prefixWindows = new PrefixWindows();
  /** Where each slot's prompt cuts its prefix, so keystrokes do not re-evaluate the suffix. */
  private readonly anchors = new MiddleAnchors();
  /** What each slot's KV cache holds, to choose between a document's full and first prompt. */
  private readonly ledger = new SlotLedger();
  /**
   * The snippets a prefill evaluated, per document, kept for the requests on the line of the
   * first request that follows (`line` unset until then). The snippet sources reconsider their
   * choice when the cursor changes lines, and the first request is usually on another line than
   * the one a prefill assumed: without this, the prompt would differ from its first snippet on
   * and the prefill would be wasted.
   */
  private readonly pinnedSnippets = new LruCache<string, { snippets: Snippet[]; line: number | undefined }>(64);

  constructor(
    private readonly backend: CompletionBackend,
    private readonly snippetSource: SnippetSource,
    private readonly budgets: () => PromptBudgets,
  ) {}

  /** After a request or prefill on `slot`: its KV cache holds the first `tokens` tokens of `prompt`. */
  record(slot: string, prompt: readonly PromptPart[], tokens: number): void {
    this.ledger.record(slot, prompt, tokens);
  }

  forgetDocument(uri: string): void {
    for (const slot of [uri, uri + FIRST_LANE_MARK]) {
      this.prefixWindows.forget(slot);
      this.anchors.forget(slot);
      this.ledger.forget(slot);
    }
    this.pinnedSnippets.delete(uri);
  }

  clear(): void {
    this.ledger.clear();
  }

  /**
   * The prompt a request uses (`chosen`): the document's full prompt, unless it is far from
   * evaluated (more than `firstPrefixTokens` left to evaluate) and the short first prompt costs
   * less — a file just opened, or a cursor far from where the model last looked. `full` is the
   * full prompt either way (a cloud provider and the router take its context).
   */
  choose(request: CompletionRequest, offset: number, count: Count): { full: PreparedPrompt; chosen: PreparedPrompt & { cachedTokens?: number } } {
    const full = this.prepare(request, offset, count, "full");
    if (!this.firstLaneOn()) return { full, chosen: full };
    const warm = this.warmCheck();
    const fullCost = this.ledger.estimate(full.slot, full.prompt, count, warm);
    if (fullCost.uncachedTokens <= this.budgets().firstPrefixTokens) return { full, chosen: { ...full, cachedTokens: fullCost.cachedTokens } };
    const first = this.prepare(request, offset, count, "first");
    const firstCost = this.ledger.estimate(first.slot, first.prompt, count, warm);
    const chosen = firstCost.uncachedTokens < fullCost.uncachedTokens ? { ...first, cachedTokens: firstCost.cachedTokens } : { ...full, cachedTokens: fullCost.cachedTokens };
    return { full, chosen };
  }

  /**
   * The prompts a prefill evaluates, in order: the full one, preceded by the short first one when
   * the cursor is known and the full one is far from evaluated (the first is about a second's
   * work on a CPU, so a keystroke during the long part is answered from it).
   */
  forPrefill(request: CompletionRequest, offset: number, count: Count, cursorKnown: boolean): PreparedPrompt[] {
    const full = this.prepare(request, offset, count, "full", true);
    if (!cursorKnown || !this.firstLaneOn()) return [full];
    const warm = this.warmCheck();
    if (this.ledger.estimate(full.slot, full.prompt, count, warm).uncachedTokens <= this.budgets().firstPrefixTokens) return [full];
    const first = this.prepare(request, offset, count, "first", true);
    return this.ledger.estimate(first.slot, first.prompt, count, warm).uncachedTokens > 0 ? [first, full] : [full];
  }

  /**
   * The short first prompt is for a CPU, where a cold full prompt costs seconds; a GPU evaluates
   * it in a fraction of a second, so there the full prompt always serves.
   */
  private firstLaneOn(): boolean {
    const b = this.budgets();
    return b.firstPrefixTokens > 0 && b.firstPrefixTokens < b.maxPrefixTokens && (this.backend.status().gpu ?? "cpu") === "cpu";
  }

  /** Whether a slot still has a sequence, where the backend says which do. */
  private warmCheck(): ((slot: string) => boolean) | undefined {
    const slots = this.backend.warmSlots?.();
    if (!slots) return undefined;
    const set = new Set(slots);
    return (slot) => set.has(slot);
  }

  /** The prompt for a cursor, and what mode detection and post-processing need around it. */
  private prepare(request: CompletionRequest, offset: number, count: Count, lane: PromptLane, forPrefill = false): PreparedPrompt {
    const { document } = request;
    const text = normalizeLineEndings(document.text, offset);
    const cursor = text.cursor;
    const b = this.budgets();
    const slot = lane === "first" ? document.uri + FIRST_LANE_MARK : document.uri;

    // Each lane keeps its own window start, so each keeps its KV cache while the user types.
    const prefix = this.prefixWindows.select(slot, text.value, cursor, lane === "first" ? b.firstPrefixTokens : b.maxPrefixTokens, count);
    const suffix = selectSuffix(text.value, cursor, b.maxSuffixTokens, count);
    const { head, middle } = this.anchors.split(slot, prefix, b.middleLines);
    const nearPrefix = text.value.slice(Math.max(0, cursor - CONTEXT_CHARS), cursor);
    const nearSuffix = text.value.slice(cursor, cursor + CONTEXT_CHARS);
    const mode = decideCompletionMode({ prefix: nearPrefix, suffix: nearSuffix, languageId: document.languageId });

    if (lane === "first") {
      // No snippets: they come before the file in the prompt and would double its cold cost.
      const prompt = buildFimPrompt({ prefix: head, middle, suffix, snippets: [], repoName: request.repoName, filePath: request.relativePath });
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
        b.maxSnippetTokens,
        count,
        request.displayPath,
      );
      if (forPrefill) this.pinnedSnippets.set(document.uri, { snippets, line: undefined });
    }
    const prompt = buildFimPrompt({ prefix: head, middle, suffix, snippets, repoName: request.repoName, filePath: request.relativePath });
    return { lane, slot, prompt, prefix, suffix, snippets, nearPrefix, nearSuffix, mode };
  }
}
