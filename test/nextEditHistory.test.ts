import { describe, expect, it } from "vitest";
import { EditHistory, narrowChange, type TextChange } from "../src/features/nextEdit/EditHistory.js";
import { renderHunk } from "../src/features/nextEdit/diffRender.js";
import { chooseFormat, FORMATS, promptInput } from "../src/features/nextEdit/prompt.js";
import { contextSpan, editableRegion } from "../src/features/nextEdit/regions.js";
import { CURSOR_MARKER, instructMessages, parseChatAnswer } from "../src/features/nextEdit/formats/instruct.js";
import { ZETA_MARKERS } from "../src/features/nextEdit/formats/zeta.js";

/** A document that records its edits into a history the way the server does. */
class Doc {
  constructor(
    public text: string,
    readonly history: EditHistory,
    readonly uri = "file:///w/a.ts",
    readonly path = "a.ts",
  ) {}
  version = 1;
  replace(start: number, end: number, insert: string, time: number): void {
    const line = this.text.slice(0, start).split("\n").length - 1;
    const change: TextChange = { uri: this.uri, path: this.path, version: ++this.version, text: this.text, start, end, insert, line, time };
    this.history.record(change);
    this.text = this.text.slice(0, start) + insert + this.text.slice(end);
  }
  type(at: number, chars: string, time: number): void {
    for (let i = 0; i < chars.length; i++) this.replace(at + i, at + i, chars[i]!, time + i * 100);
  }
}

describe("EditHistory", () => {
  it("merges a burst of keystrokes on one line into one record with whole lines before and after", () => {
    const history = new EditHistory();
    const doc = new Doc("let a = 1;\nlet b = 2;\n", history);
    doc.type(4, "count", 1000);
    expect(history.recent()).toMatchObject([{ line: 0, before: "let a = 1;", after: "let counta = 1;", path: "a.ts", version: 6 }]);
    expect(renderHunk(history.recent()[0]!)).toBe("@@ -1,1 +1,1 @@\n-let a = 1;\n+let counta = 1;");
  });

  it("starts a new record after a pause or far away, and keeps time order across files", () => {
    const history = new EditHistory({ mergeWindowMs: 1000 });
    const a = new Doc("one\ntwo\nthree\nfour\nfive\n", history);
    const b = new Doc("x\n", history, "file:///w/b.ts", "b.ts");
    a.type(0, "1", 0);
    a.type(a.text.indexOf("five"), "5", 200); // far from the first: a new record
    b.type(0, "y", 300);
    a.type(a.text.indexOf("five"), "6", 5000); // same line, but after a pause
    expect(history.recent().map((r) => [r.path, r.after])).toEqual([
      ["a.ts", "1one"],
      ["a.ts", "5five"],
      ["b.ts", "yx"],
      ["a.ts", "56five"],
    ]);
  });

  it("drops a record that typing and deleting brought back to where it began", () => {
    const history = new EditHistory();
    const doc = new Doc("abc\n", history);
    doc.type(1, "zz", 0);
    doc.replace(1, 3, "", 300);
    expect(doc.text).toBe("abc\n");
    expect(history.recent()).toEqual([]);
  });

  it("merges an edit on the adjacent line and extends both sides", () => {
    const history = new EditHistory();
    const doc = new Doc("a\nb\nc\n", history);
    doc.replace(2, 3, "B", 0);
    doc.replace(0, 1, "A", 100);
    expect(history.recent()).toMatchObject([{ line: 0, before: "a\nb", after: "A\nB" }]);
  });

  it("is bounded in records and in characters per record", () => {
    const history = new EditHistory({ maxRecords: 3, maxRecordChars: 50 });
    const doc = new Doc("\n".repeat(20), history);
    for (let i = 0; i < 10; i++) doc.replace(i * 2, i * 2, "x", i * 10_000);
    expect(history.recent()).toHaveLength(3);
    doc.replace(0, 0, "y".repeat(500), 1e6);
    const last = history.recent().at(-1)!;
    expect(last.truncated).toBe(true);
    expect(last.after.length).toBeLessThanOrEqual(50);
  });

  it("forgets a closed document", () => {
    const history = new EditHistory();
    const doc = new Doc("a\n", history);
    doc.type(0, "x", 0);
    history.forget(doc.uri);
    expect(history.recent()).toEqual([]);
  });

  it("narrowChange finds the one differing span of a full-text change", () => {
    expect(narrowChange("hello world", "hello brave world")).toEqual({ start: 6, end: 6, insert: "brave " });
    expect(narrowChange("aaa", "aa")).toEqual({ start: 2, end: 3, insert: "" });
    expect(narrowChange("", "")).toEqual({ start: 0, end: 0, insert: "" });
  });
});

