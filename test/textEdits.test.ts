import { describe, expect, it } from "vitest";
import { TextSnapshot, applyChanges, minimalChange } from "../src/features/actions/textEdits.js";

// Counterexamples the property tier (test/properties/textEdits.test.ts) found, kept as cases.
describe("TextSnapshot: lines end where LSP says (LF, CRLF, lone CR)", () => {
  it("a lone CR ends a line", () => {
    const snapshot = new TextSnapshot("\r");
    expect(snapshot.lineCount).toBe(2);
    expect(snapshot.positionAt(1)).toEqual({ line: 1, character: 0 });
    expect(snapshot.offsetAt({ line: 1, character: 0 })).toBe(1);
    const mixed = new TextSnapshot("a\rb\r\nc\nd");
    expect([0, 1, 2, 3].map((line) => mixed.line(line))).toEqual(["a", "b", "c", "d"]);
  });

  it("an offset inside CRLF is placed before it; non-numeric coordinates clamp", () => {
    const snapshot = new TextSnapshot("ab\r\ncd");
    expect(snapshot.positionAt(3)).toEqual({ line: 0, character: 2 });
    expect(snapshot.positionAt(Number.NaN)).toEqual({ line: 0, character: 0 });
    expect(snapshot.offsetAt({ line: Number.NaN, character: 1 })).toBe(0);
    expect(snapshot.offsetAt({ line: 1, character: Number.NaN })).toBe(4);
    expect(snapshot.offsetAt({ line: 0.5, character: 1.5 })).toBe(1);
  });

  it("a narrowed edit next to a lone CR lands where the client expects it", () => {
    const text = "({a\r\ude00/*";
    const snapshot = new TextSnapshot(text);
    const change = minimalChange(snapshot, 0, "({a\r", "")!;
    expect(change.range).toEqual({ start: { line: 0, character: 0 }, end: { line: 1, character: 0 } });
    expect(applyChanges(text, [change])).toBe("\ude00/*");
  });
});
