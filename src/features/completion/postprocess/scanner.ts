// A deliberately small tokenizer: it only knows strings, comments and brackets. That is enough to
// count brackets the way a reader would, and it can resume from where the prefix left off so the
// completion is scanned in the context of the code before the cursor.
import type { LanguageSyntax, QuoteRule } from "./syntax.js";

/** An unclosed bracket, remembering whether the model's completion opened it. */
export interface OpenBracket {
  readonly char: string;
  readonly fromCompletion: boolean;
}

export interface ScanState {
  /** Unclosed brackets, innermost last. */
  stack: OpenBracket[];
  /** The string literal the scan is inside, or null in code. */
  string: QuoteRule | null;
  inBlockComment: boolean;
}

export function initialScanState(): ScanState {
  return { stack: [], string: null, inBlockComment: false };
}

/** Copies the state; the bracket records are shared so they can be compared by identity. */
export function cloneScanState(state: ScanState): ScanState {
  return { stack: [...state.stack], string: state.string, inBlockComment: state.inBlockComment };
}

export interface CloseEvent {
  readonly index: number;
  readonly char: string;
  /** The unclosed bracket this closer pairs with, or null when nothing open matches it. */
  readonly opener: OpenBracket | null;
  /** True when the opener is the innermost one; false for a mismatch that skips inner brackets. */
  readonly matchedTop: boolean;
  /** Stack depth once this closer is applied. */
  readonly depthAfter: number;
}

export interface ScanHandlers {
  /** Marks brackets opened during this scan as the completion's own. */
  readonly fromCompletion?: boolean;
  /** Called before a closer is applied; returning true stops the scan just before it. */
  readonly onClose?: (event: CloseEvent, state: ScanState) => boolean | void;
  /** Called for every character that is code (not inside a string or comment). */
  readonly onCode?: (index: number) => void;
  /** Called at the first character of every line after the first. */
  readonly onLineStart?: (index: number, state: ScanState) => void;
}

export interface ScanResult {
  readonly state: ScanState;
  /** Index of the closer the scan stopped at, or null when it ran to the end. */
  readonly stoppedAt: number | null;
}

const RUST_CHAR_LITERAL = /'(?:\\(?:u\{[0-9a-fA-F]{1,6}\}|x[0-9a-fA-F]{2}|.)|[^\\'\n])'/y;

const significantCache = new WeakMap<LanguageSyntax, Set<string>>();

/** Characters that can start a string, a comment or a bracket: code scanning stops only at these. */
function significantChars(syntax: LanguageSyntax): Set<string> {
  let chars = significantCache.get(syntax);
  if (chars === undefined) {
    const starts = [...syntax.quotes.map((rule) => rule.open), ...syntax.lineComments, syntax.blockComment?.[0] ?? ""];
    chars = new Set([...syntax.brackets, "\n", ...starts.map((token) => token.charAt(0)).filter((ch) => ch !== "")]);
    if (syntax.strictCharLiterals) chars.add("'");
    significantCache.set(syntax, chars);
  }
  return chars;
}

