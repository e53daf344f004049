import type { EditRecord } from "./EditHistory.js";

/** Splits text into lines without their "\r\n", "\n" or "\r" endings. */
export function splitLines(text: string): string[] {
  return text.split(/\r\n|\n|\r/);
}

/**
 * A record as a compact unified-diff hunk: the lines both sides share at the start and end are
 * left out (the record already holds only the touched lines), removed lines with "-", added with
 * "+", under a "@@ -a,n +a,m @@" header with one-based line numbers.
 */
export function renderHunk(record: EditRecord): string {
  const before = splitLines(record.before);
  const after = splitLines(record.after);
  let head = 0;
  while (head < before.length - 1 && head < after.length - 1 && before[head] === after[head]) head++;
  let tail = 0;
  while (tail < before.length - head - 1 && tail < after.length - head - 1 && before[before.length - 1 - tail] === after[after.length - 1 - tail]) tail++;
  const removed = before.slice(head, before.length - tail);
  const added = after.slice(head, after.length - tail);
  const line = record.line + head + 1;
  const out = [`@@ -${line},${removed.length} +${line},${added.length} @@`];
  for (const l of removed) out.push(`-${l}`);
  for (const l of added) out.push(`+${l}`);
  return out.join("\n");
}
