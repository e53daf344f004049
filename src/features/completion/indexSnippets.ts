import type { CountTokens } from "./contextWindow.js";
import { identifierSet, jaccard, type SnippetQuery, type SnippetSource } from "./snippets.js";
import type { DocumentSnapshot, Snippet } from "./types.js";
import type { BuildContextParams, ContextChunk, ContextResult } from "../../index/types.js";

/** What the index-backed snippet source needs from the index. */
export interface ContextProvider {
  buildContext(params: BuildContextParams): Promise<ContextResult>;
  /** False until some folder's index can answer. */
  readonly searchable: boolean;
}

export interface IndexSnippetOptions {
  /** A document's snippets are looked up again at most this often (ms). */
  refreshMs?: number;
  /** Most chunks per prompt. */
  maxSnippets?: number;
  /** Lines before the cursor that make the query. */
  queryLines?: number;
  onError?: (error: unknown) => void;
}

/** A fresher selection replaces the current one only when clearly better: a change costs a cold prompt. */
const SWITCH_MARGIN = 1.3;
const MAX_DOCUMENTS = 64;

interface Entry {
  /** The chunks currently served, best first. */
  current: ContextChunk[];
  /** A fresher result, adopted when the cursor moves to another line. */
  next: ContextChunk[] | undefined;
  line: number;
  refreshedLine: number;
  refreshedAt: number;
  /** The last answer, for an unchanged budget, selection and set of open documents. */
  fitted?: { key: string; snippets: Snippet[] };
}

/**
 * Cross-file snippets from the codebase index for completion prompts. `select` is synchronous
 * and never touches the index: it serves the last result kept for the document, and starts a
 * background lookup (at most one at a time, at most every `refreshMs` per document, only after
 * the cursor changed lines). A new result is adopted only when the cursor moves to another line
 * and it is clearly better, so the prompt's first part — and the model's KV cache — stays put
 * while the user types.
 */
export class IndexSnippetSource implements SnippetSource {
  private readonly entries = new Map<string, Entry>();
  private inflight = false;
  private readonly refreshMs: number;
  private readonly maxSnippets: number;
  private readonly queryLines: number;

  constructor(
    private readonly provider: ContextProvider,
    private readonly options: IndexSnippetOptions = {},
  ) {
    this.refreshMs = options.refreshMs ?? 2000;
    this.maxSnippets = options.maxSnippets ?? 4;
    this.queryLines = options.queryLines ?? 15;
  }

  select(query: SnippetQuery, documents: readonly DocumentSnapshot[], budget: number, count: CountTokens, toPath: (uri: string) => string): Snippet[] {
    if (budget <= 0 || !this.provider.searchable) return [];
    let entry = this.entries.get(query.uri);
    if (!entry) {
      entry = { current: [], next: undefined, line: query.cursorLine, refreshedLine: Number.NaN, refreshedAt: 0 };
      this.entries.set(query.uri, entry);
      if (this.entries.size > MAX_DOCUMENTS) this.entries.delete(this.entries.keys().next().value as string);
    }
    if (entry.next && query.cursorLine !== entry.line) {
      const words = identifierSet(lastLines(query.prefix, this.queryLines));
      if (entry.current.length === 0 || score(entry.next, words) >= score(entry.current, words) * SWITCH_MARGIN) entry.current = entry.next;
      entry.next = undefined;
    }
    entry.line = query.cursorLine;
    this.maybeRefresh(entry, query, budget);

    // Open documents are left to the open-document source (their unsaved text is the truth).
    const open = new Set(documents.map((d) => d.uri));
    open.add(query.uri);
    const key = `${budget}|${entry.current.map((c) => `${c.uri}:${c.range.start.line}`).join(",")}|${[...open].sort().join(",")}`;
    if (entry.fitted?.key === key) return entry.fitted.snippets;
    const snippets: Snippet[] = [];
    let used = 0;
    for (const chunk of entry.current) {
      if (open.has(chunk.uri)) continue;
      const path = toPath(chunk.uri);
      const tokens = count(chunk.text) + count(path) + 2;
      if (used + tokens > budget) continue;
      snippets.push({ path, text: chunk.text, score: chunk.score, uri: chunk.uri });
      used += tokens;
    }
    entry.fitted = { key, snippets };
    return snippets;
  }

  /** Forgets a closed document. */
  forget(uri: string): void {
    this.entries.delete(uri);
  }

  private maybeRefresh(entry: Entry, query: SnippetQuery, budget: number): void {
    if (this.inflight || entry.refreshedLine === query.cursorLine) return;
    const now = Date.now();
    if (now - entry.refreshedAt < this.refreshMs) return;
    const text = lastLines(query.prefix, this.queryLines).split("\n").reverse().join("\n");
    if (identifierSet(text).size === 0) return;
    entry.refreshedLine = query.cursorLine;
    entry.refreshedAt = now;
    this.inflight = true;
    // Budget with headroom: the model's tokenizer counts differently from the index's estimate.
    this.provider
      .buildContext({ query: text, uri: query.uri, cursor: { line: query.cursorLine, character: 0 }, tokenBudget: Math.ceil(budget * 1.5), k: this.maxSnippets })
      .then(
        (result) => {
          entry.next = result.chunks;
        },
        (error: unknown) => this.options.onError?.(error),
      )
      .finally(() => {
        this.inflight = false;
      });
  }
}

/**
 * Snippets from two sources in one budget: the open documents' first (the code the user is
 * working with, with unsaved edits), then the index's in what is left. The index's come first in
 * the prompt: they change least often, so the KV cache keeps them longest.
 */
export class CombinedSnippetSource implements SnippetSource {
  constructor(
    private readonly index: SnippetSource,
    private readonly open: SnippetSource,
    private readonly indexEnabled: () => boolean = () => true,
  ) {}

  select(query: SnippetQuery, documents: readonly DocumentSnapshot[], budget: number, count: CountTokens, toPath: (uri: string) => string): Snippet[] {
    const fromOpen = this.open.select(query, documents, budget, count, toPath);
    if (!this.indexEnabled()) return fromOpen;
    const used = fromOpen.reduce((n, s) => n + count(s.text) + count(s.path) + 2, 0);
    const fromIndex = this.index.select(query, documents, budget - used, count, toPath);
    const openPaths = new Set(fromOpen.map((s) => s.path));
    return [...fromIndex.filter((s) => !openPaths.has(s.path)), ...fromOpen];
  }
}

function score(chunks: readonly ContextChunk[], words: ReadonlySet<string>): number {
  return chunks.reduce((sum, c) => sum + jaccard(words, identifierSet(c.text)), 0);
}

function lastLines(text: string, n: number): string {
  let index = text.length;
  for (let i = 0; i < n && index > 0; i++) index = text.lastIndexOf("\n", index - 1);
  return text.slice(Math.max(0, index));
}
