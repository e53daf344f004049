// Generators shared by the property tests. They are weighted towards the shapes that have broken
// text-handling code here and elsewhere: empty text, leading and trailing line breaks, CRLF, lone
// CR, text made only of line breaks, surrogate pairs and lone surrogates, brackets and quotes that
// drive the post-processing scanner, one very long line, and positions outside the text.
import fc from "fast-check";

/**
 * The seed every property runs with, so a failure in CI reproduces exactly; fast-check prints
 * the seed and the shrunk counterexample on failure. Set FC_SEED to explore other seeds.
 */
export const SEED = Number(process.env.FC_SEED ?? 20261204);

/** Runs per property: modest by default so the tier fits the suite's budget; FC_RUNS scales it. */
export function runs(base: number): number {
  const scale = Number(process.env.FC_RUNS_SCALE ?? 1);
  return Math.max(1, Math.round(base * scale));
}

export const options = (numRuns: number): fc.Parameters<unknown> => ({ seed: SEED, numRuns: runs(numRuns) });

/** Pieces documents are built from: code-ish words, every kind of line break, odd UTF-16. */
const PIECES = [
  "a",
  "b",
  "x1",
  "const",
  "foo",
  " ",
  "  ",
  "\t",
  "\n",
  "\n",
  "\r\n",
  "\r",
  "(",
  ")",
  "[",
  "]",
  "{",
  "}",
  '"',
  "'",
  "`",
  "//",
  "/*",
  "*/",
  "#",
  ";",
  "=",
  ",",
  ".",
  "é",
  "😀",
  "\uD83D",
  "\uDE00",
  "\u0000",
  "<|fim_middle|>",
] as const;

const piece = fc.constantFrom(...PIECES);

/** Ordinary-sized text from the pieces above. */
export const smallText: fc.Arbitrary<string> = fc.array(piece, { maxLength: 60 }).map((parts) => parts.join(""));

/** Text made only of line breaks of every kind. */
export const onlyLineBreaks: fc.Arbitrary<string> = fc.array(fc.constantFrom("\n", "\r\n", "\r"), { maxLength: 12 }).map((p) => p.join(""));

/** One line of about a megabyte (a minified bundle), shared so each run does not allocate a new one. */
const MEGA_LINE = "x=a(b)+c;".repeat(116_509);
export const megaLine: fc.Arbitrary<string> = fc.tuple(smallText, smallText).map(([a, b]) => a + MEGA_LINE + b);

/** Document text: mostly small shapes, with leading/trailing breaks, only breaks, empty, and rarely a 1 MB line. */
export function documentText(options: { huge?: boolean } = {}): fc.Arbitrary<string> {
  const shapes: Array<fc.WeightedArbitrary<string>> = [
    { weight: 10, arbitrary: smallText },
    { weight: 3, arbitrary: fc.tuple(onlyLineBreaks, smallText, onlyLineBreaks).map(([a, b, c]) => a + b + c) },
    { weight: 2, arbitrary: onlyLineBreaks },
    { weight: 1, arbitrary: fc.constant("") },
    { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 40 }) },
  ];
  if (options.huge) shapes.push({ weight: 1, arbitrary: megaLine });
  return fc.oneof(...shapes);
}

/** An offset into a text of `length`: mostly inside, sometimes just outside, sometimes absurd. */
export function offsetIn(length: number): fc.Arbitrary<number> {
  return fc.oneof(
    { weight: 8, arbitrary: fc.integer({ min: 0, max: length }) },
    { weight: 1, arbitrary: fc.integer({ min: -3, max: length + 3 }) },
    { weight: 1, arbitrary: fc.constantFrom(-1e9, 1e9, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER) },
  );
}

/** An LSP position for a text with `lines` lines: inside, past the end, negative, huge. */
export function positionIn(lines: number, maxCharacter = 80): fc.Arbitrary<{ line: number; character: number }> {
  const coordinate = (max: number): fc.Arbitrary<number> =>
    fc.oneof(
      { weight: 8, arbitrary: fc.integer({ min: 0, max }) },
      { weight: 1, arbitrary: fc.integer({ min: -3, max: max + 3 }) },
      { weight: 1, arbitrary: fc.constantFrom(-1, 1e9, 1e9 + 1, Number.MAX_SAFE_INTEGER) },
    );
  return fc.record({ line: coordinate(lines), character: coordinate(maxCharacter) });
}

/** LSP line starts as the spec defines them: after "\n", after "\r\n", after a lone "\r". */
export function lspLineStarts(text: string): number[] {
  const starts = [0];
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 13 && text.charCodeAt(i + 1) === 10) continue;
    if (ch === 10 || ch === 13) starts.push(i + 1);
  }
  return starts;
}

/**
 * The reference LSP offset of a position, clamped as the spec says: lines past the end mean the
 * end of the text, characters past a line's end mean the end of that line (before its break),
 * negative coordinates mean 0. Written independently of every implementation under test.
 */
export function lspOffset(text: string, position: { line: number; character: number }): number {
  const starts = lspLineStarts(text);
  if (position.line < 0) return 0;
  const line = Math.floor(position.line);
  if (line >= starts.length) return text.length;
  const start = starts[line]!;
  let end = line + 1 < starts.length ? starts[line + 1]! : text.length;
  while (end > start && (text[end - 1] === "\n" || text[end - 1] === "\r")) end--;
  return Math.min(end, start + Math.max(0, Math.floor(position.character)));
}

/** A token counter for pure tests: one token per 4 UTF-16 units, rounded up. */
export const countByFour = (text: string): number => Math.ceil(text.length / 4);

/** Wraps a counter so that it throws past `limit` calls: a walk that stops advancing fails instead of hanging. */
export function boundedCounter(count: (text: string) => number, limit: number): (text: string) => number {
  let calls = 0;
  return (text: string) => {
    if (++calls > limit) throw new Error(`token counter called more than ${limit} times: the walk does not advance`);
    return count(text);
  };
}

export const isHighSurrogate = (code: number): boolean => code >= 0xd800 && code <= 0xdbff;
export const isLowSurrogate = (code: number): boolean => code >= 0xdc00 && code <= 0xdfff;

/** Whether `offset` falls between the two halves of a surrogate pair. */
export function splitsSurrogatePair(text: string, offset: number): boolean {
  return offset > 0 && offset < text.length && isHighSurrogate(text.charCodeAt(offset - 1)) && isLowSurrogate(text.charCodeAt(offset));
}
