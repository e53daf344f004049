// Just enough lexical knowledge per language to tell code from strings and comments, so that
// bracket counting and block detection are not fooled by a "(" inside a string or a comment.

/** A kind of string literal: how it opens and closes and whether it may span lines. */
export interface QuoteRule {
  readonly open: string;
  readonly close: string;
  /** A single-line string that is not closed by the end of its line is treated as ended there. */
  readonly multiline: boolean;
  /** Whether a backslash escapes the next character (false for raw strings such as Go's `x`). */
  readonly escapes: boolean;
}

/**
 * How a language delimits blocks, which decides how the end of the cursor's block is found:
 * braces ("c-like"), indentation ("python", "yaml"), or opening/closing keywords.
 */
export type LanguageFamily = "c-like" | "python" | "yaml" | "ruby" | "lua" | "shell" | "prose";

export interface LanguageSyntax {
  readonly family: LanguageFamily;
  readonly lineComments: readonly string[];
  /** Shell-like languages only start a comment at a word boundary (`$#` is not a comment). */
  readonly commentNeedsBoundary: boolean;
  readonly blockComment: readonly [string, string] | null;
  /** String rules, longest opening delimiter first so `"""` wins over `"`. */
  readonly quotes: readonly QuoteRule[];
  /** Rust uses `'` both for char literals and lifetimes; only a complete `'x'` is a literal. */
  readonly strictCharLiterals: boolean;
  /** Bracket pairs that count for balance, as consecutive open/close characters. */
  readonly brackets: string;
}

const q = (open: string, multiline = false, escapes = true, close = open): QuoteRule => ({
  open,
  close,
  multiline,
  escapes,
});

const C_COMMENTS = { lineComments: ["//"], commentNeedsBoundary: false, blockComment: ["/*", "*/"] } as const;
const ALL_BRACKETS = "()[]{}";

function cLike(quotes: QuoteRule[], extra: Partial<LanguageSyntax> = {}): LanguageSyntax {
  return { family: "c-like", ...C_COMMENTS, quotes, strictCharLiterals: false, brackets: ALL_BRACKETS, ...extra };
}

const JS_LIKE = cLike([q("`", true), q('"'), q("'")]);
const TRIPLE_QUOTED = cLike([q('"""', true), q('"'), q("'")]);
const PLAIN_C = cLike([q('"'), q("'")]);

const PYTHON: LanguageSyntax = {
  family: "python",
  lineComments: ["#"],
  commentNeedsBoundary: false,
  blockComment: null,
  quotes: [q('"""', true), q("'''", true), q('"'), q("'")],
  strictCharLiterals: false,
  brackets: ALL_BRACKETS,
};

const SHELL: LanguageSyntax = {
  family: "shell",
  lineComments: ["#"],
  commentNeedsBoundary: true,
  blockComment: null,
  quotes: [q('"'), q("'", false, false)],
  strictCharLiterals: false,
  // Parentheses are left out: `case` patterns such as `a)` close nothing.
  brackets: "[]{}",
};

const BY_LANGUAGE: Readonly<Record<string, LanguageSyntax>> = {
  typescript: JS_LIKE,
  typescriptreact: JS_LIKE,
  javascript: JS_LIKE,
  javascriptreact: JS_LIKE,
  vue: JS_LIKE,
  svelte: JS_LIKE,
  go: cLike([q("`", true, false), q('"'), q("'")]),
  rust: cLike([q('"', true)], { strictCharLiterals: true }),
  java: TRIPLE_QUOTED,
  kotlin: TRIPLE_QUOTED,
  scala: TRIPLE_QUOTED,
  swift: TRIPLE_QUOTED,
  groovy: TRIPLE_QUOTED,
  dart: cLike([q('"""', true), q("'''", true), q('"'), q("'")]),
  c: PLAIN_C,
  cpp: PLAIN_C,
  "objective-c": PLAIN_C,
  csharp: PLAIN_C,
  cuda: PLAIN_C,
  php: cLike([q('"'), q("'")], { lineComments: ["//", "#"] }),
  css: cLike([q('"'), q("'")], { lineComments: [] }),
  scss: PLAIN_C,
  less: PLAIN_C,
  json: cLike([q('"')]),
  jsonc: cLike([q('"')]),
  python: PYTHON,
  ruby: {
    family: "ruby",
    lineComments: ["#"],
    commentNeedsBoundary: false,
    blockComment: null,
    quotes: [q('"'), q("'")],
    strictCharLiterals: false,
    brackets: ALL_BRACKETS,
  },
  lua: {
    family: "lua",
    lineComments: ["--"],
    commentNeedsBoundary: false,
    blockComment: ["--[[", "]]"],
    quotes: [q("[[", true, false, "]]"), q('"'), q("'")],
    strictCharLiterals: false,
    brackets: ALL_BRACKETS,
  },
  shellscript: SHELL,
  sh: SHELL,
  bash: SHELL,
  zsh: SHELL,
  yaml: { ...SHELL, family: "yaml", quotes: [q('"'), q("'", false, false)] },
  markdown: prose(),
  plaintext: prose(),
};

/** Prose has apostrophes and smileys everywhere: nothing in it is a string, comment or bracket. */
function prose(): LanguageSyntax {
  return {
    family: "prose",
    lineComments: [],
    commentNeedsBoundary: false,
    blockComment: null,
    quotes: [],
    strictCharLiterals: false,
    brackets: "",
  };
}

/** Unknown languages get the C-like defaults, which fit most curly-brace languages well enough. */
export function syntaxFor(languageId: string): LanguageSyntax {
  return BY_LANGUAGE[languageId] ?? PLAIN_C;
}