describe("editable region and context", () => {
  const text = Array.from({ length: 100 }, (_, i) => `line ${i}`).join("\n");
  it("takes whole lines around the cursor and a context around that", () => {
    const cursor = text.indexOf("line 50") + 3;
    const region = editableRegion(text, cursor, { linesAbove: 2, linesBelow: 1, maxChars: 1000, contextLines: 3 });
    expect(text.slice(region.start, region.end)).toBe("line 48\nline 49\nline 50\nline 51");
    const context = contextSpan(text, region, { linesAbove: 2, linesBelow: 1, maxChars: 1000, contextLines: 3 });
    expect(text.slice(context.start, context.end).split("\n")).toHaveLength(10);
  });

  it("drops far lines to fit the character cap and cuts a giant line around the cursor", () => {
    const region = editableRegion(text, text.indexOf("line 50"), { linesAbove: 10, linesBelow: 10, maxChars: 30, contextLines: 0 });
    expect(region.end - region.start).toBeLessThanOrEqual(30);
    expect(text.slice(region.start, region.end)).toContain("line 50");
    const long = "x".repeat(10_000);
    const cut = editableRegion(long, 5000, { linesAbove: 1, linesBelow: 1, maxChars: 100, contextLines: 0 });
    expect(cut.end - cut.start).toBe(100);
    expect(cut.start <= 5000 && 5000 <= cut.end).toBe(true);
  });
});

