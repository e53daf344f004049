import type { CountTokens } from "./contextWindow.js";
import type { DocumentSnapshot, Snippet } from "./types.js";

/** Lines per candidate window taken from another document. */
const WINDOW_LINES = 20;
/** How much of the text before the cursor describes what the user is working on. */
const QUERY_LINES = 20;
/** A new selection replaces the current one only when it is clearly better (it costs a cold prompt). */
const SWITCH_MARGIN = 1.3;
/** Documents larger than this are not scanned for snippets; they would slow every line change. */
const MAX_DOCUMENT_CHARS = 500_000;

export interface SnippetQuery {
  uri: string;
  languageId: string;
  /** Text before the cursor (any length; the last lines are used). */
  prefix: string;
  /** Line of the cursor: the selection is reconsidered only when it changes. */
  cursorLine: number;
}

/** Where cross-file snippets come from: open documents now, the codebase index later. */
export interface SnippetSource {
  select(query: SnippetQuery, documents: readonly DocumentSnapshot[], budget: number, count: CountTokens, toPath: (uri: string) => string): Snippet[];
}

interface Selection {
  line: number;
  /** The uris of the documents considered, to notice opens and closes. */
  fingerprint: string;
  snippets: Array<Snippet & { uri: string; startLine: number }>;
}

/**
 * Picks windows of other open documents that share the most identifiers with the code around the
 * cursor (Jaccard similarity, as Copilot and Continue do), within a token budget.
 *
 * The snippets come before the current file in the prompt, so changing them throws away the whole
 * KV cache. The selection is therefore kept while the cursor stays on its line and no document
 * was opened or closed, and replaced only by a clearly better one. A kept snippet keeps the text
 * it had when chosen even when its document is edited since: switching between two files that
 * each quote the other must not make both prompts cold on every switch.
 */
export class OpenDocumentSnippets implements SnippetSource {
  private readonly selections = new Map<string, Selection>();

  select(query: SnippetQuery, documents: readonly DocumentSnapshot[], budget: number, count: CountTokens, toPath: (uri: string) => string): Snippet[] {
    if (budget <= 0) return [];
    const candidates = documents.filter((d) => d.uri !== query.uri && d.text.length <= MAX_DOCUMENT_CHARS && !d.text.includes("\0"));
    if (candidates.length === 0) {
      this.selections.delete(query.uri);
      return [];
    }
    const fingerprint = candidates.map((d) => d.uri).sort().join("|");
    const previous = this.selections.get(query.uri);
    if (previous && previous.fingerprint === fingerprint && previous.line === query.cursorLine) return strip(previous.snippets);

    const queryWords = identifierSet(lastLines(query.prefix, QUERY_LINES));
    if (queryWords.size === 0) return previous?.fingerprint === fingerprint ? strip(previous.snippets) : [];
    const windows: Array<Snippet & { uri: string; startLine: number }> = [];
    // Same-language documents first: they are the likeliest to hold related code.
    const ordered = [...candidates].sort((a, b) => Number(b.languageId === query.languageId) - Number(a.languageId === query.languageId));
    for (const doc of ordered) {
      const lines = doc.text.split("\n");
      for (let start = 0; start < lines.length; start += WINDOW_LINES / 2) {
        const text = lines.slice(start, start + WINDOW_LINES).join("\n");
        const score = jaccard(queryWords, identifierSet(text));
        if (score > 0) windows.push({ uri: doc.uri, path: toPath(doc.uri), text, score, startLine: start });
        if (start + WINDOW_LINES >= lines.length) break;
      }
    }
    windows.sort((a, b) => b.score - a.score);
    const chosen: Array<Snippet & { uri: string; startLine: number }> = [];
    let used = 0;
    for (const w of windows) {
      if (chosen.some((c) => c.uri === w.uri && Math.abs(c.startLine - w.startLine) < WINDOW_LINES)) continue;
      const tokens = count(w.text) + count(w.path) + 2;
      if (used + tokens > budget) continue;
      chosen.push(w);
      used += tokens;
      if (chosen.length >= 4) break;
    }
    // Keep file order stable (by path, then position) so equal selections give identical prompts.
    chosen.sort((a, b) => a.path.localeCompare(b.path) || a.startLine - b.startLine);

    if (previous && previous.fingerprint === fingerprint) {
      const oldScore = total(previous.snippets.map((s) => ({ ...s, score: jaccard(queryWords, identifierSet(s.text)) })));
      if (total(chosen) < oldScore * SWITCH_MARGIN) {
        this.selections.set(query.uri, { ...previous, line: query.cursorLine });
        return strip(previous.snippets);
      }
    }
    this.selections.set(query.uri, { line: query.cursorLine, fingerprint, snippets: chosen });
    return strip(chosen);
  }
}

function strip(snippets: ReadonlyArray<Snippet & { uri: string; startLine: number }>): Snippet[] {
  return snippets.map(({ path, text, score, uri }) => ({ path, text, score, uri }));
}

function total(snippets: readonly Snippet[]): number {
  return snippets.reduce((sum, s) => sum + s.score, 0);
}

function lastLines(text: string, n: number): string {
  let index = text.length;
  for (let i = 0; i < n && index > 0; i++) index = text.lastIndexOf("\n", index - 1);
  return text.slice(Math.max(0, index));
}

const IDENTIFIER = /[A-Za-z_$][A-Za-z0-9_$]{2,}/g;

export function identifierSet(text: string): Set<string> {
  return new Set(text.match(IDENTIFIER) ?? []);
}

export function jaccard(a: ReadonlySet<string>, b: ReadonlySet<string>): number {
  if (a.size === 0 || b.size === 0) return 0;
  let shared = 0;
  for (const word of a) if (b.has(word)) shared++;
  return shared / (a.size + b.size - shared);
}
