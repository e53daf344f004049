import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { candidatesFor, DEFAULT_FUSION, fuseRankings } from "../src/index/store/fusion.js";

const ids = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`);
const same = (s: string): string => s;

describe("hybrid fusion (weighted reciprocal ranks with an agreement guard)", () => {
  it("keeps full-text order when the vector list shares nothing with it (a random or mismatched embedder)", () => {
    const lexical = ids("L", 50);
    const vector = ids("V", 50);
    const { hits, shared, vectorWeight } = fuseRankings(lexical, vector, same, 10);
    expect(shared).toBe(0);
    expect(vectorWeight).toBeCloseTo(DEFAULT_FUSION.vector * DEFAULT_FUSION.minVectorShare);
    // Every full-text hit keeps its rank: the vector side's own hits cannot push it down.
    expect(hits.map((h) => h.item)).toEqual(lexical.slice(0, 10));
  });

  it("equal-weight fusion of k candidates (the old behaviour) would have interleaved them", () => {
    const old = fuseRankings(ids("L", 10), ids("V", 10), same, 10, { ...DEFAULT_FUSION, vector: 1, rankConstant: 60, minVectorShare: 1 });
    expect(old.hits.map((h) => h.item)).toEqual(["L1", "V1", "L2", "V2", "L3", "V3", "L4", "V4", "L5", "V5"]);
  });

  it("lifts a hit both lists rank well, and gives the vector side its full weight when they agree", () => {
    const lexical = ids("D", 50);
    // The vector list puts the full-text 30th first, and agrees on several others in the top 20.
    const vector = ["D30", "D2", "D5", "D7", ...ids("V", 46)];
    const { hits, shared, vectorWeight } = fuseRankings(lexical, vector, same, 30);
    expect(shared).toBe(3);
    expect(vectorWeight).toBe(DEFAULT_FUSION.vector);
    const order = hits.map((h) => h.item);
    // From 30th to above full text's 20th; the agreed ones move up.
    expect(order.indexOf("D30")).toBeLessThan(order.indexOf("D20"));
    expect(order.slice(0, 3)).toEqual(["D2", "D1", "D5"]);
    expect(hits.find((h) => h.item === "D30")).toMatchObject({ lexicalRank: 30, vectorRank: 1 });
  });

  it("falls back to the vector list alone when full text found nothing", () => {
    const { hits, vectorWeight } = fuseRankings([], ids("V", 5), same, 3);
    expect(vectorWeight).toBe(DEFAULT_FUSION.vector);
    expect(hits.map((h) => h.item)).toEqual(["V1", "V2", "V3"]);
  });

  it("breaks ties by full-text rank, then vector rank, then id", () => {
    // Equal weights and the guard off: L1 and V1 score the same.
    const w = { ...DEFAULT_FUSION, vector: 1, minVectorShare: 1 };
    const { hits } = fuseRankings(["b", "x"], ["a", "y"], same, 4, w);
    expect(hits.map((h) => h.item)).toEqual(["b", "a", "x", "y"]);
    const zero = fuseRankings(["b", "a"], ["d", "c"], same, 4, { ...w, lexical: 0, vector: 0 });
    expect(zero.hits.map((h) => h.item)).toEqual(["b", "a", "d", "c"]);
  });

  it("clamps hostile weights and sizes", () => {
    const { hits } = fuseRankings(ids("L", 5), ids("V", 5), same, Number.NaN, { ...DEFAULT_FUSION, lexical: Number.NaN, vector: -5, rankConstant: Number.POSITIVE_INFINITY });
    expect(hits).toEqual([]);
    const clamped = fuseRankings(ids("L", 5), ids("V", 5), same, 3, { ...DEFAULT_FUSION, lexical: Number.NaN, vector: -5 });
    expect(clamped.hits.map((h) => h.item)).toEqual(["L1", "L2", "L3"]);
    expect(candidatesFor(10)).toBe(50);
    expect(candidatesFor(40)).toBe(200);
    expect(candidatesFor(1000)).toBe(500);
    expect(candidatesFor(10, 20)).toBe(20);
    expect(candidatesFor(30, 5)).toBe(30);
  });

  it("property: a vector list disjoint from full text's never changes full text's top k; output is ranked and unique", () => {
    const arbList = fc.uniqueArray(fc.integer({ min: 0, max: 80 }).map(String), { maxLength: 60 });
    fc.assert(
      fc.property(arbList, arbList, fc.integer({ min: 1, max: 30 }), (lexical, vector, k) => {
        const { hits, shared } = fuseRankings(lexical, vector, same, k);
        expect(hits.length).toBe(Math.min(k, new Set([...lexical, ...vector]).size));
        expect(new Set(hits.map((h) => h.item)).size).toBe(hits.length);
        for (let i = 1; i < hits.length; i++) expect(hits[i - 1]!.score).toBeGreaterThanOrEqual(hits[i]!.score);
        const disjoint = !vector.some((v) => lexical.includes(v));
        if (disjoint) expect(shared).toBe(0);
        if (disjoint && lexical.length >= k) {
          // The guard's floor keeps a vector-only hit's score under any full-text rank up to ~100.
          expect(hits.map((h) => h.item)).toEqual(lexical.slice(0, k));
        }
      }),
      { seed: Number(process.env.FC_SEED ?? 12), numRuns: 300 * Number(process.env.FC_RUNS_SCALE ?? 1) },
    );
  });
});
