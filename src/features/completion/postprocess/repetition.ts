// Small models fall into loops: the same line (or group of lines) over and over until the token
// limit, or a copy of the code just above the cursor. These filters detect that degenerate output.
import { nextNonBlankLines, previousNonBlankLines, type CompletionContext } from "./context.js";
import { isBlank, isSubstantive } from "./text.js";

/** How many identical consecutive copies of a line group count as a loop rather than code. */
const MIN_LOOP_COPIES = 3;
/** Longest group of lines checked for looping. */
const MAX_LOOP_PERIOD = 6;

/**
 * Cuts a loop of repeated lines, keeping the first copy: three identical copies in a row of a
 * line, or of a group of up to six lines, is taken as the model looping rather than real code.
 */
export function cutRepeatedLines(lines: readonly string[]): string[] {
  let cut = lines.length;
  for (let period = 1; period <= MAX_LOOP_PERIOD; period++) {
    for (let start = 0; start + period * MIN_LOOP_COPIES <= lines.length && start + period < cut; start++) {
      const group = lines.slice(start, start + period);
      if (group.every(isBlank)) continue;
      let copies = 1;
      while (copies < MIN_LOOP_COPIES && sameLines(lines, start, start + copies * period, period)) copies++;
      if (copies >= MIN_LOOP_COPIES) {
        cut = Math.min(cut, start + period);
        break;
      }
    }
  }
  return lines.slice(0, cut);
}

function sameLines(lines: readonly string[], a: number, b: number, length: number): boolean {
  for (let i = 0; i < length; i++) {
    if (lines[a + i] !== lines[b + i]) return false;
  }
  return true;
}

/** Fewest back-to-back copies of a short unit at the end of a line that count as a loop. */
const MIN_UNIT_COPIES = 6;

/**
 * Cuts a run such as `, a, a, a, a, a, a` from the end of a line. It targets the last line of a
 * completion that hit the token limit while looping; a unit must contain a letter or digit so
 * that separator comments such as `// ------` stay intact.
 */
export function cutLineEndRepetition(line: string): string {
  for (let unit = 2; unit <= 20; unit++) {
    const tail = line.slice(line.length - unit);
    // A unit of one repeated character (`0000`, `====`) is usually a literal or a ruler.
    if (tail.length < unit || !isSubstantive(tail) || new Set(tail).size < 2) continue;
    // Block by block from the end: each check is O(unit), so the count is linear in the line
    // (rebuilding tail.repeat(copies) per step was quadratic and hung on a long looping line).
    let copies = 1;
    while ((copies + 1) * unit <= line.length && line.startsWith(tail, line.length - (copies + 1) * unit)) copies++;
    if (copies >= MIN_UNIT_COPIES) return line.slice(0, line.length - copies * unit).trimEnd();
  }
  return line;
}

/**
 * Whether the completion, placed in the document, only repeats the non-blank lines right above
 * the cursor (compared without indentation): the model copied instead of continuing.
 */
export function repeatsLinesAbove(docLines: readonly string[], ctx: CompletionContext): boolean {
  const written = docLines.filter((line) => !isBlank(line)).map((line) => line.trim());
  if (written.length === 0 || !isSubstantive(written.join(""))) return false;
  // The first written line includes the text before the cursor, so a completion that finishes a
  // half-typed copy of the line above is caught too.
  const above = previousNonBlankLines(ctx, written.length).map((line) => line.trim());
  return above.length === written.length && above.every((line, i) => line === written[i]);
}

/** Whether a single completed line is an exact copy of the next non-blank line below. */
export function repeatsNextLine(docLine: string, ctx: CompletionContext): boolean {
  const next = nextNonBlankLines(ctx, 1)[0];
  return next !== undefined && isSubstantive(docLine) && docLine.trimEnd() === next;
}
