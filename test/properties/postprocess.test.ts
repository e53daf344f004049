import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decideCompletionMode } from "../../src/features/completion/completionMode.js";
import { postprocessCompletion } from "../../src/features/completion/postprocess.js";
import { cutLineEndRepetition } from "../../src/features/completion/postprocess/repetition.js";
import { initialScanState, maskCode } from "../../src/features/completion/postprocess/scanner.js";
import { syntaxFor } from "../../src/features/completion/postprocess/syntax.js";
import { documentText, options } from "./arbitraries.js";

const LANGUAGES = ["typescript", "javascript", "python", "go", "rust", "java", "c", "cpp", "csharp", "ruby", "php", "lua", "yaml", "shellscript", "markdown", "plaintext", "unknown-language"];
const language = fc.constantFrom(...LANGUAGES);
const mode = fc.constantFrom("single-line" as const, "multi-line" as const);

/** Shapes that cost the scanner or the repetition filters the most, at about a megabyte. */
const BOMBS = ["(".repeat(200_000), "]".repeat(200_000), "ab".repeat(150_000), "(\n".repeat(50_000), "x = 1\n".repeat(30_000)];
const bomb = fc.constantFrom(...BOMBS);
const side = fc.oneof({ weight: 30, arbitrary: documentText() }, { weight: 1, arbitrary: bomb });
const completion = fc.oneof({ weight: 30, arbitrary: documentText() }, { weight: 1, arbitrary: bomb }, { weight: 1, arbitrary: documentText({ huge: true }) });

/** Whether `small` can be obtained from `big` by deleting characters. */
function isSubsequence(small: string, big: string): boolean {
  let j = 0;
  for (let i = 0; i < big.length && j < small.length; i++) if (big[i] === small[j]) j++;
  return j === small.length;
}

describe("post-processing properties", () => {
  const input = fc.record({ prefix: side, suffix: side, languageId: language, mode, completion });

  it("never throws, only deletes from the model's text (newlines normalised), and keeps single-line results on one line", () => {
    fc.assert(
      fc.property(input, (i) => {
        const out = postprocessCompletion(i);
        const normalized = i.completion.replace(/\r\n?/g, "\n");
        expect(out.length).toBeLessThanOrEqual(normalized.length);
        expect(isSubsequence(out, normalized)).toBe(true);
        if (i.mode === "single-line") expect(out).not.toContain("\n");
        expect(out === "" || out.trim() !== "").toBe(true);
        expect(out).not.toMatch(/<\|(?:endoftext|fim_prefix|fim_suffix|fim_middle|fim_pad|file_sep|repo_name|im_start|im_end)\|>/);
        expect(postprocessCompletion(i)).toBe(out);
      }),
      options(300),
    );
  });

  it("decides a mode for any text around the cursor", () => {
    fc.assert(
      fc.property(side, side, language, (prefix, suffix, languageId) => {
        expect(["single-line", "multi-line"]).toContain(decideCompletionMode({ prefix, suffix, languageId }));
      }),
      options(200),
    );
  });

  it("code masking keeps every character's position: same length, same line breaks, code or a space", () => {
    fc.assert(
      fc.property(side, language, (text, languageId) => {
        const { code } = maskCode(text, syntaxFor(languageId), initialScanState());
        expect(code.length).toBe(text.length);
        let firstBad = -1;
        for (let i = 0; i < text.length && firstBad === -1; i++) {
          const ok = text[i] === "\n" ? code[i] === "\n" : code[i] === text[i] || code[i] === " ";
          if (!ok) firstBad = i;
        }
        expect(firstBad).toBe(-1);
      }),
      options(120),
    );
  });

  it("the line-end repetition cut returns a prefix of the line, trimmed", () => {
    const line = fc.oneof(
      documentText().map((t) => t.replace(/[\r\n]/g, "")),
      fc.tuple(fc.string({ maxLength: 10 }), fc.string({ minLength: 2, maxLength: 20 }), fc.integer({ min: 0, max: 40 })).map(([head, unit, n]) => head + unit.repeat(n)),
      bomb.map((b) => b.replace(/\n/g, "")),
    );
    fc.assert(
      fc.property(line, (l) => {
        const out = cutLineEndRepetition(l);
        expect(l.startsWith(out)).toBe(true);
      }),
      options(200),
    );
  });
});
