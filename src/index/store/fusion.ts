/*
 * Hybrid search's fusion of the full-text and the vector candidate lists: weighted reciprocal-rank
 * fusion with a guard against an embedder that disagrees with full-text search.
 *
 * Plain reciprocal-rank fusion with equal weights interleaves the two lists: with k candidates
 * from each, the vector list's hits take ranks 1, 3, 5… and every full-text rank r becomes about
 * 2r. When the embedding model is weak or mismatched (users pick models we cannot test), that
 * halves the quality of search compared with no model at all. So:
 * - each side contributes more candidates than the answer needs (a hit that is 30th in one list
 *   and 2nd in the other still gets both contributions);
 * - the sides have weights, full text weighing more by default;
 * - the vector side's weight is scaled by how much the two lists agree on this query: an
 *   embedder whose top candidates share nothing with full text's (a random one shares almost
 *   nothing) keeps only a small say, so it can re-order full-text hits it also found but cannot
 *   push them down with hits of its own;
 * - ties go to the better full-text rank, then the better vector rank, then the stable id.
 */

export interface FusionWeights {
  /** Weight of the full-text list. */
  lexical: number;
  /** Weight of the vector list, before the agreement guard scales it. */
  vector: number;
  /** Reciprocal-rank constant: larger flattens the difference between ranks. */
  rankConstant: number;
  /**
   * Shared candidates (in both lists' top `agreementDepth`) needed for the vector side's full
   * weight; fewer scale it down proportionally, to no less than `minVectorShare` of it.
   */
  agreementTarget: number;
  agreementDepth: number;
  minVectorShare: number;
}

/**
 * Defaults measured with bench:retrieval (README): a rank constant of 10 rather than the usual 60
 * keeps the top of each list apart from its tail, so a vector-only hit needs a top vector rank to
 * enter the first results. The vector side's weight is low because the only embedders that can
 * be tested here are much weaker than the full-text ranking (the hashed bag of subwords reaches
 * about 0.55× its MRR@10 alone): at 0.2 hybrid stays within 1–2 % of full text with it and with a
 * random model, at 0.5 it lost 8 %. A user with a strong code embedding model can raise it
 * (index.search.vectorWeight); the agreement guard still holds a mismatched one back.
 */
export const DEFAULT_FUSION: FusionWeights = Object.freeze({
  lexical: 1,
  vector: 0.2,
  rankConstant: 10,
  agreementTarget: 3,
  agreementDepth: 20,
  minVectorShare: 0.2,
});

export interface Fused<T> {
  item: T;
  score: number;
  /** 1-based ranks in each list (undefined: not in that list). */
  lexicalRank: number | undefined;
  vectorRank: number | undefined;
}

export interface FusionResult<T> {
  hits: Array<Fused<T>>;
  /** The vector weight actually used after the agreement guard. */
  vectorWeight: number;
  /** Candidates in both lists' top `agreementDepth`. */
  shared: number;
}

/**
 * Fuses two ranked lists of the same kind of item (best first) keyed by `id`. A duplicate id
 * within one list keeps its best rank. Returns at most `k` items, best first; k ≤ 0 gives none.
 */
export function fuseRankings<T>(lexical: readonly T[], vector: readonly T[], id: (item: T) => string, k: number, weights: FusionWeights = DEFAULT_FUSION): FusionResult<T> {
  const w = sanitize(weights);
  const entries = new Map<string, Fused<T>>();
  lexical.forEach((item, i) => {
    const key = id(item);
    if (!entries.has(key)) entries.set(key, { item, score: 0, lexicalRank: i + 1, vectorRank: undefined });
  });
  vector.forEach((item, i) => {
    const key = id(item);
    const entry = entries.get(key);
    if (!entry) entries.set(key, { item, score: 0, lexicalRank: undefined, vectorRank: i + 1 });
    else if (entry.vectorRank === undefined) entry.vectorRank = i + 1;
  });

  let shared = 0;
  for (const e of entries.values()) if (e.lexicalRank !== undefined && e.vectorRank !== undefined && e.lexicalRank <= w.agreementDepth && e.vectorRank <= w.agreementDepth) shared++;
  // With nothing from full text there is nothing to protect: the vector list stands alone.
  const share = lexical.length === 0 ? 1 : Math.max(w.minVectorShare, Math.min(1, shared / w.agreementTarget));
  const vectorWeight = w.vector * share;

  for (const e of entries.values()) {
    let score = 0;
    if (e.lexicalRank !== undefined) score += w.lexical / (w.rankConstant + e.lexicalRank);
    if (e.vectorRank !== undefined) score += vectorWeight / (w.rankConstant + e.vectorRank);
    e.score = score;
  }
  const missing = Number.MAX_SAFE_INTEGER;
  const hits = [...entries.entries()]
    .sort(
      ([ka, a], [kb, b]) =>
        b.score - a.score || (a.lexicalRank ?? missing) - (b.lexicalRank ?? missing) || (a.vectorRank ?? missing) - (b.vectorRank ?? missing) || (ka < kb ? -1 : ka > kb ? 1 : 0),
    )
    .slice(0, Math.max(0, Math.floor(k)))
    .map(([, e]) => e);
  return { hits, vectorWeight, shared };
}

/** Weights clamped to usable values: a NaN or negative setting must not turn the order upside down. */
function sanitize(w: FusionWeights): FusionWeights {
  const finite = (v: number, fallback: number, min: number, max: number): number => (Number.isFinite(v) ? Math.min(max, Math.max(min, v)) : fallback);
  return {
    lexical: finite(w.lexical, DEFAULT_FUSION.lexical, 0, 100),
    vector: finite(w.vector, DEFAULT_FUSION.vector, 0, 100),
    rankConstant: finite(w.rankConstant, DEFAULT_FUSION.rankConstant, 0, 10_000),
    agreementTarget: finite(w.agreementTarget, DEFAULT_FUSION.agreementTarget, 1, 1_000),
    agreementDepth: finite(w.agreementDepth, DEFAULT_FUSION.agreementDepth, 1, 10_000),
    minVectorShare: finite(w.minVectorShare, DEFAULT_FUSION.minVectorShare, 0, 1),
  };
}

/** Candidates each side contributes for an answer of k: several times k, at least 50, at most 500. */
export function candidatesFor(k: number, configured = 0): number {
  const wanted = configured > 0 ? configured : Math.max(50, 5 * k);
  return Math.min(500, Math.max(k, Math.floor(wanted)));
}
