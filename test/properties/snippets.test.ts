import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { OpenDocumentSnippets, identifierSet, jaccard } from "../../src/features/completion/snippets.js";
import { countByFour, documentText, options } from "./arbitraries.js";

/** Code-like text so that identifiers overlap between documents and selections are not all empty. */
const WORDS = ["alpha", "beta", "gamma", "delta", "compute", "value", "result", "items", "_priv", "$el"];
const codeText = fc
  .array(fc.oneof(fc.constantFrom(...WORDS), fc.constantFrom(" ", "(", ")", ";", "\n", "\r\n", "\n\n", "😀", "\uD83D")), { maxLength: 200 })
  .map((p) => p.join(""));
const text = fc.oneof({ weight: 3, arbitrary: codeText }, { weight: 1, arbitrary: documentText() });

const documents = fc.uniqueArray(
  fc.record({ uri: fc.constantFrom("file:///a.ts", "file:///b.ts", "file:///c.py", "file:///d.ts", "file:///e.md"), languageId: fc.constantFrom("typescript", "python"), version: fc.nat(5), text }),
  { selector: (d) => d.uri, minLength: 1, maxLength: 5 },
);
const query = fc.record({ uri: fc.constantFrom("file:///a.ts", "file:///z.ts"), languageId: fc.constant("typescript"), prefix: fc.oneof({ weight: 4, arbitrary: codeText }, { weight: 1, arbitrary: text }), cursorLine: fc.nat(50) });
const budget = fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 50, max: 2000 }) }, { weight: 1, arbitrary: fc.integer({ min: -5, max: 50 }) });
const toPath = (uri: string): string => uri.replace("file:///", "");

describe("snippet selection properties", () => {
  it("takes whole lines of other documents only, within the budget, at most four", () => {
    let selected = 0;
    fc.assert(
      fc.property(query, documents, budget, (q, docs, b) => {
        const snippets = new OpenDocumentSnippets().select(q, docs, b, countByFour, toPath);
        if (b <= 0) expect(snippets).toEqual([]);
        expect(snippets.length).toBeLessThanOrEqual(4);
        let used = 0;
        for (const s of snippets) {
          const source = docs.find((d) => toPath(d.uri) === s.path);
          expect(source).toBeDefined();
          expect(source!.uri).not.toBe(q.uri);
          const lines = source!.text.split("\n");
          const start = lines.findIndex((_, i) => lines.slice(i).join("\n").startsWith(s.text));
          expect(start).toBeGreaterThanOrEqual(0);
          expect(s.score).toBeGreaterThan(0);
          expect(s.score).toBeLessThanOrEqual(1);
          used += countByFour(s.text) + countByFour(s.path) + 2;
        }
        expect(used).toBeLessThanOrEqual(Math.max(0, b));
        if (snippets.length > 0) selected++;
      }),
      options(250),
    );
    // The generators must exercise selection, not only the empty answer.
    expect(selected).toBeGreaterThan(20);
  });

  it("is stable: the same query on unchanged documents gives the same snippets", () => {
    fc.assert(
      fc.property(query, documents, budget, (q, docs, b) => {
        const source = new OpenDocumentSnippets();
        const first = source.select(q, docs, b, countByFour, toPath);
        expect(source.select(q, docs, b, countByFour, toPath)).toEqual(first);
        expect(source.select({ ...q, prefix: q.prefix + " " }, docs, b, countByFour, toPath)).toEqual(first);
      }),
      options(150),
    );
  });

  it("Jaccard similarity is symmetric, within [0, 1], and 1 for equal non-empty sets", () => {
    fc.assert(
      fc.property(text, text, (a, b) => {
        const x = identifierSet(a);
        const y = identifierSet(b);
        const s = jaccard(x, y);
        expect(s).toBe(jaccard(y, x));
        expect(s).toBeGreaterThanOrEqual(0);
        expect(s).toBeLessThanOrEqual(1);
        if (x.size > 0) expect(jaccard(x, x)).toBe(1);
      }),
      options(200),
    );
  });
});
