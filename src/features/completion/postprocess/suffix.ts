// The model sees the text after the cursor, yet it often writes it again: the `)` the editor
// auto-inserted, or the next line of the function. Inserted as is, that text would appear twice.
import { nextNonBlankLines, type CompletionContext } from "./context.js";
import { scan } from "./scanner.js";
import { isBlank, isSubstantive } from "./text.js";

interface BalanceReport {
  /** Closers that had no partner on top of the stack. */
  readonly errors: number;
  readonly depth: number;
  readonly inString: boolean;
}

/** Scans `insert` followed by the rest of the cursor's line, from the state at the cursor. */
function balanceWithLineSuffix(insert: string, lineSuffix: string, ctx: CompletionContext): BalanceReport {
  let errors = 0;
  const { state } = scan(insert + lineSuffix, ctx.syntax, ctx.cursorState, {
    fromCompletion: true,
    onClose: (event) => {
      if (!event.matchedTop) errors++;
    },
  });
  return { errors, depth: state.stack.length, inString: state.string !== null };
}

/** The longest overlap with the rest of the cursor's line that is looked for (auto-inserted closers and the like are short). */
const MAX_OVERLAP = 64;
/** How much of the rest of the cursor's line is scanned with each candidate. */
const MAX_SUFFIX_SCANNED = 1000;

/**
 * Removes the end of the completion when it repeats the start of the rest of the cursor's line
 * (`foo(bar)` before an auto-inserted `)`). Among the possible overlaps, the one that leaves the
 * line balanced like the document is chosen, and the longest on a tie: `foo(bar)` before `)` keeps
 * its own `)`, while `bar)` before `)` loses it.
 */
export function removeLineSuffixOverlap(completion: string, ctx: CompletionContext): string {
  // Only the start of a very long line (minified code) is weighed: every candidate is scanned
  // with it, so its whole length would multiply the work.
  const rest = ctx.lineSuffix.slice(0, MAX_SUFFIX_SCANNED);
  if (isBlank(rest) || completion === "") return completion;
  const reference = balanceWithLineSuffix("", rest, ctx);
  const cost = (insert: string): number => {
    const report = balanceWithLineSuffix(insert, rest, ctx);
    // Measured against the document as it is, so a line that is already unbalanced is no excuse.
    const errors = Math.max(0, report.errors - reference.errors);
    return errors + Math.abs(report.depth - reference.depth) + (report.inString === reference.inString ? 0 : 1);
  };
  let best = completion;
  let bestCost = cost(completion);
  for (const target of new Set([rest, rest.trimStart()])) {
    // Each candidate costs a scan of the whole line, so only the first MAX_OVERLAP overlap
    // lengths are tried: a run such as "]]]]…" both ends share would otherwise make this quadratic.
    const longest = Math.min(target.length, completion.length, MAX_OVERLAP);
    for (let length = 1; length <= longest; length++) {
      const overlap = target.slice(0, length);
      if (!completion.endsWith(overlap) || !cleanBoundary(completion, overlap, target[length])) continue;
      const candidate = completion.slice(0, completion.length - length);
      const candidateCost = cost(candidate);
      if (candidateCost < bestCost || (candidateCost === bestCost && candidate.length < best.length)) {
        best = candidate;
        bestCost = candidateCost;
      }
    }
  }
  // An overlap that took a whole last line leaves "\n" plus indentation so the suffix lands on a
  // line of its own; trailing spaces after code, on the other hand, are just left over.
  const lastLine = best.slice(best.lastIndexOf("\n") + 1);
  return isBlank(lastLine) ? best : best.trimEnd();
}

/** An overlap must not split a word: `a` is not an overlap of the completion `x = a` and `abc`. */
function cleanBoundary(completion: string, overlap: string, after: string | undefined): boolean {
  const isWord = (ch: string | undefined): boolean => ch !== undefined && /\w/.test(ch);
  const before = completion[completion.length - overlap.length - 1];
  if (isWord(overlap[0]) && isWord(before)) return false;
  return !(isWord(overlap[overlap.length - 1]) && isWord(after));
}

/** How many suffix lines are compared against the completion. */
const SUFFIX_LINES_COMPARED = 2;

/**
 * Cuts the completion before the first of its lines that repeats the next non-blank line after
 * the cursor's line (indentation included, so an inner `}` does not match an outer one). A line
 * with no letters or digits (`}`) only counts when the line after it matches too: a lone closing
 * line is limitScope's to judge, since it may close a block the completion itself opened.
 */
export function cutAtSuffixRepetition(lines: readonly string[], ctx: CompletionContext): string[] {
  const below = nextNonBlankLines(ctx, SUFFIX_LINES_COMPARED);
  const first = below[0];
  if (first === undefined) return [...lines];
  for (let i = 0; i < lines.length; i++) {
    const docLine = (i === 0 ? ctx.linePrefix + (lines[0] ?? "") : (lines[i] ?? "")).trimEnd();
    if (docLine !== first || isBlank(docLine)) continue;
    let nextIndex = i + 1;
    while (nextIndex < lines.length && isBlank(lines[nextIndex] ?? "")) nextIndex++;
    if (nextIndex === lines.length) nextIndex = -1;
    const confirmed =
      isSubstantive(docLine) ||
      (nextIndex !== -1 && below[1] !== undefined && (lines[nextIndex] ?? "").trimEnd() === below[1]);
    if (confirmed) return lines.slice(0, i);
  }
  return [...lines];
}