/** Scans text starting from a copy of the given state and returns the state at the end. */
export function scan(text: string, syntax: LanguageSyntax, start: ScanState, handlers: ScanHandlers = {}): ScanResult {
  const state = cloneScanState(start);
  const fromCompletion = handlers.fromCompletion ?? false;
  const significant = significantChars(syntax);
  const at = (token: string, i: number): boolean => token !== "" && text.startsWith(token, i);
  // How many of each opener the stack holds: a closer whose partner is not on the stack at all
  // is known at once instead of by walking the whole stack (quadratic for "((((…]]]]").
  const open = new Map<string, number>();
  for (const bracket of state.stack) open.set(bracket.char, (open.get(bracket.char) ?? 0) + 1);
  const truncate = (depth: number): void => {
    for (let k = depth; k < state.stack.length; k++) {
      const char = state.stack[k]!.char;
      open.set(char, (open.get(char) ?? 1) - 1);
    }
    state.stack.length = depth;
  };

  for (let i = 0; i < text.length; i++) {
    const ch = text[i] ?? "";
    // Fast path for the common case: ordinary code characters need no further checks.
    if (state.string === null && !state.inBlockComment && !significant.has(ch)) {
      handlers.onCode?.(i);
      continue;
    }
    if (ch === "\n") {
      // A single-line string left open by a typo ends with its line, as most lexers recover.
      if (state.string !== null && !state.string.multiline) state.string = null;
      handlers.onLineStart?.(i + 1, state);
      continue;
    }
    if (state.inBlockComment) {
      const close = syntax.blockComment?.[1] ?? "";
      if (at(close, i)) {
        state.inBlockComment = false;
        i += close.length - 1;
      }
      continue;
    }
    if (state.string !== null) {
      if (state.string.escapes && ch === "\\" && text[i + 1] !== "\n") {
        i++;
      } else if (at(state.string.close, i)) {
        i += state.string.close.length - 1;
        state.string = null;
      }
      continue;
    }
    if (syntax.blockComment !== null && at(syntax.blockComment[0], i)) {
      state.inBlockComment = true;
      i += syntax.blockComment[0].length - 1;
      continue;
    }
    if (startsLineComment(text, i, syntax)) {
      const end = text.indexOf("\n", i);
      i = (end === -1 ? text.length : end) - 1;
      continue;
    }
    if (ch === "'" && syntax.strictCharLiterals) {
      RUST_CHAR_LITERAL.lastIndex = i;
      const literal = RUST_CHAR_LITERAL.exec(text);
      if (literal !== null) i += literal[0].length - 1;
      continue;
    }
    const quote = syntax.quotes.find((rule) => at(rule.open, i));
    if (quote !== undefined) {
      state.string = quote;
      i += quote.open.length - 1;
      continue;
    }
    handlers.onCode?.(i);
    const bracketIndex = syntax.brackets.indexOf(ch);
    if (bracketIndex === -1) continue;
    if (bracketIndex % 2 === 0) {
      state.stack.push({ char: ch, fromCompletion });
      open.set(ch, (open.get(ch) ?? 0) + 1);
      continue;
    }
    const wanted = syntax.brackets[bracketIndex - 1] ?? "";
    // The walk down to the partner is paid for by the brackets it pops (mismatch recovery below).
    let openerIndex = (open.get(wanted) ?? 0) > 0 ? state.stack.length - 1 : -1;
    while (openerIndex >= 0 && state.stack[openerIndex]?.char !== wanted) openerIndex--;
    const opener = openerIndex >= 0 ? (state.stack[openerIndex] ?? null) : null;
    const event: CloseEvent = {
      index: i,
      char: ch,
      opener,
      matchedTop: opener !== null && openerIndex === state.stack.length - 1,
      depthAfter: opener === null ? state.stack.length : openerIndex,
    };
    if (handlers.onClose?.(event, state) === true) return { state, stoppedAt: i };
    // A mismatched closer pops everything above its partner: the inner brackets were left open
    // by a mistake, and recovering this way keeps one typo from skewing the rest of the scan.
    if (opener !== null) truncate(openerIndex);
  }
  return { state, stoppedAt: null };
}

function startsLineComment(text: string, i: number, syntax: LanguageSyntax): boolean {
  for (const marker of syntax.lineComments) {
    if (!text.startsWith(marker, i)) continue;
    if (!syntax.commentNeedsBoundary || i === 0 || /\s/.test(text[i - 1] ?? "")) return true;
  }
  return false;
}

/** The text with everything that is not code (strings, comments) blanked out to spaces. */
export function maskCode(text: string, syntax: LanguageSyntax, start: ScanState): { code: string; state: ScanState } {
  const out = blankedCopy(text);
  const { state } = scan(text, syntax, start, {
    onCode: (i) => {
      out[i] = text[i] ?? " ";
    },
  });
  return { code: out.join(""), state };
}

/** One entry per UTF-16 unit so positions match the scan; newlines survive so lines still align. */
function blankedCopy(text: string): string[] {
  return text.split("").map((ch) => (ch === "\n" ? "\n" : " "));
}

/** What the block detection needs to know about each line of a completion. */
export interface LineInfo {
  /** The line with strings and comments blanked out. */
  readonly code: string;
  /** Whether the line begins inside a multi-line string or a block comment. */
  readonly startsInString: boolean;
  readonly depthStart: number;
  /** The lowest bracket depth reached on the line, after applying closers. */
  readonly minDepth: number;
  readonly depthEnd: number;
  /** Unclosed brackets at the end of the line. */
  readonly stackEnd: readonly OpenBracket[];
}

/** Scans a completion line by line from the state at the cursor; its brackets count as its own. */
export function analyzeLines(text: string, syntax: LanguageSyntax, start: ScanState): LineInfo[] {
  const out = blankedCopy(text);
  const finished: Omit<LineInfo, "code">[] = [];
  const begin = (state: ScanState) => ({
    startsInString: state.string !== null || state.inBlockComment,
    depthStart: state.stack.length,
    minDepth: state.stack.length,
  });
  let current = begin(start);
  const finish = (state: ScanState): void => {
    finished.push({ ...current, depthEnd: state.stack.length, stackEnd: [...state.stack] });
  };
  const { state } = scan(text, syntax, start, {
    fromCompletion: true,
    onClose: (event) => {
      current.minDepth = Math.min(current.minDepth, event.depthAfter);
    },
    onCode: (i) => {
      out[i] = text[i] ?? " ";
    },
    onLineStart: (_index, lineState) => {
      finish(lineState);
      current = begin(lineState);
    },
  });
  finish(state);
  const codeLines = out.join("").split("\n");
  return finished.map((info, index) => ({ ...info, code: codeLines[index] ?? "" }));
}
