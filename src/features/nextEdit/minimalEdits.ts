/**
 * Turns a model's rewrite of the editable region into the smallest edits: a line diff (Myers)
 * finds the lines the model changed, and each changed run of lines is narrowed to the characters
 * that differ. Text the model left alone is never part of an edit.
 */

/** A replacement of [start, end) (UTF-16 offsets into the original text) by `text`. */
export interface TextEdit {
  start: number;
  end: number;
  text: string;
}

/** Lines with their endings kept, so joining them gives the text back exactly. */
export function linesWithEndings(text: string): string[] {
  const out: string[] = [];
  let from = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 10 || (ch === 13 && text.charCodeAt(i + 1) !== 10)) {
      out.push(text.slice(from, i + 1));
      from = i + 1;
    }
  }
  out.push(text.slice(from));
  return out;
}

/** The rewrite with its line breaks in the original's style ("\r\n" when the original uses it). */
export function matchLineEndings(original: string, rewrite: string): string {
  if (!original.includes("\r\n")) return rewrite;
  return rewrite.replace(/\r?\n/g, "\r\n");
}

/**
 * Changed runs of lines between `a` and `b` as [aStart, aEnd, bStart, bEnd) index ranges, by
 * Myers' O((N+M)·D) greedy diff. `maxCost` bounds D: beyond it the rest is one run (a rewrite that
 * differs that much is refused by the caller's size limits anyway).
 */
export function diffLines(a: readonly string[], b: readonly string[], maxCost = 500): Array<[number, number, number, number]> {
  const n = a.length;
  const m = b.length;
  const max = Math.min(n + m, maxCost);
  const offset = max + 1;
  const v = new Int32Array(2 * max + 3);
  const trace: Int32Array[] = [];
  let found = -1;
  for (let d = 0; d <= max && found < 0; d++) {
    trace.push(v.slice());
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && v[offset + k - 1]! < v[offset + k + 1]!) ? v[offset + k + 1]! : v[offset + k - 1]! + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      v[offset + k] = x;
      if (x >= n && y >= m) {
        found = d;
        break;
      }
    }
  }
  if (found < 0) return n === 0 && m === 0 ? [] : [[0, n, 0, m]];
  // Walk the trace back to mark which lines of a and b are kept.
  const keptA = new Uint8Array(n);
  const keptB = new Uint8Array(m);
  let x = n;
  let y = m;
  for (let d = found; d > 0; d--) {
    const vd = trace[d]!;
    const k = x - y;
    const prevK = k === -d || (k !== d && vd[offset + k - 1]! < vd[offset + k + 1]!) ? k + 1 : k - 1;
    const prevX = vd[offset + prevK]!;
    const prevY = prevX - prevK;
    while (x > prevX && y > prevY) {
      x--;
      y--;
      keptA[x] = 1;
      keptB[y] = 1;
    }
    x = prevX;
    y = prevY;
  }
  while (x > 0 && y > 0) {
    x--;
    y--;
    keptA[x] = 1;
    keptB[y] = 1;
  }
  const runs: Array<[number, number, number, number]> = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && keptA[i] && keptB[j]) {
      i++;
      j++;
      continue;
    }
    const i0 = i;
    const j0 = j;
    while (i < n && !keptA[i]) i++;
    while (j < m && !keptB[j]) j++;
    runs.push([i0, i, j0, j]);
  }
  return runs;
}

/** Whether an offset would split a surrogate pair or a "\r\n". */
function splitsUnit(text: string, at: number): boolean {
  if (at <= 0 || at >= text.length) return false;
  const prev = text.charCodeAt(at - 1);
  const next = text.charCodeAt(at);
  return (prev >= 0xd800 && prev <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) || (prev === 13 && next === 10);
}

const isWord = (text: string, at: number): boolean => at >= 0 && at < text.length && /[\p{L}\p{N}_$]/u.test(text[at]!);

/**
 * The edit that turns `before` into `after` at one place, narrowed to the differing characters
 * and then widened to whole words (`let` → `const`, not `le` → `cons`), which is how a diff reads.
 */
export function narrow(before: string, after: string, base: number): TextEdit | undefined {
  if (before === after) return undefined;
  const max = Math.min(before.length, after.length);
  let p = 0;
  while (p < max && before.charCodeAt(p) === after.charCodeAt(p)) p++;
  while (p > 0 && (splitsUnit(before, p) || splitsUnit(after, p))) p--;
  while (p > 0 && isWord(before, p - 1) && (isWord(before, p) || isWord(after, p))) p--;
  let q = 0;
  while (q < max - p && before.charCodeAt(before.length - 1 - q) === after.charCodeAt(after.length - 1 - q)) q++;
  while (q > 0 && (splitsUnit(before, before.length - q) || splitsUnit(after, after.length - q))) q--;
  while (q > 0 && isWord(before, before.length - q) && (isWord(before, before.length - q - 1) || isWord(after, after.length - q - 1))) q--;
  return { start: base + p, end: base + before.length - q, text: after.slice(p, after.length - q) };
}

/** The minimal edits that turn `original` into `rewrite`, in order, non-overlapping. */
export function minimalEdits(original: string, rewrite: string): TextEdit[] {
  const a = linesWithEndings(original);
  const b = linesWithEndings(matchLineEndings(original, rewrite));
  const starts: number[] = [0];
  for (const line of a) starts.push(starts[starts.length - 1]! + line.length);
  const edits: TextEdit[] = [];
  for (const [i0, i1, j0, j1] of diffLines(a, b)) {
    // A run that changes as many lines as it has is taken line by line, so the unchanged parts
    // of each line stay out of the edits (a rename on three lines is three small edits).
    if (i1 - i0 === j1 - j0) {
      for (let k = 0; k < i1 - i0; k++) {
        const edit = narrow(a[i0 + k]!, b[j0 + k]!, starts[i0 + k]!);
        if (edit) edits.push(edit);
      }
      continue;
    }
    const edit = narrow(a.slice(i0, i1).join(""), b.slice(j0, j1).join(""), starts[i0]!);
    if (edit) edits.push(edit);
  }
  return edits;
}

/** `text` with `edits` (sorted, non-overlapping, offsets into `text`) applied. */
export function applyEdits(text: string, edits: readonly TextEdit[]): string {
  let out = "";
  let at = 0;
  for (const e of edits) {
    out += text.slice(at, e.start) + e.text;
    at = e.end;
  }
  return out + text.slice(at);
}
