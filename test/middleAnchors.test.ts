/**
 * Typed text after the fill-in-the-middle marker (MiddleAnchors): the prompt holds the same text,
 * and a keystroke on a warm sequence evaluates what it changed, not the suffix again.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultSettings } from "../src/config/schema.js";
import { CompletionService } from "../src/features/completion/CompletionService.js";
import { selectSuffix } from "../src/features/completion/contextWindow.js";
import { MAX_MIDDLE_CHARS, MiddleAnchors } from "../src/features/completion/MiddleAnchors.js";
import { buildFimPrompt, renderPrompt } from "../src/features/completion/prompt.js";
import { completionSettings } from "../src/server/server.js";
import { silentLogger } from "../src/util/logger.js";
import { completionRequest } from "./helpers/completionRequest.js";
import { createEngine, tinyModel } from "./helpers/models.js";

const never = new AbortController().signal;

describe("MiddleAnchors", () => {
  it("cuts at the start of the cursor's line, then keeps the cut while the user types on", () => {
    const anchors = new MiddleAnchors();
    expect(anchors.split("a", "one\ntwo\nthr", 8)).toEqual({ head: "one\ntwo\n", middle: "thr" });
    expect(anchors.split("a", "one\ntwo\nthree", 8)).toEqual({ head: "one\ntwo\n", middle: "three" });
    // Enter and a new line: the cut stays, so the suffix's cache survives the line break.
    expect(anchors.split("a", "one\ntwo\nthree\n  fo", 8)).toEqual({ head: "one\ntwo\n", middle: "three\n  fo" });
    // A backspace over the line break before the cut moves it.
    expect(anchors.split("a", "one\ntwo", 8)).toEqual({ head: "one\n", middle: "two" });
    // An edit before the cut (or a moved prefix window) moves it too.
    expect(anchors.split("a", "ONE\ntwo!", 8)).toEqual({ head: "ONE\n", middle: "two!" });
    // Slots are independent; a prefix without a line break goes after the marker whole.
    expect(anchors.split("b", "x = 1", 8)).toEqual({ head: "", middle: "x = 1" });
  });

  it("moves the cut to the cursor's line after more than maxLines typed line breaks", () => {
    const anchors = new MiddleAnchors();
    anchors.split("a", "top\n", 2);
    expect(anchors.split("a", "top\na\nb\n", 2).head).toBe("top\n");
    expect(anchors.split("a", "top\na\nb\nc", 2).head).toBe("top\n");
    expect(anchors.split("a", "top\na\nb\nc\nd", 2)).toEqual({ head: "top\na\nb\nc\n", middle: "d" });
  });

  it("moves the cut when the typed run grows past its length bound", () => {
    const anchors = new MiddleAnchors();
    anchors.split("a", "top\n", 8);
    const long = "top\n" + "x".repeat(MAX_MIDDLE_CHARS) + "\ny";
    expect(anchors.split("a", long, 8)).toEqual({ head: long.slice(0, -1), middle: "y" });
  });

  it("puts everything before the suffix when off", () => {
    const anchors = new MiddleAnchors();
    anchors.split("a", "one\ntwo", 8);
    expect(anchors.split("a", "one\ntwo", 0)).toEqual({ head: "one\ntwo", middle: "" });
  });

  it("always splits the prefix into head + middle, the head ending at a line start", () => {
    const edit = fc.record({ text: fc.string({ unit: fc.constantFrom("a", "b", "\n", " "), maxLength: 40 }), lines: fc.integer({ min: 0, max: 4 }) });
    fc.assert(
      fc.property(fc.array(edit, { minLength: 1, maxLength: 20 }), (edits) => {
        const anchors = new MiddleAnchors();
        for (const { text, lines } of edits) {
          const { head, middle } = anchors.split("s", text, lines);
          expect(head + middle).toBe(text);
          if (lines > 0) expect(head === "" || head.endsWith("\n")).toBe(true);
          else expect(middle).toBe("");
          const breaks = middle.split("\n").length - 1;
          // Either the kept cut (within the bound) or a fresh one (the cursor's line alone).
          expect(breaks <= lines || breaks === 0).toBe(true);
        }
      }),
      { seed: 14, numRuns: 300 },
    );
  });

  it("renders the typed text after the middle marker", () => {
    const parts = buildFimPrompt({ prefix: "def f():\n", middle: "    ret", suffix: "\n\nf()\n", snippets: [], repoName: "r", filePath: "a.py" });
    expect(renderPrompt(parts)).toBe("<|fim_prefix|>def f():\n<|fim_suffix|>\n\nf()\n<|fim_middle|>    ret");
  });
});

describe("keystrokes on the tiny model", () => {
  let engine: ReturnType<typeof createEngine>;
  beforeAll(async () => {
    engine = createEngine(await tinyModel(), { sequences: 2 });
    await engine.backend.tokenizer(never);
  });
  afterAll(async () => {
    await engine.model.dispose();
  });

  /** Types `typed` at the end of line 2 one character at a time; the evaluated tokens of each keystroke after the first. */
  const before = "export function area(w: number, h: number): number {\n  const size = ";
  const after = "\n  return size;\n}\n\nexport const unit = area(1, 1);\nexport const pair = area(2, 1);\n";
  const typed = "w * h;\n  const half = size / 2;";

  async function typeAlong(middleLines: number): Promise<number[]> {
    const settings = { ...completionSettings(defaultSettings()), debounceMs: 0, maxTokens: 2, maxMultilineTokens: 2, firstPrefixTokens: 0, middleLines };
    const service = new CompletionService(engine.backend, settings, silentLogger());
    const evaluated: number[] = [];
    for (let i = 0; i <= typed.length; i++) {
      const text = before + typed.slice(0, i) + after;
      const outcome = await service.complete(completionRequest(`file:///p/k${middleLines}.ts`, text, before.length + i), never);
      expect(outcome.metrics.source).toBe("model");
      if (i > 0) evaluated.push(outcome.metrics.evaluatedTokens);
    }
    return evaluated;
  }

  it("evaluates only the typed character (and the marker's neighbour) per keystroke, across a line break", async () => {
    const evaluated = await typeAlong(8);
    // The tiny model's vocabulary is bytes: one token per character.
    expect(Math.max(...evaluated)).toBeLessThanOrEqual(2);
  });

  it("re-evaluates the suffix on every keystroke in the usual layout", async () => {
    const evaluated = await typeAlong(0);
    // The suffix is whole lines within its token budget (one token per character here).
    const suffix = selectSuffix(before + after, before.length, completionSettings(defaultSettings()).maxSuffixTokens, (t) => t.length);
    expect(suffix.length).toBeGreaterThan(10);
    expect(Math.min(...evaluated)).toBeGreaterThanOrEqual(suffix.length);
  });
});
