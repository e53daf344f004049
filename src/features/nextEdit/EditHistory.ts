/**
 * The user's recent edits, as compact line-level diffs, across open documents in time order: the
 * context a next-edit model reads to guess what comes next. Plain TypeScript, fed by the server
 * from every applied `didChange` range (the text before the change, the replaced offsets and the
 * new text).
 *
 * Keystrokes that touch the same or adjacent lines of one document in quick succession merge into
 * one record (typing a word is one edit, not six), and a record whose text is back where it began
 * disappears (typing and deleting it again is no edit). The history is bounded in records and in
 * characters per record, so a client cannot grow it without limit.
 */

export interface EditRecord {
  uri: string;
  /** The path shown to the model (relative to its workspace folder when possible). */
  path: string;
  /** Zero-based line of the record's first line in the document as it is after the edit. */
  line: number;
  /** The whole lines the edit touched, before it (no trailing line break). */
  before: string;
  /** The same lines after it. */
  after: string;
  /** Date.now() of the last keystroke merged into the record. */
  time: number;
  /** Document version after the edit. */
  version: number;
  /** True when a side was cut to the size cap: such a record is shown but never merged again. */
  truncated: boolean;
}

/** One applied change, in the coordinates of the text before it. */
export interface TextChange {
  uri: string;
  path: string;
  version: number;
  /** The document text before the change. */
  text: string;
  /** Replaced range [start, end) as UTF-16 offsets into `text`, already clamped. */
  start: number;
  end: number;
  /** The replacement. */
  insert: string;
  /** Zero-based line of `start` (the caller's line table knows it without a scan). */
  line: number;
  /** Date.now() of the change; injectable for tests. */
  time?: number;
}

export interface EditHistoryOptions {
  /** Records kept, across documents (oldest go first). */
  maxRecords: number;
  /** Characters kept per side of a record. */
  maxRecordChars: number;
  /** Keystrokes closer than this in time on the same or adjacent lines merge into one record. */
  mergeWindowMs: number;
}

export const DEFAULT_HISTORY_OPTIONS: EditHistoryOptions = { maxRecords: 16, maxRecordChars: 2000, mergeWindowMs: 3000 };

/** Internal: the newest record of a document also knows where its `after` text sits now. */
interface LiveRecord extends EditRecord {
  /** Offset of `after` in the current document text; valid only for a document's newest record. */
  offset: number;
}

export class EditHistory {
  private records: LiveRecord[] = [];
  private options: EditHistoryOptions;

  constructor(options: Partial<EditHistoryOptions> = {}) {
    this.options = { ...DEFAULT_HISTORY_OPTIONS, ...options };
  }

  configure(options: Partial<EditHistoryOptions>): void {
    this.options = { ...this.options, ...options };
    this.trim();
  }

  /** Records one applied change. O(length of the touched lines + size cap). */
  record(change: TextChange): void {
    const { text, insert } = change;
    const start = clamp(change.start, 0, text.length);
    const end = clamp(change.end, start, text.length);
    // A change that changes nothing (empty, or the same text over itself) is no edit.
    if (end - start === insert.length && text.startsWith(insert, start)) return;
    const time = change.time ?? Date.now();
    const spanStart = lineStart(text, start);
    const spanEnd = lineEnd(text, end);
    const last = this.latestFor(change.uri);
    const cap = this.options.maxRecordChars;

    if (last && !last.truncated && time - last.time <= this.options.mergeWindowMs) {
      const lastEnd = last.offset + last.after.length;
      // Overlapping or adjacent lines (one line break apart) belong to the same edit.
      if (spanStart <= lastEnd + 1 && spanEnd + 1 >= last.offset) {
        const unionStart = Math.min(spanStart, last.offset);
        const unionEnd = Math.max(spanEnd, lastEnd);
        if (unionEnd - unionStart + insert.length <= cap * 2) {
          const before = text.slice(unionStart, last.offset) + last.before + text.slice(lastEnd, unionEnd);
          const after = text.slice(unionStart, start) + insert + text.slice(end, unionEnd);
          if (before.length <= cap && after.length <= cap) {
            const line = unionStart < last.offset ? change.line : last.line;
            this.remove(last);
            if (before !== after) this.push({ ...last, path: change.path, line, before, after, time, version: change.version, offset: unionStart });
            return;
          }
        }
      }
    }
    const before = text.slice(spanStart, spanEnd);
    const after = text.slice(spanStart, start) + insert + text.slice(end, spanEnd);
    const truncated = before.length > cap || after.length > cap;
    this.push({
      uri: change.uri,
      path: change.path,
      line: change.line,
      before: truncated ? before.slice(0, cap) : before,
      after: truncated ? after.slice(0, cap) : after,
      time,
      version: change.version,
      truncated,
      offset: spanStart,
    });
  }

  /** The records, oldest first, at most `limit` of them (the newest). */
  recent(limit = this.options.maxRecords): EditRecord[] {
    return this.records.slice(Math.max(0, this.records.length - limit)).map(publicRecord);
  }

  /** The newest record of a document, if any. */
  last(uri: string): EditRecord | undefined {
    const record = this.latestFor(uri);
    return record && publicRecord(record);
  }

  /** Where the newest record of `uri` sits in the current text (offset of its `after` lines). */
  lastOffset(uri: string): number | undefined {
    return this.latestFor(uri)?.offset;
  }

  /** A closed document's edits are dropped: they cannot be verified against its text any more. */
  forget(uri: string): void {
    this.records = this.records.filter((r) => r.uri !== uri);
  }

  private latestFor(uri: string): LiveRecord | undefined {
    for (let i = this.records.length - 1; i >= 0; i--) if (this.records[i]!.uri === uri) return this.records[i];
    return undefined;
  }

  private remove(record: LiveRecord): void {
    const at = this.records.indexOf(record);
    if (at >= 0) this.records.splice(at, 1);
  }

  private push(record: LiveRecord): void {
    this.records.push(record);
    this.trim();
  }

  private trim(): void {
    const excess = this.records.length - Math.max(1, this.options.maxRecords);
    if (excess > 0) this.records.splice(0, excess);
  }
}

function publicRecord(r: LiveRecord): EditRecord {
  const { offset: _offset, ...rest } = r;
  return rest;
}

function clamp(n: number, lo: number, hi: number): number {
  return Number.isFinite(n) ? Math.min(hi, Math.max(lo, Math.floor(n))) : lo;
}

/** Start of the line that holds `offset` (scans back over that line only). */
export function lineStart(text: string, offset: number): number {
  let i = offset;
  while (i > 0 && text.charCodeAt(i - 1) !== 10) i--;
  return i;
}

/** End of the line that holds `offset`, before its "\n" (a "\r" before it stays with the line's content). */
export function lineEnd(text: string, offset: number): number {
  const at = text.indexOf("\n", offset);
  return at < 0 ? text.length : at;
}

/**
 * The smallest change that turns `before` into `after` at one place (common prefix and suffix
 * removed), for clients that send whole texts instead of ranges. Linear in the texts.
 */
export function narrowChange(before: string, after: string): { start: number; end: number; insert: string } {
  const max = Math.min(before.length, after.length);
  let prefix = 0;
  while (prefix < max && before.charCodeAt(prefix) === after.charCodeAt(prefix)) prefix++;
  let suffix = 0;
  while (suffix < max - prefix && before.charCodeAt(before.length - 1 - suffix) === after.charCodeAt(after.length - 1 - suffix)) suffix++;
  return { start: prefix, end: before.length - suffix, insert: after.slice(prefix, after.length - suffix) };
}
