// Limits a multi-line completion to the block the cursor is in. A small model happily carries on
// past the end of the current function into code it invents; the cut is made where the text
// leaves the block, by bracket depth where brackets delimit it and by indentation otherwise.
import { blockOpenerKind, closingToken, isContinuationLine, isKeywordCloserLine } from "./blocks.js";
import { hasTextBeforeCursor, nextNonBlankLines, type CompletionContext } from "./context.js";
import { analyzeLines, type LineInfo, type OpenBracket } from "./scanner.js";
import { indentWidth, isBlank } from "./text.js";

/** The most lines a multi-line completion may have; longer output from a small model drifts. */
export const MAX_COMPLETION_LINES = 30;

interface Block {
  /**
   * "opener" when the cursor's line has text and ends by opening a block (`if (x) {`, `def f():`),
   * typed or completed: the completion is that block's body. "sibling" when the completion writes
   * statements of the block the cursor already is in.
   */
  readonly shape: "opener" | "sibling";
  /** Indentation of the completion's first line as it will appear in the document. */
  readonly indent: number;
  /** Bracket depth the block's lines stay at or above; the block ends when a line goes below. */
  readonly depth: number;
  /** The bracket that delimits the block, when brackets delimit it. */
  readonly opener: OpenBracket | undefined;
  /** Whether a keyword block was opened by the completion rather than by the code before it. */
  readonly keywordOpenedByCompletion: boolean;
  /** Index of the completion's first line that is inside the block rather than its header. */
  readonly bodyStart: number;
}

function describeBlock(infos: readonly LineInfo[], lines: readonly string[], indent: number, ctx: CompletionContext): Block {
  const first = infos[0];
  // On a line that is blank up to the cursor, a block the completion opens on its first line is
  // just one statement of the cursor's block, and statements after it are still in scope.
  if (first !== undefined && hasTextBeforeCursor(ctx)) {
    const kind = blockOpenerKind(ctx.linePrefixCode + first.code, ctx.syntax);
    if (kind !== null) {
      return {
        shape: "opener",
        indent,
        depth: first.depthEnd,
        opener: kind === "bracket" ? first.stackEnd[first.depthEnd - 1] : undefined,
        keywordOpenedByCompletion: blockOpenerKind(ctx.linePrefixCode, ctx.syntax) === null,
        bodyStart: 1,
      };
    }
    // Allman style: the header is on the cursor's line and the brace alone on the next one.
    const second = infos[1];
    if (second !== undefined && (lines[1] ?? "").trim() === "{" && indentWidth(lines[1] ?? "") === indent) {
      return {
        shape: "opener",
        indent,
        depth: second.depthEnd,
        opener: second.stackEnd[second.depthEnd - 1],
        keywordOpenedByCompletion: true,
        bodyStart: 2,
      };
    }
  }
  const depth = ctx.cursorState.stack.length;
  return {
    shape: "sibling",
    indent,
    depth,
    opener: ctx.cursorState.stack[depth - 1],
    keywordOpenedByCompletion: false,
    bodyStart: 1,
  };
}

/**
 * Cuts the completion's lines where they leave the cursor's block. A line that closes the block
 * is kept when the completion opened the block, or when the code after the cursor does not
 * already close it; the completion then ends with that line.
 */
