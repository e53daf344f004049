import type { Pos, Span, TextChange } from "./types.js";

/**
 * A document snapshot with position ↔ offset conversions (UTF-16, like LSP's default). Lines end
 * where LSP says they do: at "\n", "\r\n" or a lone "\r", so positions agree with the client's.
 */
export class TextSnapshot {
  private readonly starts: number[] = [0];

  constructor(readonly text: string) {
    for (let i = 0; i < text.length; i++) {
      const ch = text.charCodeAt(i);
      if (ch === 13 && text.charCodeAt(i + 1) === 10) continue;
      if (ch === 10 || ch === 13) this.starts.push(i + 1);
    }
  }

  get lineCount(): number {
    return this.starts.length;
  }

  /**
   * Offset of a position, clamped to the document as LSP says: a line past the end means the end,
   * a character past its line's end means the end of that line (before its break), negative (or
   * non-numeric) coordinates mean 0.
   */
  offsetAt(pos: Pos): number {
    if (!(pos.line >= 0)) return 0;
    if (pos.line >= this.starts.length) return this.text.length;
    const line = Math.floor(pos.line);
    const start = this.starts[line]!;
    const character = pos.character > 0 ? pos.character : 0;
    return Math.min(this.lineEnd(line), start + Math.floor(character));
  }

  /** The position of an offset; one inside a "\r\n" pair is placed before it, as LSP documents do. */
  positionAt(offset: number): Pos {
    const o = offset > 0 ? Math.min(Math.floor(offset), this.text.length) : 0;
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= o) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo, character: Math.min(o, this.lineEnd(lo)) - this.starts[lo]! };
  }

  /** Offset of the end of a line's content (before its "\r\n", "\n" or "\r"). */
  lineEnd(line: number): number {
    const start = this.starts[line]!;
    let end = line + 1 < this.starts.length ? this.starts[line + 1]! : this.text.length;
    if (end > start && this.text.charCodeAt(end - 1) === 10) end--;
    if (end > start && this.text.charCodeAt(end - 1) === 13) end--;
    return end;
  }

  lineStart(line: number): number {
    return this.starts[Math.max(0, Math.min(line, this.starts.length - 1))]!;
  }

  line(line: number): string {
    return this.text.slice(this.lineStart(line), this.lineEnd(line));
  }

  /** The span clamped to the document, with start before end. */
  clamp(span: Span): Span {
    const a = this.offsetAt(span.start);
    const b = this.offsetAt(span.end);
    return { start: this.positionAt(Math.min(a, b)), end: this.positionAt(Math.max(a, b)) };
  }

  /** Whether the span reaches past the document's end (a stale or wrong selection). */
  outside(span: Span): boolean {
    const last = this.starts.length - 1;
    const beyond = (p: Pos): boolean => p.line > last || p.line < 0 || p.character < 0 || p.character > this.lineEnd(p.line) - this.lineStart(p.line);
    return beyond(span.start) || beyond(span.end);
  }
}

/** "\r\n" when most of the document's line breaks are, else "\n". */
export function lineEnding(text: string): "\r\n" | "\n" {
  const all = (text.match(/\n/g) ?? []).length;
  const crlf = (text.match(/\r\n/g) ?? []).length;
  return all > 0 && crlf * 2 > all ? "\r\n" : "\n";
}

/** The indentation unit a document uses: a tab, or the most common step of leading spaces. */
export function indentUnit(text: string): string {
  let tabs = 0;
  const steps = new Map<number, number>();
  let previous = 0;
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    const lead = /^[ \t]*/.exec(line)![0];
    if (lead.startsWith("\t")) {
      tabs++;
      continue;
    }
    const step = Math.abs(lead.length - previous);
    if (step >= 2 && step <= 8) steps.set(step, (steps.get(step) ?? 0) + 1);
    previous = lead.length;
  }
  let best = 0;
  let bestCount = 0;
  for (const [step, count] of steps) if (count > bestCount) [best, bestCount] = [step, count];
  if (tabs > bestCount) return "\t";
  return " ".repeat(best || 4);
}

function leading(line: string): string {
  return /^[ \t]*/.exec(line)![0];
}

/**
 * Puts generated code at a region's indentation in the document's style: the code's own common
 * indentation is removed, its indentation steps are converted to the document's unit (tabs or
 * N spaces), and `base` is put in front of every non-blank line. Line breaks become `eol`.
 */
export function reindent(code: string, base: string, unit: string, eol: string, firstLineHasBase = true): string {
  const lines = code.replace(/\r\n/g, "\n").split("\n");
  const nonBlank = lines.filter((l) => l.trim());
  const common = nonBlank.length > 0 ? Math.min(...nonBlank.map((l) => leading(l).replace(/\t/g, "    ").length)) : 0;
  // The code's step: the smallest positive indentation beyond the common one.
  const rel = nonBlank.map((l) => leading(l).replace(/\t/g, "    ").length - common).filter((n) => n > 0);
  const step = rel.length > 0 ? Math.min(...rel) : unit === "\t" ? 4 : unit.length;
  const out = lines.map((line, i) => {
    if (!line.trim()) return "";
    const width = leading(line).replace(/\t/g, "    ").length - common;
    const levels = Math.floor(width / step);
    const extra = width - levels * step;
    const indent = unit.repeat(levels) + " ".repeat(extra);
    const prefix = i === 0 && !firstLineHasBase ? "" : base;
    return prefix + indent + line.trimStart();
  });
  return out.join(eol);
}

/**
 * The smallest replacement that turns `oldText` (at `startOffset` of the document) into `newText`:
 * the common beginning and end are left alone, so an edit touches only the changed characters.
 */
export function minimalChange(snapshot: TextSnapshot, startOffset: number, oldText: string, newText: string): TextChange | undefined {
  if (oldText === newText) return undefined;
  let head = 0;
  const max = Math.min(oldText.length, newText.length);
  while (head < max && oldText.charCodeAt(head) === newText.charCodeAt(head)) head++;
  let tail = 0;
  while (tail < max - head && oldText.charCodeAt(oldText.length - 1 - tail) === newText.charCodeAt(newText.length - 1 - tail)) tail++;
  // Never split a \r\n pair or a surrogate pair.
  const splits = (s: string, i: number): boolean => {
    if (i <= 0 || i >= s.length) return false;
    const a = s.charCodeAt(i - 1);
    const b = s.charCodeAt(i);
    return (a === 13 && b === 10) || (a >= 0xd800 && a <= 0xdbff && b >= 0xdc00 && b <= 0xdfff);
  };
  while (head > 0 && (splits(oldText, head) || splits(newText, head))) head--;
  while (tail > 0 && (splits(oldText, oldText.length - tail) || splits(newText, newText.length - tail))) tail--;
  const from = startOffset + head;
  const to = startOffset + oldText.length - tail;
  return {
    range: { start: snapshot.positionAt(from), end: snapshot.positionAt(to) },
    newText: newText.slice(head, newText.length - tail),
  };
}

/** Applies changes to a text (tests and syntax checks of the edited file). */
export function applyChanges(text: string, changes: readonly TextChange[]): string {
  const snapshot = new TextSnapshot(text);
  const sorted = [...changes].sort((a, b) => snapshot.offsetAt(b.range.start) - snapshot.offsetAt(a.range.start));
  let out = text;
  for (const change of sorted) out = out.slice(0, snapshot.offsetAt(change.range.start)) + change.newText + out.slice(snapshot.offsetAt(change.range.end));
  return out;
}
