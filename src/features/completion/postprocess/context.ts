// The view of the document around the cursor that every filter shares, computed once per request:
// the cursor's line split at the cursor, the neighbouring lines, and the scanner state at the
// cursor (which brackets are open, whether the cursor sits in a string or comment).
import { initialScanState, maskCode, scan, type ScanState } from "./scanner.js";
import { syntaxFor, type LanguageSyntax } from "./syntax.js";
import { isBlank, normalizeNewlines } from "./text.js";

/** How many lines up from the cursor get a code-only form. */
const MASKED_LINES = 64;

export interface CompletionContext {
  readonly languageId: string;
  readonly syntax: LanguageSyntax;
  /** Text of the cursor's line before the cursor. */
  readonly linePrefix: string;
  /** linePrefix with strings and comments blanked out. */
  readonly linePrefixCode: string;
  /** Text of the cursor's line after the cursor. */
  readonly lineSuffix: string;
  /** Whole lines above the cursor's line, top to bottom. */
  readonly linesAbove: readonly string[];
  /**
   * linesAbove with strings and comments blanked out. Lines more than MASKED_LINES above the
   * cursor are left as written: no filter looks that far up in code-only form.
   */
  readonly linesAboveCode: readonly string[];
  /** Whole lines below the cursor's line, top to bottom. */
  readonly linesBelow: readonly string[];
  /** Scanner state at the cursor. */
  readonly cursorState: ScanState;
}

export function buildContext(prefixText: string, suffixText: string, languageId: string): CompletionContext {
  const syntax = syntaxFor(languageId);
  const prefix = normalizeNewlines(prefixText);
  const suffix = normalizeNewlines(suffixText);
  // Only the lines near the cursor are ever read in code-only form, so only they are masked;
  // the rest of the prefix is scanned just for the state it leaves (open brackets, strings).
  const prefixLines = prefix.split("\n");
  const tailStart = prefixLines.length > MASKED_LINES ? prefix.length - prefixLines.slice(-MASKED_LINES).join("\n").length : 0;
  const { state: tailState } = scan(prefix.slice(0, tailStart), syntax, initialScanState());
  const { code, state } = maskCode(prefix.slice(tailStart), syntax, tailState);
  const codeLines = [...prefixLines.slice(0, -MASKED_LINES), ...code.split("\n")];
  const suffixLines = suffix.split("\n");
  return {
    languageId,
    syntax,
    linePrefix: prefixLines[prefixLines.length - 1] ?? "",
    linePrefixCode: codeLines[codeLines.length - 1] ?? "",
    lineSuffix: suffixLines[0] ?? "",
    linesAbove: prefixLines.slice(0, -1),
    linesAboveCode: codeLines.slice(0, -1),
    linesBelow: suffixLines.slice(1),
    cursorState: state,
  };
}

/** The nearest non-blank line above the cursor's line, with its code-only form. */
export function previousNonBlankLine(ctx: CompletionContext): { text: string; code: string } | undefined {
  for (let i = ctx.linesAbove.length - 1; i >= 0; i--) {
    const text = ctx.linesAbove[i] ?? "";
    if (!isBlank(text)) return { text, code: ctx.linesAboveCode[i] ?? "" };
  }
  return undefined;
}

/** The first `count` non-blank lines below the cursor's line, trailing whitespace removed. */
export function nextNonBlankLines(ctx: CompletionContext, count: number): string[] {
  const found: string[] = [];
  for (const line of ctx.linesBelow) {
    if (found.length >= count) break;
    if (!isBlank(line)) found.push(line.trimEnd());
  }
  return found;
}

/** The last `count` non-blank lines above the cursor's line, top to bottom. */
export function previousNonBlankLines(ctx: CompletionContext, count: number): string[] {
  const found: string[] = [];
  for (let i = ctx.linesAbove.length - 1; i >= 0 && found.length < count; i--) {
    const line = ctx.linesAbove[i] ?? "";
    if (!isBlank(line)) found.unshift(line);
  }
  return found;
}

/** Whether the cursor's line has text (code or comment, not just indentation) before the cursor. */
export function hasTextBeforeCursor(ctx: CompletionContext): boolean {
  return !isBlank(ctx.linePrefix);
}