export function limitScope(lines: readonly string[], ctx: CompletionContext): string[] {
  if (lines.length === 0) return [];
  const infos = analyzeLines(lines.join("\n"), ctx.syntax, ctx.cursorState);
  const first = infos[0];
  if (first === undefined) return [...lines];
  // Indentation is measured on the first line as the document will show it, cursor line included.
  const block = describeBlock(infos, lines, indentWidth(ctx.linePrefix + (lines[0] ?? "")), ctx);

  const closeAt = (index: number, byKeyword: boolean): string[] => {
    const openedByCompletion = byKeyword ? block.keywordOpenedByCompletion : (block.opener?.fromCompletion ?? false);
    const docLine = index === 0 ? ctx.linePrefix + (lines[0] ?? "") : (lines[index] ?? "");
    const keep = openedByCompletion || !suffixClosesBlock(docLine, ctx);
    return lines.slice(0, keep ? index + 1 : index);
  };

  if (block.shape === "sibling") {
    // The first line itself may already end the block, e.g. a `}` typed on a blank line.
    if (first.minDepth < block.depth && first.depthEnd < block.depth) return closeAt(0, false);
    if (isBlank(ctx.linePrefix) && isKeywordCloserLine(first.code, ctx.syntax)) return closeAt(0, true);
  }

  // Indentation of the first line deeper than the block's first line: the body of an opener, or
  // the body of a nested construct the completion writes.
  let bodyIndent: number | undefined;
  for (let i = block.bodyStart; i < lines.length; i++) {
    const line = lines[i] ?? "";
    const info = infos[i];
    if (info === undefined) break;
    if (i >= MAX_COMPLETION_LINES) return cutAtStatementBoundary(lines, infos, i, block, bodyIndent);
    // Lines inside a multi-line string or comment are content, whatever their indentation.
    if (info.startsInString) continue;
    if (isBlank(line)) {
      if (endsTopLevelDefinition(lines, infos, i, block, bodyIndent)) return lines.slice(0, i);
      continue;
    }
    const indent = indentWidth(line);
    if (info.minDepth < block.depth) {
      // `} else {` closes the block's bracket and reopens one at the same depth: still the block.
      if (info.depthEnd >= block.depth) continue;
      return closeAt(i, false);
    }
    if (indent > block.indent) {
      bodyIndent ??= indent;
      continue;
    }
    if (block.shape === "opener") {
      if (indent === block.indent && isContinuationLine(info.code, ctx.syntax)) continue;
      if (indent === block.indent && isKeywordCloserLine(info.code, ctx.syntax)) return closeAt(i, true);
      return lines.slice(0, i);
    }
    if (indent === block.indent) continue;
    if (isKeywordCloserLine(info.code, ctx.syntax)) return closeAt(i, true);
    return lines.slice(0, i);
  }
  return [...lines];
}

/**
 * Whether the code after the cursor already closes the block: its next non-blank line starts with
 * the same closing token at the same indentation. Text after the cursor on its own line does not
 * count, because the completion's closing line is what moves that text down to a line of its own.
 */
function suffixClosesBlock(closingLine: string, ctx: CompletionContext): boolean {
  if (!isBlank(ctx.lineSuffix)) return false;
  const next = nextNonBlankLines(ctx, 1)[0];
  if (next === undefined) return false;
  return indentWidth(next) === indentWidth(closingLine) && closingToken(next) === closingToken(closingLine);
}

/**
 * At the top level of a file, one definition at a time: after a definition with an indented body,
 * a blank line followed by another unindented line starts a new, unrequested definition.
 */
function endsTopLevelDefinition(
  lines: readonly string[],
  infos: readonly LineInfo[],
  index: number,
  block: Block,
  bodyIndent: number | undefined,
): boolean {
  if (block.shape !== "sibling" || block.indent !== 0 || block.depth !== 0 || bodyIndent === undefined) return false;
  if ((infos[index]?.depthStart ?? 0) !== 0) return false;
  const next = lines.findIndex((line, j) => j > index && !isBlank(line));
  return next !== -1 && indentWidth(lines[next] ?? "") === 0;
}

/**
 * Applies the line cap, preferring to cut before a statement that starts at the block's body
 * indentation so that the last statement kept is whole.
 */
function cutAtStatementBoundary(
  lines: readonly string[],
  infos: readonly LineInfo[],
  limit: number,
  block: Block,
  bodyIndent: number | undefined,
): string[] {
  const statementIndent = block.shape === "opener" ? (bodyIndent ?? block.indent + 1) : block.indent;
  const depth = block.depth;
  for (let i = limit; i > 1; i--) {
    const line = lines[i] ?? "";
    const info = infos[i];
    if (info === undefined || isBlank(line) || info.startsInString) continue;
    if (indentWidth(line) <= statementIndent && info.depthStart <= depth) return lines.slice(0, i);
  }
  return lines.slice(0, limit);
}
