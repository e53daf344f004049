// Small string helpers shared by the completion filters. Everything here works on "\n" text:
// callers normalise line endings first so that no filter has to think about "\r".

/** Columns a tab advances by when comparing indentation; 4 is the common editor default. */
const TAB_WIDTH = 4;

/** Converts "\r\n" and lone "\r" to "\n" so filters can split on a single character. */
export function normalizeNewlines(text: string): string {
  return text.replace(/\r\n?/g, "\n");
}

export function isBlank(line: string): boolean {
  return line.trim() === "";
}

/** The leading run of spaces and tabs of a line. */
export function leadingWhitespace(line: string): string {
  const match = /^[ \t]*/.exec(line);
  return match === null ? "" : match[0];
}

/** Visual width of a line's indentation, so that tabs and spaces can be compared. */
export function indentWidth(line: string): number {
  let width = 0;
  for (const ch of leadingWhitespace(line)) {
    width = ch === "\t" ? width + TAB_WIDTH - (width % TAB_WIDTH) : width + 1;
  }
  return width;
}

/** Removes trailing spaces and tabs from every line. */
export function trimLineEnds(lines: readonly string[]): string[] {
  return lines.map((line) => line.trimEnd());
}

/** Drops blank lines at the end, since an editor would show them as a dangling gap. */
export function dropTrailingBlankLines(lines: readonly string[]): string[] {
  let end = lines.length;
  while (end > 0 && isBlank(lines[end - 1] ?? "")) end--;
  return lines.slice(0, end);
}

/** Trims trailing whitespace on each line and drops trailing blank lines of a whole text. */
export function tidyEnd(text: string): string {
  return dropTrailingBlankLines(trimLineEnds(text.split("\n"))).join("\n");
}

/** Whether a line carries real content (a letter or digit) rather than only punctuation. */
export function isSubstantive(line: string): boolean {
  return /[\p{L}\p{N}_]/u.test(line);
}

/**
 * Control tokens of the Qwen2.5-Coder vocabulary. When generation is not stopped on them they
 * leak into the text, and everything after one belongs to another "document" the model imagined.
 */
const SPECIAL_TOKEN = /<\|(?:endoftext|fim_prefix|fim_suffix|fim_middle|fim_pad|file_sep|repo_name|im_start|im_end)\|>/;

/** Cuts the text at the first leaked control token. */
export function cutAtSpecialToken(text: string): string {
  const match = SPECIAL_TOKEN.exec(text);
  return match === null ? text : text.slice(0, match.index);
}
