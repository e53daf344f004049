import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { normalizeLineEndings } from "../../src/features/completion/CompletionService.js";
import { PrefixWindows, selectSuffix } from "../../src/features/completion/contextWindow.js";
import { boundedCounter, countByFour, documentText, offsetIn, options, splitsSurrogatePair } from "./arbitraries.js";

const MAX_CHARS_PER_TOKEN = 8;
const budgetArb = fc.oneof(fc.integer({ min: 0, max: 300 }), fc.constantFrom(0, 1, 2, 2048));
const clamp = (cursor: number, text: string): number => Math.max(0, Math.min(cursor, text.length));
/** Calls a terminating walk may need: one per line of the window, plus the long-line cut's steps. */
const callLimit = (text: string): number => text.split("\n").length + 200;

const docAndCursor = (huge = false): fc.Arbitrary<{ text: string; cursor: number }> =>
  documentText({ huge }).chain((text) => offsetIn(text.length).map((cursor) => ({ text, cursor })));

describe("prefix window properties", () => {
  it("terminates and returns a slice of the text ending at the cursor, within the budget, never splitting a character", () => {
    fc.assert(
      fc.property(docAndCursor(true), budgetArb, ({ text, cursor }, budget) => {
        const window = new PrefixWindows().select("u", text, cursor, budget, boundedCounter(countByFour, callLimit(text)));
        const at = clamp(cursor, text);
        const start = at - window.length;
        expect(start).toBeGreaterThanOrEqual(0);
        expect(text.slice(start, at)).toBe(window);
        expect(countByFour(window)).toBeLessThanOrEqual(budget);
        // A cursor between the halves of a pair (the client's doing) can only give an empty window there.
        if (window !== "") expect(splitsSurrogatePair(text, start)).toBe(false);
      }),
      options(300),
    );
  });

  it("starts on a line boundary unless the cursor's own line is over the budget", () => {
    fc.assert(
      fc.property(docAndCursor(), budgetArb, ({ text, cursor }, budget) => {
        const window = new PrefixWindows().select("u", text, cursor, budget, countByFour);
        const at = clamp(cursor, text);
        const start = at - window.length;
        if (start === 0 || text[start - 1] === "\n") return;
        const lineStart = text.lastIndexOf("\n", at - 1) + 1;
        const line = text.slice(lineStart, at);
        expect(countByFour(line) > Math.floor(budget * 0.75) || line.length > budget * MAX_CHARS_PER_TOKEN).toBe(true);
      }),
      options(300),
    );
  });

  it("is the whole prefix when it fits three quarters of the budget (an additive counter)", () => {
    const byLength = (t: string): number => t.length;
    fc.assert(
      fc.property(docAndCursor(), ({ text, cursor }) => {
        const at = clamp(cursor, text);
        const budget = Math.ceil((at + 1) / 0.75);
        expect(new PrefixWindows().select("u", text, cursor, budget, byLength)).toBe(text.slice(0, at));
      }),
      options(200),
    );
  });

  it("keeps its start while the user types at the cursor, as long as the window fits the budget", () => {
    const typed = fc.array(fc.constantFrom("a", "b", " ", "(", ")", "é", "😀", ";"), { minLength: 1, maxLength: 30 });
    fc.assert(
      fc.property(docAndCursor(), fc.integer({ min: 1, max: 200 }), typed, ({ text, cursor }, budget, keys) => {
        const windows = new PrefixWindows();
        let doc = text;
        let at = clamp(cursor, text);
        const first = windows.select("u", doc, at, budget, countByFour);
        const start = at - first.length;
        for (const key of keys) {
          doc = doc.slice(0, at) + key + doc.slice(at);
          at += key.length;
          const fits = countByFour(doc.slice(start, at)) <= budget && at - start <= budget * MAX_CHARS_PER_TOKEN;
          const window = windows.select("u", doc, at, budget, countByFour);
          if (!fits) break;
          expect(at - window.length).toBe(start);
        }
      }),
      options(300),
    );
  });
});

describe("suffix window properties", () => {
  it("terminates and returns a slice of the text starting at the cursor, within the budget", () => {
    fc.assert(
      fc.property(docAndCursor(true), budgetArb, ({ text, cursor }, budget) => {
        const suffix = selectSuffix(text, cursor, budget, boundedCounter(countByFour, callLimit(text)));
        const at = clamp(cursor, text);
        expect(text.slice(at, at + suffix.length)).toBe(suffix);
        expect(countByFour(suffix)).toBeLessThanOrEqual(budget);
        if (budget <= 0) expect(suffix).toBe("");
      }),
      options(300),
    );
  });

  it("ends at a line break or the end of the text unless the cursor's line alone is over the budget", () => {
    fc.assert(
      fc.property(docAndCursor(), budgetArb, ({ text, cursor }, budget) => {
        const suffix = selectSuffix(text, cursor, budget, countByFour);
        const at = clamp(cursor, text);
        const end = at + suffix.length;
        if (suffix === "" || end === text.length || text[end - 1] === "\n") return;
        const lineEnd = text.indexOf("\n", at);
        const line = text.slice(at, lineEnd === -1 ? text.length : lineEnd + 1);
        expect(countByFour(line) > budget || line.length > budget * MAX_CHARS_PER_TOKEN).toBe(true);
      }),
      options(300),
    );
  });
});

describe("line-ending normalisation before windowing", () => {
  it("turns every line break into \\n without adding or losing one, and keeps the cursor on the same text", () => {
    fc.assert(
      fc.property(docAndCursor(), ({ text, cursor }) => {
        const at = clamp(cursor, text);
        const { value, cursor: moved } = normalizeLineEndings(text, at);
        expect(value).toBe(text.replace(/\r\n?/g, "\n"));
        expect(value).not.toContain("\r");
        expect(moved).toBeGreaterThanOrEqual(0);
        expect(moved).toBeLessThanOrEqual(value.length);
        // The text before the cursor is the original's up to the cursor (a cursor inside CRLF counts as before it).
        const before = text.charCodeAt(at - 1) === 13 && text.charCodeAt(at) === 10 ? at - 1 : at;
        expect(value.slice(0, moved)).toBe(text.slice(0, before).replace(/\r\n?/g, "\n"));
      }),
      options(300),
    );
  });
});
