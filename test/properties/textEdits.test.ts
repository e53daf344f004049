import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { TextDocument } from "vscode-languageserver-textdocument";
import { TextSnapshot, applyChanges, minimalChange } from "../../src/features/actions/textEdits.js";
import { documentText, lspLineStarts, lspOffset, offsetIn, options, positionIn, smallText } from "./arbitraries.js";

const docAndPosition = documentText().chain((text) =>
  positionIn(lspLineStarts(text).length, text.length + 2).map((position) => ({ text, position })),
);

describe("UTF-16 positions and offsets (TextSnapshot)", () => {
  it("offsetAt agrees with the LSP definition (LF, CRLF and lone CR end lines; out-of-range positions clamp)", () => {
    fc.assert(
      fc.property(docAndPosition, ({ text, position }) => {
        expect(new TextSnapshot(text).offsetAt(position)).toBe(lspOffset(text, position));
      }),
      options(400),
    );
  });

  it("positionAt agrees with the LSP document implementation the server syncs with", () => {
    const docAndOffset = documentText().chain((text) => offsetIn(text.length).map((offset) => ({ text, offset })));
    fc.assert(
      fc.property(docAndOffset, ({ text, offset }) => {
        const reference = TextDocument.create("file:///a", "plaintext", 1, text);
        expect(new TextSnapshot(text).positionAt(offset)).toEqual(reference.positionAt(offset));
      }),
      options(400),
    );
  });

  it("line count and line text agree with the LSP definition", () => {
    fc.assert(
      fc.property(documentText(), (text) => {
        const snapshot = new TextSnapshot(text);
        const starts = lspLineStarts(text);
        expect(snapshot.lineCount).toBe(starts.length);
        for (let line = 0; line < starts.length; line++) {
          expect(snapshot.line(line)).toBe(text.slice(starts[line], lspOffset(text, { line, character: Number.MAX_SAFE_INTEGER })));
        }
      }),
      options(300),
    );
  });
});

describe("edit narrowing (minimalChange)", () => {
  /** A region the way actions get one (from LSP positions), and a replacement for it. */
  const regionCase = documentText().chain((text) => {
    const lines = lspLineStarts(text).length;
    return fc.record({
      text: fc.constant(text),
      a: positionIn(lines, text.length + 2),
      b: positionIn(lines, text.length + 2),
      replacement: fc.oneof(smallText, fc.constant("")),
      keepEnds: fc.boolean(),
    });
  });

  it("applying the narrowed edit as an LSP client does yields the whole replacement's result", () => {
    fc.assert(
      fc.property(regionCase, ({ text, a, b, replacement, keepEnds }) => {
        const x = lspOffset(text, a);
        const y = lspOffset(text, b);
        const [start, end] = x <= y ? [x, y] : [y, x];
        const oldText = text.slice(start, end);
        // Half the cases keep the region's ends, as re-indented code around a small change does.
        const newText = keepEnds ? oldText.slice(0, 3) + replacement + oldText.slice(-3) : replacement;
        const expected = text.slice(0, start) + newText + text.slice(end);
        const change = minimalChange(new TextSnapshot(text), start, oldText, newText);
        if (change === undefined) {
          expect(newText).toBe(oldText);
          return;
        }
        const client = TextDocument.create("file:///a", "plaintext", 1, text);
        TextDocument.update(client, [{ range: change.range, text: change.newText }], 2);
        expect(client.getText()).toBe(expected);
        expect(applyChanges(text, [change])).toBe(expected);
        expect(change.newText.length).toBeLessThanOrEqual(newText.length);
      }),
      options(500),
    );
  });
});
