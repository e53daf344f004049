/**
 * Line endings and positions between the editor's text and the "\n" text the model and
 * post-processing work on.
 */

/**
 * The model and post-processing work on "\n" text; the cursor offset moves with removed "\r". A
 * cursor between the "\r" and "\n" of a pair is taken as before the pair: split there, each half
 * would become a line break of its own and the text would gain a line.
 */
export function normalizeLineEndings(text: string, offset: number): { value: string; cursor: number } {
  if (!text.includes("\r")) return { value: text, cursor: offset };
  if (text.charCodeAt(offset - 1) === 13 && text.charCodeAt(offset) === 10) offset--;
  const before = text.slice(0, offset).replace(/\r\n?/g, "\n");
  const after = text.slice(offset).replace(/\r\n?/g, "\n");
  return { value: before + after, cursor: before.length };
}

/** Suggestions for CRLF documents use CRLF, so accepting one does not mix line endings. */
export function restoreLineEndings(insert: string, documentText: string): string {
  const firstNewline = documentText.indexOf("\n");
  if (firstNewline > 0 && documentText[firstNewline - 1] === "\r") return insert.replace(/\r?\n/g, "\r\n");
  return insert;
}

/**
 * Cuts a suggestion at the first control character or replacement character: no source file
 * wants them, and they come from a model that has lost its way (or a split multi-byte character).
 */
export function cutAtJunk(text: string): string {
  const match = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\ufffd]/.exec(text);
  return match ? text.slice(0, match.index) : text;
}

/** The offset in `text` of offset `normalized` in its "\r"-free form (the inverse of normalizeLineEndings's cursor). */
export function restoreOffset(text: string, normalized: number): number {
  if (!text.includes("\r")) return normalized;
  let seen = 0;
  for (let i = 0; i < text.length; i++) {
    if (seen === normalized) return i;
    // A "\r" followed by "\n" vanishes; a lone "\r" becomes one "\n".
    if (!(text.charCodeAt(i) === 13 && text.charCodeAt(i + 1) === 10)) seen++;
  }
  return text.length;
}

export function countNewlines(text: string, end: number): number {
  let n = 0;
  for (let i = text.indexOf("\n"); i !== -1 && i < end; i = text.indexOf("\n", i + 1)) n++;
  return n;
}
