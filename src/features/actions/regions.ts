import type { GrammarId } from "../../index/languages.js";
import { enclosingUnit } from "./syntax.js";
import type { TextSnapshot } from "./textEdits.js";
import type { ActionKind, Diagnostic, Span } from "./types.js";

/** The code an action works on, as offsets into the document. */
export interface Region {
  start: number;
  end: number;
  startLine: number;
  endLine: number;
  /** The region is whole lines (its indentation can be restored); else a part of one line. */
  wholeLines: boolean;
}

/** A definition longer than this is too much to send for a fix; the lines around the problem go instead. */
const MAX_FIX_LINES = 150;

function lines(snapshot: TextSnapshot, startLine: number, endLine: number): Region {
  return { start: snapshot.lineStart(startLine), end: snapshot.lineEnd(endLine), startLine, endLine, wholeLines: true };
}

/** The selection's lines: a selection that ends at the start of a line does not include that line. */
function selectedLines(range: Span): { startLine: number; endLine: number } {
  const endLine = range.end.line > range.start.line && range.end.character === 0 ? range.end.line - 1 : range.end.line;
  return { startLine: range.start.line, endLine };
}

function isEmpty(range: Span): boolean {
  return range.start.line === range.end.line && range.start.character === range.end.character;
}

/**
 * Where an action applies. A selection is used as it is (a part of one line stays a part of a
 * line; more becomes whole lines); at a bare cursor the enclosing definition (tree-sitter) is
 * used, else the cursor's line. Extract needs a selection; docs and fixes widen to the
 * definition around the selection or diagnostic.
 */
export async function findRegion(
  kind: ActionKind,
  snapshot: TextSnapshot,
  range: Span,
  grammar: GrammarId | undefined,
  diagnostic?: Diagnostic,
): Promise<Region | { problem: string }> {
  if (!snapshot.text.trim()) return { problem: "the document is empty: there is no code to work on" };
  const empty = isEmpty(range);
  const sel = selectedLines(range);
  const unit = (startLine: number, endLine: number, functionsOnly = false) => enclosingUnit(snapshot.text, grammar, startLine, endLine, functionsOnly);
  const selectionText = snapshot.text.slice(snapshot.offsetAt(range.start), snapshot.offsetAt(range.end));

  switch (kind) {
    case "extract": {
      if (empty || !selectionText.trim()) return { problem: "select the lines to extract into a function first (the selection is empty)" };
      const around = await unit(sel.startLine, sel.endLine, true);
      return around ? lines(snapshot, around.startLine, around.endLine) : lines(snapshot, sel.startLine, sel.endLine);
    }
    case "fix": {
      if (!diagnostic) return { problem: "there is no diagnostic to fix" };
      const d = snapshot.clamp(diagnostic.range);
      const around = await unit(d.start.line, d.end.line);
      if (around && around.endLine - around.startLine < MAX_FIX_LINES) return lines(snapshot, around.startLine, around.endLine);
      return lines(snapshot, Math.max(0, d.start.line - 2), Math.min(snapshot.lineCount - 1, d.end.line + 2));
    }
    case "docs": {
      const around = await unit(sel.startLine, empty ? sel.startLine : sel.endLine);
      if (around) return lines(snapshot, around.startLine, around.endLine);
      if (!empty && selectionText.trim()) return lines(snapshot, sel.startLine, sel.endLine);
      return { problem: "put the cursor on a function, class or type to document (none was found here)" };
    }
    default: {
      if (!empty && selectionText.trim()) {
        const oneLine = range.start.line === range.end.line;
        const lineText = snapshot.line(range.start.line);
        if (kind === "rewrite" && oneLine && selectionText.trim() !== lineText.trim()) {
          const start = snapshot.offsetAt(range.start);
          return { start, end: snapshot.offsetAt(range.end), startLine: range.start.line, endLine: range.end.line, wholeLines: false };
        }
        return lines(snapshot, sel.startLine, sel.endLine);
      }
      if (!empty) return { problem: "the selection holds only whitespace: select some code" };
      const around = await unit(range.start.line, range.start.line);
      if (around) return lines(snapshot, around.startLine, around.endLine);
      if (kind === "tests") return lines(snapshot, 0, snapshot.lineCount - 1);
      if (snapshot.line(range.start.line).trim()) return lines(snapshot, range.start.line, range.start.line);
      return { problem: "there is no code at the cursor: select some code or put the cursor inside a function" };
    }
  }
}
