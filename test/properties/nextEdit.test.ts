import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { EditHistory } from "../../src/features/nextEdit/EditHistory.js";
import { keepUseful } from "../../src/features/nextEdit/filters.js";
import { applyEdits, matchLineEndings, minimalEdits } from "../../src/features/nextEdit/minimalEdits.js";
import { contextSpan, editableRegion } from "../../src/features/nextEdit/regions.js";
import { documentText, offsetIn, options, smallText } from "./arbitraries.js";

const lines = fc.array(fc.constantFrom("a", "b", "const x = 1;", "", "  y();", "😀", "\uD83D", "}", "foo bar"), { maxLength: 12 });
const lineBreak = fc.constantFrom("\n", "\r\n");

describe("next-edit properties", () => {
  it("minimal edits applied to the region give the rewrite (in the region's line endings)", () => {
    fc.assert(
      fc.property(fc.oneof(documentText(), lines.map((l) => l.join("\n"))), fc.oneof(smallText, lines.map((l) => l.join("\n"))), (region, rewrite) => {
        const edits = minimalEdits(region, rewrite);
        expect(applyEdits(region, edits)).toBe(matchLineEndings(region, rewrite));
        for (let i = 0; i < edits.length; i++) {
          const e = edits[i]!;
          expect(e.start).toBeLessThanOrEqual(e.end);
          if (i > 0) expect(edits[i - 1]!.end).toBeLessThanOrEqual(e.start);
          expect(region.slice(e.start, e.end) === e.text).toBe(false);
        }
      }),
      options(400),
    );
  });

  it("lines the model left alone are never inside an edit", () => {
    const doc = fc.tuple(lines, lineBreak, fc.array(fc.nat(11), { maxLength: 4 }), fc.constantFrom("X", "let z = 2;", ""));
    fc.assert(
      fc.property(doc, ([ls, br, changed, replacement]) => {
        if (ls.length === 0) return;
        const region = ls.join(br);
        const touched = new Set(changed.map((c) => c % ls.length));
        const rewrite = ls.map((l, i) => (touched.has(i) ? replacement : l)).join("\n");
        const edits = minimalEdits(region, rewrite);
        // Every untouched line keeps its characters out of every edit.
        let at = 0;
        ls.forEach((l, i) => {
          const start = at;
          at += l.length + br.length;
          // A line that appears twice may be matched with its twin: only unique lines are checked.
          if (touched.has(i) || l.length === 0 || ls.indexOf(l) !== ls.lastIndexOf(l)) return;
          for (const e of edits) expect(e.end <= start || e.start >= start + l.length).toBe(true);
        });
      }),
      options(300),
    );
  });

  it("the filters keep a subset of the edits, never one that only changes whitespace", () => {
    fc.assert(
      fc.property(smallText, smallText, smallText, (region, original, rewrite) => {
        const edits = minimalEdits(region, rewrite);
        const kept = keepUseful(region, original, edits);
        for (const e of kept.edits) {
          expect(edits).toContainEqual(e);
          expect(region.slice(e.start, e.end).replace(/\s+/g, "")).not.toBe(e.text.replace(/\s+/g, ""));
        }
        expect(kept.edits.length === 0).toBe(kept.dropped !== undefined);
      }),
      options(300),
    );
  });

  it("the region holds the cursor, respects its cap, and the context holds the region", () => {
    const case_ = documentText({ huge: true }).chain((text) =>
      fc.tuple(fc.constant(text), offsetIn(text.length), fc.nat(30), fc.nat(30), fc.integer({ min: 1, max: 5000 }), fc.nat(50)),
    );
    fc.assert(
      fc.property(case_, ([text, offset, above, below, maxChars, contextLines]) => {
        const opts = { linesAbove: above, linesBelow: below, maxChars, contextLines };
        const region = editableRegion(text, offset, opts);
        const cursor = Math.max(0, Math.min(text.length, Math.floor(offset)));
        expect(region.start).toBeLessThanOrEqual(cursor);
        expect(region.end).toBeGreaterThanOrEqual(Math.min(cursor, region.end));
        expect(region.end - region.start).toBeLessThanOrEqual(maxChars);
        const context = contextSpan(text, region, opts);
        expect(context.start).toBeLessThanOrEqual(region.start);
        expect(context.end).toBeGreaterThanOrEqual(region.end);
        expect(context.end).toBeLessThanOrEqual(text.length);
      }),
      options(200),
    );
  });

  it("the history's newest record of a document always matches the document's text there, and stays bounded", () => {
    const change = fc.record({ at: fc.nat(), len: fc.nat(5), insert: fc.oneof(smallText, fc.constantFrom("", "\n", "x")), dt: fc.constantFrom(0, 50, 10_000) });
    fc.assert(
      fc.property(documentText(), fc.array(change, { maxLength: 30 }), (initial, changes) => {
        const history = new EditHistory({ maxRecords: 5, maxRecordChars: 200 });
        let text = initial;
        let time = 0;
        let version = 1;
        for (const c of changes) {
          const start = text.length === 0 ? 0 : c.at % (text.length + 1);
          const end = Math.min(text.length, start + c.len);
          time += c.dt;
          const line = text.slice(0, start).split("\n").length - 1;
          history.record({ uri: "u", path: "p", version: ++version, text, start, end, insert: c.insert, line, time });
          text = text.slice(0, start) + c.insert + text.slice(end);
          const last = history.last("u");
          const offset = history.lastOffset("u");
          if (last && !last.truncated) expect(text.startsWith(last.after, offset!)).toBe(true);
          expect(history.recent().length).toBeLessThanOrEqual(5);
          for (const r of history.recent()) expect(r.before === r.after).toBe(false);
        }
      }),
      options(300),
    );
  });
});
