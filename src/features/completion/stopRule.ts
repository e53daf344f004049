import type { CompletionMode } from "./completionMode.js";

/** Control characters other than tab and line breaks: never part of code a model should write. */
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

/**
 * When generation of a suggestion may stop, asked with the text so far after each token. A
 * control character ends the useful part (a replacement character may be half of a multi-byte
 * character still being generated, so only the final text is cut at one). A single line ends at
 * its line break once it has a visible character; a block ends when `post` (the suggestion's
 * post-processing) would drop the line just completed.
 */
export function stopRule(mode: CompletionMode, post: (completion: string) => string): (soFar: string) => boolean {
  return mode === "single-line"
    ? (soFar) => /\S[^\n]*\n/.test(soFar) || CONTROL.test(soFar)
    : (soFar) => CONTROL.test(soFar) || blockEnded(soFar, post);
}

/**
 * A multi-line suggestion is finished once post-processing drops the line the model just
 * completed: the block ended, or the model started repeating the suffix. Stopping then saves the
 * tokens that would be thrown away. (Comparing lengths would not do: post-processing also trims
 * leading blank lines and overlaps, which do not mean the block ended.)
 */
function blockEnded(soFar: string, post: (completion: string) => string): boolean {
  if (!soFar.endsWith("\n")) return false;
  const complete = soFar.slice(0, -1);
  const lastLine = complete.slice(complete.lastIndexOf("\n") + 1).trim();
  if (!lastLine) return false;
  return !post(complete).trimEnd().endsWith(lastLine);
}
