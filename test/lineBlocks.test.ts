import fc from "fast-check";
import type { LlamaModel, Token } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keptCounts } from "../src/features/completion/tokenCounts.js";
import { keptTextTokens } from "../src/inference/local/promptTokens.js";
import { lineBlocks } from "../src/util/lineBlocks.js";
import { hasSharedVocab, sharedVocab } from "./helpers/paths.js";
import { tinyModel } from "./helpers/models.js";
import { sourceSlices } from "./helpers/sourceSlices.js";

// Prompts are counted and tokenized by line blocks so a keystroke costs only the block it changed:
// the blocks must join to the text, and their tokens to the text's tokens, on the real tokenizer.

/** Text made of what code is made of, line breaks and odd whitespace included. */
const codeLike = fc
  .array(
    fc.constantFrom("\n", "\r\n", "\n\n", "  ", "\t", " ", "x", "foo", "Bar", "'s", "'ll", "12", "3", "(", ");", "{", "}", "=>", ".", ",", "//", "é", "日本", "\u00a0", "\u3000", "\u0085", "\u2028", "🙂", "\\", '"'),
    { maxLength: 400 },
  )
  .map((parts) => parts.join(""));

/** Longer slices than the tokenizer tests use: a prefix window is a few thousand characters. */
const slices = (count: number): string[] => sourceSlices(count, { seed: 4242, maxChars: 6000 });

describe("line blocks", () => {
  it("join to the text, are at least the minimum long, and end after a line break before a visible character", () => {
    fc.assert(
      fc.property(codeLike, fc.integer({ min: 1, max: 80 }), (text, min) => {
        const blocks = lineBlocks(text, min);
        expect(blocks.join("")).toBe(text);
        for (let i = 0; i < blocks.length - 1; i++) {
          expect(blocks[i]!.length).toBeGreaterThanOrEqual(min);
          expect(blocks[i]!.endsWith("\n")).toBe(true);
          // The next line holds a visible character after its indentation.
          expect(/^[^\S\r\n]*[^\s]/u.test(blocks[i + 1]!.replaceAll("\u0085", " "))).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });

  it("keep the earlier blocks of a text that grows at its end", () => {
    fc.assert(
      fc.property(codeLike, codeLike, fc.integer({ min: 1, max: 80 }), (text, more, min) => {
        const before = lineBlocks(text, min);
        const after = lineBlocks(text + more, min);
        expect(after.slice(0, before.length - 1)).toEqual(before.slice(0, -1));
      }),
      { numRuns: 500 },
    );
  });

  it("handle the empty text, a text without line breaks and a minimum below one", () => {
    expect(lineBlocks("", 10)).toEqual([""]);
    expect(lineBlocks("a".repeat(50), 10)).toEqual(["a".repeat(50)]);
    expect(lineBlocks("a\nb\nc", 0)).toEqual(["a\n", "b\n", "c"]);
    expect(lineBlocks("a\n  b\nc", 1)).toEqual(["a\n", "  b\n", "c"]);
    // A blank line (spaces only) is never where a block starts: its spaces join the line break before.
    expect(lineBlocks("a\n  \nb", 1)).toEqual(["a\n  \n", "b"]);
    expect(lineBlocks("a\n\r\n\tb", 1)).toEqual(["a\n\r\n", "\tb"]);
  });
});

/** The model's tokens of each block, joined, against the model's tokens of the whole text. */
function expectAdditive(model: LlamaModel, text: string, min: number): void {
  const joined: Token[] = lineBlocks(text, min).flatMap((b) => model.tokenize(b, false));
  expect(joined).toEqual(model.tokenize(text, false));
}

async function vocabOnly(modelPath: string): Promise<LlamaModel> {
  const { getLlama, LlamaLogLevel } = await import("node-llama-cpp");
  const llama = await getLlama({ gpu: false, build: "never", maxThreads: 1, logLevel: LlamaLogLevel.error, logger: () => undefined });
  return llama.loadModel({ modelPath, vocabOnly: true, useMmap: false });
}

describe.skipIf(!hasSharedVocab)("line blocks on llama.cpp's Qwen2.5 tokenizer", () => {
  let model: LlamaModel;
  beforeAll(async () => {
    model = await vocabOnly(sharedVocab);
  });
  afterAll(async () => {
    await model?.dispose();
  });

  it("give the same tokens as the whole text, on real sources", () => {
    for (const text of slices(12)) for (const min of [1, 64, 512]) expectAdditive(model, text, min);
  });

  it("give the same tokens as the whole text, on generated code", () => {
    fc.assert(
      fc.property(codeLike, fc.integer({ min: 1, max: 40 }), (text, min) => expectAdditive(model, text, min)),
      { numRuns: 400 },
    );
  });
});

describe("kept counts and tokens on the generated test model", () => {
  let model: LlamaModel;
  beforeAll(async () => {
    model = await vocabOnly(await tinyModel());
  });
  afterAll(async () => {
    await model?.dispose();
  });

  it("count and tokenize as the model does", () => {
    const count = keptCounts((t) => model.tokenize(t, false).length);
    const tokens = keptTextTokens(model);
    for (const text of [...slices(3), "", "x", "a\n\n  b\r\n c"]) {
      expect(count(text)).toBe(model.tokenize(text, false).length);
      expect(tokens(text)).toEqual(model.tokenize(text, false));
    }
  });

  it("cost a keystroke at the end only the last block", () => {
    const counted: string[] = [];
    const count = keptCounts((t) => {
      counted.push(t);
      return model.tokenize(t, false).length;
    });
    const text = slices(1).find((t) => t.length > 4000)!;
    const first = count(text);
    expect(first).toBe(model.tokenize(text, false).length);
    const all = counted.join("").length;
    expect(all).toBe(text.length);
    counted.length = 0;
    // One more character typed at the end: only the last block is counted again (or the two it
    // became, when the character made its last line a visible one).
    expect(count(text + "x")).toBe(model.tokenize(text + "x", false).length);
    expect(counted.length).toBeGreaterThan(0);
    expect(counted.join("").length).toBeLessThan(text.length / 4);
    expect((text + "x").endsWith(counted.join(""))).toBe(true);
  });
});