describe("prompt formats", () => {
  const history = new EditHistory();
  const doc = new Doc("function f(a) {\n  return a;\n}\nf(1);\n", history, "file:///w/src/a.ts", "src/a.ts");
  doc.replace(11, 12, "x", 0); // rename the parameter: `function f(x)`
  const input = promptInput({ uri: doc.uri, path: "src/a.ts", languageId: "typescript", text: doc.text }, doc.text.indexOf("return"), history, 8, {
    linesAbove: 5,
    linesBelow: 5,
    maxChars: 2000,
    contextLines: 5,
  });

  it("shows the region before the last edit", () => {
    expect(input.originalRegion).toContain("function f(a)");
    expect(doc.text.slice(input.region.start, input.region.end)).toContain("function f(x)");
  });

  it("instruct: ChatML parts, the cursor marker in the region, the answer ends at the closing fence", () => {
    const p = FORMATS.instruct(input);
    expect(p.parts[0]).toEqual({ kind: "special", token: "im_start" });
    const user = p.parts.map((x) => (x.kind === "text" ? x.text : "")).join("");
    expect(user).toContain(`  ${CURSOR_MARKER}return a;`);
    expect(user).toContain("-function f(a) {\n+function f(x) {");
    expect(p.shouldStop("function f(x) {\n  return x;\n}\n``")).toBe(false);
    expect(p.shouldStop("function f(x) {\n  return x;\n}\n```")).toBe(true);
    expect(p.parse("function f(x) {\n  return x;\n}\n```", true)).toBe("function f(x) {\n  return x;\n}");
    expect(p.parse("function f(x) {\n  retu", false)).toBeUndefined();
  });

  it("instruct as chat messages for a cloud provider: the answer's own code block is the region", () => {
    const messages = instructMessages(input);
    expect(messages.map((m) => m.role)).toEqual(["system", "user"]);
    expect(messages[1]!.content).toContain(CURSOR_MARKER);
    expect(parseChatAnswer("```typescript\nfunction f(x) {\n  return x;\n}\n```\nDone.")).toBe("function f(x) {\n  return x;\n}");
    expect(parseChatAnswer("```\n\n```")).toBe("");
    expect(parseChatAnswer("function f(x) {")).toBeUndefined();
    expect(parseChatAnswer("```ts\nfunction f(x) {")).toBeUndefined();
  });

  it("zeta: markers around the region, the events as diff blocks, the region parsed between the markers", () => {
    const p = FORMATS.zeta(input);
    const prompt = (p.parts[0] as { text: string }).text;
    expect(prompt).toContain("### User Edits:");
    expect(prompt).toContain('User edited "src/a.ts":\n```diff\n@@ -1,1 +1,1 @@');
    expect(prompt).toContain(`${ZETA_MARKERS.fileStart}\n${ZETA_MARKERS.start}\nfunction f(x)`);
    expect(prompt.endsWith("### Response:\n")).toBe(true);
    const out = `\`\`\`src/a.ts\n${ZETA_MARKERS.start}\nfunction f(x) {\n  return x;${ZETA_MARKERS.cursor}\n}\n${ZETA_MARKERS.end}`;
    expect(p.shouldStop(out)).toBe(true);
    expect(p.parse(out, true)).toBe("function f(x) {\n  return x;\n}");
    expect(p.parse("function f(x) {", false)).toBeUndefined();
  });

  it("sweep: file_sep sections in Qwen's repository layout, original/current/updated blocks", () => {
    const p = FORMATS.sweep(input);
    const seps = p.parts.filter((x) => x.kind === "special");
    expect(seps.every((x) => x.kind === "special" && x.token === "file_sep")).toBe(true);
    const texts = p.parts.filter((x) => x.kind === "text").map((x) => (x as { text: string }).text);
    expect(texts[0]!.startsWith("src/a.ts\n")).toBe(true);
    expect(texts).toContain("src/a.ts.diff\noriginal:\nfunction f(a) {\nupdated:\nfunction f(x) {\n");
    expect(texts.at(-3)!.startsWith("original/src/a.ts\nfunction f(a)")).toBe(true);
    expect(texts.at(-2)!.startsWith("current/src/a.ts\nfunction f(x)")).toBe(true);
    expect(texts.at(-1)).toBe("updated/src/a.ts\n");
    expect(p.parse("function f(x) {\n", true)).toBe("function f(x) {");
    expect(p.parse("function f(x) {\n", false)).toBeUndefined();
  });

  it("keeps the prompt's start identical while the user types inside the region", () => {
    const before = FORMATS.instruct(input).parts;
    const typed = new Doc(doc.text, new EditHistory());
    typed.type(typed.text.indexOf("return a") + 8, " + 1", 0);
    const after = FORMATS.instruct(
      promptInput({ uri: doc.uri, path: "src/a.ts", languageId: "typescript", text: typed.text }, typed.text.indexOf("return"), history, 8, {
        linesAbove: 5,
        linesBelow: 5,
        maxChars: 2000,
        contextLines: 5,
      }),
    ).parts;
    // System turn and the opening of the user turn up to the changed line are the same.
    expect(after.slice(0, 4)).toEqual(before.slice(0, 4));
    const a = (before[5] as { text: string }).text;
    const b = (after[5] as { text: string }).text;
    expect(b.slice(0, b.indexOf("return"))).toBe(a.slice(0, a.indexOf("return")));
  });

  it("auto picks the format from the model file's name", () => {
    expect(chooseFormat("auto", "/m/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf")).toBe("instruct");
    expect(chooseFormat("auto", "/m/zeta-Q4_K_M.gguf")).toBe("zeta");
    expect(chooseFormat("auto", "/m/sweep-next-edit-1.5b.q8_0.gguf")).toBe("sweep");
    expect(chooseFormat("zeta", "/m/sweep.gguf")).toBe("zeta");
  });
});

describe("the documents' change observer (the history's feed)", () => {
  it("reports incremental changes clamped, and a full-text change as the one span that differs", async () => {
    const { TextDocument } = await import("vscode-languageserver-textdocument");
    const { applyChanges } = await import("../src/server/documents.js");
    const seen: unknown[] = [];
    const doc = TextDocument.create("file:///w/a.ts", "typescript", 1, "one\ntwo\n");
    const warn = (): void => undefined;
    applyChanges(doc, [{ range: { start: { line: 1, character: 0 }, end: { line: 1, character: 99 } }, text: "TWO" }], 2, warn, (c) => seen.push(c));
    applyChanges(doc, [{ text: "one\nTWO!\n" }], 3, warn, (c) => seen.push(c));
    applyChanges(doc, [{ text: "one\nTWO!\n" }], 4, warn, (c) => seen.push(c));
    expect(seen).toEqual([
      { uri: "file:///w/a.ts", version: 2, text: "one\ntwo\n", start: 4, end: 7, insert: "TWO", line: 1 },
      { uri: "file:///w/a.ts", version: 3, text: "one\nTWO\n", start: 7, end: 7, insert: "!", line: 1 },
    ]);
    expect(doc.getText()).toBe("one\nTWO!\n");
  });
});
