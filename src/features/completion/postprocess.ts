// Turns the raw text a small fill-in-the-middle model generated into what the editor should show.
// Each step lives in ./postprocess/ as a plain function on strings; this file only orders them.
// The order matters: scope and repetition cuts work on whole lines, the overlap with the rest of
// the cursor's line needs the final tail, and bracket balance is judged on what is left.
import type { CompletionMode } from "./completionMode.js";
import { limitBrackets } from "./postprocess/brackets.js";
import { buildContext, hasTextBeforeCursor, type CompletionContext } from "./postprocess/context.js";
import { cutLineEndRepetition, cutRepeatedLines, repeatsLinesAbove, repeatsNextLine } from "./postprocess/repetition.js";
import { limitScope } from "./postprocess/scope.js";
import { cutAtSuffixRepetition, removeLineSuffixOverlap } from "./postprocess/suffix.js";
import {
  cutAtSpecialToken,
  dropTrailingBlankLines,
  isBlank,
  leadingWhitespace,
  normalizeNewlines,
  trimLineEnds,
} from "./postprocess/text.js";

export { MAX_COMPLETION_LINES } from "./postprocess/scope.js";

export interface PostprocessInput {
  /** Document text before the cursor (may be a window of the last few hundred lines). */
  prefix: string;
  /** Document text after the cursor (may be a window). */
  suffix: string;
  /** LSP language id: typescript, javascript, python, go, rust, java, c, cpp, csharp, ruby, php, ... */
  languageId: string;
  mode: CompletionMode;
  /** The raw text the model generated for the cursor position. */
  completion: string;
}

/** Returns the text to insert at the cursor, or "" when nothing is worth showing. */
export function postprocessCompletion(input: PostprocessInput): string {
  let completion = cutAtSpecialToken(normalizeNewlines(input.completion));
  if (isBlank(completion)) return "";
  const ctx = buildContext(input.prefix, input.suffix, input.languageId);
  completion = avoidDoubleSpace(completion, ctx);
  const result = input.mode === "single-line" ? singleLine(completion, ctx) : multiLine(completion, ctx);
  return isBlank(result) ? "" : result;
}

function singleLine(completion: string, ctx: CompletionContext): string {
  // Only the first line is kept. When the model starts with a line break (typically after code
  // on the cursor's line, when it has nothing to add to it) that line is empty, and so is the
  // result: what follows the break would start a new line the user did not ask for.
  let line = (completion.split("\n")[0] ?? "").trimEnd();
  line = cutLineEndRepetition(line);
  line = removeLineSuffixOverlap(line, ctx);
  line = limitBrackets(line, ctx).trimEnd();
  if (isBlank(line)) return "";
  const docLine = ctx.linePrefix + line;
  if (repeatsLinesAbove([docLine], ctx)) return "";
  if (isBlank(ctx.lineSuffix) && repeatsNextLine(docLine, ctx)) return "";
  return line;
}

function multiLine(completion: string, ctx: CompletionContext): string {
  let lines = trimLineEnds(skipLeadingBlankLines(completion.split("\n"), ctx));
  lines = cutRepeatedLines(lines);
  lines = limitScope(lines, ctx);
  lines = cutAtSuffixRepetition(lines, ctx);
  lines = dropTrailingBlankLines(lines);
  // Only the last line can have run into the token limit in the middle of a loop.
  const last = lines.length - 1;
  if (last >= 0) lines[last] = cutLineEndRepetition(lines[last] ?? "");
  let text = removeLineSuffixOverlap(dropTrailingBlankLines(lines).join("\n"), ctx);
  text = limitBrackets(text, ctx);
  const docLines = (ctx.linePrefix + text).split("\n");
  return repeatsLinesAbove(docLines, ctx) ? "" : text;
}

/**
 * After `x = ` the model often starts with a space of its own; inserted as is, the line would read
 * `x =  5`. Indentation before the cursor is not a separator, so it is left out of this.
 */
function avoidDoubleSpace(completion: string, ctx: CompletionContext): string {
  if (!hasTextBeforeCursor(ctx) || !/[ \t]$/.test(ctx.linePrefix)) return completion;
  return completion.replace(/^[ \t]+(?=\S)/, "");
}

/**
 * On a line that is blank up to the cursor, blank lines at the start of a completion would push
 * the code down and leave the cursor's line empty. They are dropped, and the indentation the
 * cursor already stands in is taken off the first line so it is not doubled.
 */
function skipLeadingBlankLines(lines: readonly string[], ctx: CompletionContext): string[] {
  if (hasTextBeforeCursor(ctx)) return [...lines];
  const start = lines.findIndex((line) => !isBlank(line));
  if (start <= 0) return [...lines];
  const rest = lines.slice(start);
  const first = rest[0] ?? "";
  const indent = leadingWhitespace(ctx.linePrefix);
  rest[0] = first.startsWith(indent) ? first.slice(indent.length) : first.trimStart();
  return rest;
}
