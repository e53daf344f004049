import { estimateTokens } from "./tokens.js";
import type { ContextChunk, SearchHit } from "./types.js";

/**
 * Chooses the context for a prompt from ranked hits: best first, no two chunks that overlap in
 * the same file, no repeated text (vendored copies, duplicated files), nothing from the region the
 * caller already has (`exclude`), at most `k` chunks and `tokenBudget` tokens — each chunk costs
 * its text plus a line naming its file.
 */
export function selectContext(
  hits: readonly SearchHit[],
  options: { tokenBudget: number; k: number; exclude?: { uri: string; startLine: number; endLine: number } },
): { chunks: ContextChunk[]; tokens: number } {
  const chosen: ContextChunk[] = [];
  const hashes = new Set<string>();
  let used = 0;
  for (const hit of hits) {
    if (chosen.length >= options.k) break;
    if (hashes.has(hit.hash)) continue;
    const ex = options.exclude;
    if (ex && hit.uri === ex.uri && hit.startLine <= ex.endLine && hit.endLine >= ex.startLine) continue;
    if (chosen.some((c) => c.uri === hit.uri && c.range.start.line <= hit.endLine && c.range.end.line >= hit.startLine)) continue;
    const text = hit.text;
    const tokens = estimateTokens(text) + estimateTokens(hit.path) + 2;
    if (used + tokens > options.tokenBudget) continue;
    hashes.add(hit.hash);
    used += tokens;
    chosen.push({
      uri: hit.uri,
      path: hit.path,
      range: { start: { line: hit.startLine, character: hit.startCol }, end: { line: hit.endLine, character: hit.endCol } },
      score: hit.score,
      language: hit.language,
      symbol: hit.symbol,
      kind: hit.kind,
      text,
      tokens,
    });
  }
  return { chunks: chosen, tokens: used };
}
