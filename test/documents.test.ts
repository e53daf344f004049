import { describe, expect, it } from "vitest";
import { TextDocument } from "vscode-languageserver-textdocument";
import { MAX_DOCUMENT_LENGTH, applyChanges, clampRange, createDocument, isOversized } from "../src/server/documents.js";

const warnings: string[] = [];
const warn = (_fields: Record<string, unknown>, message: string): void => {
  warnings.push(message);
};
const doc = (text: string): TextDocument => createDocument("file:///a.ts", "typescript", 1, text, warn);
const at = (line: number, character: number) => ({ line, character });

describe("incremental sync clamps ranges as the LSP spec says", () => {
  it("an edit a billion lines past the end appends at the end, and later edits are ordinary", () => {
    const d = doc("const a = 1;\n");
    applyChanges(d, [{ range: { start: at(1e9, 0), end: at(1e9 + 1, 0) }, text: "\n" }], 2, warn);
    expect(d.getText()).toBe("const a = 1;\n\n");
    expect(d.lineCount).toBe(3);
    applyChanges(d, [{ range: { start: at(2, 0), end: at(2, 0) }, text: "b" }], 3, warn);
    expect(d.getText()).toBe("const a = 1;\n\nb");
    expect(d.version).toBe(3);
  });

  it("negative positions mean the start, characters past a line its end (before CRLF), reversed ranges are swapped", () => {
    const d = doc("ab\r\ncd\nef");
    expect(clampRange(d, { start: at(-3, -1), end: at(0, -7) })).toEqual({ start: 0, end: 0 });
    expect(clampRange(d, { start: at(0, 99), end: at(0, 99) })).toEqual({ start: 2, end: 2 });
    expect(clampRange(d, { start: at(2, 1), end: at(1, 0) })).toEqual({ start: 4, end: 8 });
    expect(clampRange(d, { start: at(0.7, 1.9), end: at(Infinity, NaN) })).toEqual({ start: 1, end: 9 });
    expect(clampRange(d, { start: { line: "1" }, end: null })).toEqual({ start: 0, end: 0 });
    applyChanges(d, [{ range: { start: at(0, 99), end: at(1, 99) }, text: "X" }], 2, warn);
    expect(d.getText()).toBe("abX\nef");
  });

  it("skips malformed changes with a warning and applies full-text changes", () => {
    const d = doc("abc");
    warnings.length = 0;
    applyChanges(d, [null, "x", { text: 5 }, { range: { start: at(0, 1), end: at(0, 2) }, text: "Z" }], 2, warn);
    expect(d.getText()).toBe("aZc");
    expect(warnings).toHaveLength(3);
    applyChanges(d, "nope", 3, warn);
    applyChanges(d, [{ text: "whole" }], 4, warn);
    expect(d.getText()).toBe("whole");
  });

  it("empties a document that grows past the cap, ignores edits to it, and restores it on a full text that fits", () => {
    const d = doc("x".repeat(MAX_DOCUMENT_LENGTH - 1));
    expect(isOversized(d)).toBe(false);
    warnings.length = 0;
    applyChanges(d, [{ range: { start: at(0, 0), end: at(0, 0) }, text: "yy" }], 2, warn);
    expect(isOversized(d)).toBe(true);
    expect(d.getText()).toBe("");
    expect(warnings).toEqual([expect.stringMatching(/size cap/)]);
    applyChanges(d, [{ range: { start: at(0, 0), end: at(0, 0) }, text: "z" }], 3, warn);
    expect(d.getText()).toBe("");
    applyChanges(d, [{ text: "small" }], 4, warn);
    expect(isOversized(d)).toBe(false);
    expect(d.getText()).toBe("small");
    expect(isOversized(doc("x".repeat(MAX_DOCUMENT_LENGTH + 1)))).toBe(true);
    expect(createDocument("file:///b", "ts", 1, 42, warn).getText()).toBe("");
  });
});
