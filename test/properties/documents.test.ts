import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { applyChanges, createDocument } from "../../src/server/documents.js";
import { documentText, lspLineStarts, lspOffset, options, positionIn, smallText } from "./arbitraries.js";

const ignore = (): void => undefined;

/** The reference model: a plain string, edits applied at clamped LSP offsets with reversed ranges swapped. */
function applyReference(text: string, range: { start: { line: number; character: number }; end: { line: number; character: number } }, insert: string): string {
  const a = lspOffset(text, range.start);
  const b = lspOffset(text, range.end);
  const [start, end] = a <= b ? [a, b] : [b, a];
  return text.slice(0, start) + insert + text.slice(end);
}

const edit = fc.record({
  start: positionIn(12, 30),
  end: positionIn(12, 30),
  text: fc.oneof(smallText, fc.constantFrom("", "\n", "\r", "\r\n", "\n\r", "😀", "\uD83D")),
});

describe("incremental sync (src/server/documents.ts)", () => {
  it("a random sequence of edits, out-of-range ones included, equals the reference model", () => {
    fc.assert(
      fc.property(documentText(), fc.array(edit, { maxLength: 25 }), (initial, edits) => {
        const document = createDocument("file:///a.ts", "typescript", 1, initial, ignore);
        let reference = initial;
        let version = 1;
        for (const e of edits) {
          const range = { start: e.start, end: e.end };
          applyChanges(document, [{ range, text: e.text }], ++version, ignore);
          reference = applyReference(reference, range, e.text);
          expect(document.getText()).toBe(reference);
        }
        // The line table the document keeps incrementally must agree with the text it holds.
        const starts = lspLineStarts(reference);
        expect(document.lineCount).toBe(starts.length);
        for (let line = 0; line < starts.length + 1; line++) {
          for (const character of [0, 1, 3, 1e9]) {
            expect(document.offsetAt({ line, character })).toBe(lspOffset(reference, { line, character }));
          }
        }
        expect(document.version).toBe(version);
      }),
      options(400),
    );
  });

  it("several changes in one notification apply in order, like separate notifications", () => {
    fc.assert(
      fc.property(documentText(), fc.array(edit, { maxLength: 8 }), (initial, edits) => {
        const batched = createDocument("file:///a.ts", "typescript", 1, initial, ignore);
        const single = createDocument("file:///b.ts", "typescript", 1, initial, ignore);
        applyChanges(batched, edits.map((e) => ({ range: { start: e.start, end: e.end }, text: e.text })), 2, ignore);
        for (const e of edits) applyChanges(single, [{ range: { start: e.start, end: e.end }, text: e.text }], 2, ignore);
        expect(batched.getText()).toBe(single.getText());
      }),
      options(200),
    );
  });
});
