// Recognises the lines that open, continue and close blocks, per language family. Every function
// takes a line's code-only form (strings and comments blanked out) so that a "{" in a comment or
// a `do` inside a string never counts.
import type { LanguageSyntax } from "./syntax.js";

/**
 * How a block opened at the end of a line is delimited: "bracket" when the line ends with an
 * open bracket whose partner will close the block, "indent" when only indentation (Python's `:`)
 * or a keyword (`then`, `do`) marks it.
 */
export type OpenerKind = "bracket" | "indent";

const RUBY_OPENER_END = /(?:^|[\s;)])(?:do(?:\s*\|[^|]*\|)?|then|else|begin|ensure)$/;
const RUBY_OPENER_START = /^(?:def|class|module|if|unless|while|until|case|for|begin|rescue|elsif|when)\b/;
const LUA_OPENER = /(?:(?:^|\s)(?:then|do|else|repeat)|\bfunction\b[^()]*\([^()]*\))$/;
const SHELL_OPENER = /(?:^|[\s;])(?:then|do|else|in)$/;
const C_KEYWORD_OPENER = /(?:^|[\s}])(?:else|do|try|finally)$/;
const C_CASE_LABEL = /^(?:case\b.*|default\s*):$/;

/** Net count of brackets a line leaves open (negative when it closes more than it opens). */
export function netOpenBrackets(code: string, syntax: LanguageSyntax): number {
  let net = 0;
  for (const ch of code) {
    const index = syntax.brackets.indexOf(ch);
    if (index !== -1) net += index % 2 === 0 ? 1 : -1;
  }
  return net;
}

/** Whether a line (code only) ends in a way that opens a block on the following lines. */
export function blockOpenerKind(code: string, syntax: LanguageSyntax): OpenerKind | null {
  const line = code.trim();
  if (line === "") return null;
  const last = line[line.length - 1] ?? "";
  const lastIndex = syntax.brackets.indexOf(last);
  if (lastIndex !== -1 && lastIndex % 2 === 0) return "bracket";
  switch (syntax.family) {
    case "python":
    case "yaml":
      // A trailing ":" inside brackets is a dict entry or a slice, not a block header.
      return line.endsWith(":") && netOpenBrackets(line, syntax) <= 0 ? "indent" : null;
    case "ruby":
      if (RUBY_OPENER_END.test(line)) return "indent";
      return RUBY_OPENER_START.test(line) && !/\bend$/.test(line) ? "indent" : null;
    case "lua":
      return LUA_OPENER.test(line) ? "indent" : null;
    case "shell":
      return SHELL_OPENER.test(line) ? "indent" : null;
    case "c-like":
      if (line.endsWith("=>")) return "indent";
      return C_KEYWORD_OPENER.test(line) || C_CASE_LABEL.test(line) ? "indent" : null;
    case "prose":
      return null;
  }
}

const CONTINUATIONS: Readonly<Record<LanguageSyntax["family"], RegExp | null>> = {
  "c-like": /^(?:else|catch|finally)\b/,
  python: /^(?:else|elif|except|finally)\b/,
  yaml: null,
  ruby: /^(?:else|elsif|when|in|rescue|ensure)\b/,
  lua: /^(?:else|elseif)\b/,
  shell: /^(?:else|elif)\b/,
  prose: null,
};

/** Whether a line continues the statement of the block above it (`else`, `except`, ...). */
export function isContinuationLine(code: string, syntax: LanguageSyntax): boolean {
  return CONTINUATIONS[syntax.family]?.test(code.trim()) ?? false;
}

const KEYWORD_CLOSERS: Readonly<Record<LanguageSyntax["family"], RegExp | null>> = {
  "c-like": null,
  python: null,
  yaml: null,
  ruby: /^end\b/,
  lua: /^(?:end|until)\b/,
  shell: /^(?:fi|done|esac)\b/,
  prose: null,
};

/** Whether a line closes a keyword-delimited block (`end`, `fi`, `done`, ...). */
export function isKeywordCloserLine(code: string, syntax: LanguageSyntax): boolean {
  return KEYWORD_CLOSERS[syntax.family]?.test(code.trim()) ?? false;
}

/** The token a closing line starts with: its first bracket, or its first word. */
export function closingToken(line: string): string {
  const trimmed = line.trim();
  const word = /^\w+/.exec(trimmed);
  return word === null ? trimmed.slice(0, 1) : word[0];
}
