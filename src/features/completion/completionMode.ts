// Decides, before generation, whether the cursor is at a place where a multi-line suggestion makes
// sense. Showing several lines mid-expression is distracting and usually wrong, while a blank line
// in a function body or the end of a block header invites a whole block.
import { blockOpenerKind, netOpenBrackets } from "./postprocess/blocks.js";
import { buildContext, previousNonBlankLine, type CompletionContext } from "./postprocess/context.js";
import type { LanguageSyntax } from "./postprocess/syntax.js";

export type CompletionMode = "single-line" | "multi-line";

export interface ModeInput {
  prefix: string;
  suffix: string;
  languageId: string;
}

/** Decides from the cursor's syntactic context whether a multi-line suggestion makes sense. */
export function decideCompletionMode(input: ModeInput): CompletionMode {
  return decideFromContext(buildContext(input.prefix, input.suffix, input.languageId));
}

/** Same decision from an already built context, for callers that have one. */
export function decideFromContext(ctx: CompletionContext): CompletionMode {
  // Code after the cursor means the user is editing inside a line: only that line can change.
  if (!onlyClosersAfterCursor(ctx.lineSuffix)) return "single-line";
  // Inside a string or a block comment the user is writing text, one line at a time.
  if (ctx.cursorState.string !== null || ctx.cursorState.inBlockComment) return "single-line";

  if (ctx.linePrefix.trim() === "") {
    // A blank line starts a new statement, unless the line above left an expression unfinished.
    const above = previousNonBlankLine(ctx);
    return above !== undefined && endsMidExpression(above.code, ctx.syntax) ? "single-line" : "multi-line";
  }
  const code = ctx.linePrefixCode.trim();
  // A line holding only a comment usually describes the code that comes next.
  if (code === "") return "multi-line";
  if (blockOpenerKind(code, ctx.syntax) !== null) return "multi-line";
  return looksLikeBlockHeader(code, ctx.syntax) ? "multi-line" : "single-line";
}

/**
 * Whether the rest of the line is only closing brackets and punctuation, as editors auto-insert.
 * Empty pairs such as the `[]` of `}, []);` are dropped first: they hold no code either.
 */
function onlyClosersAfterCursor(lineSuffix: string): boolean {
  let rest = lineSuffix;
  for (let previous = ""; previous !== rest; ) {
    previous = rest;
    rest = rest.replace(/\(\s*\)|\[\s*\]|\{\s*\}/g, "");
  }
  return /^[\s)\]};,'"`]*$/.test(rest);
}

const CONTINUES_EXPRESSION = /(?:[-+*/%&|^!?~.<=]|\\)$/;

/** Whether a line ends with an operator that the next line must complete. */
function endsMidExpression(code: string, syntax: LanguageSyntax): boolean {
  const line = code.trimEnd();
  if (line === "" || /(?:=>|->|\+\+|--)$/.test(line)) return false;
  if (line.endsWith(":")) return syntax.family === "c-like" && blockOpenerKind(line, syntax) === null;
  return CONTINUES_EXPRESSION.test(line);
}

// Block headers whose opening brace or colon the user has not typed yet: the model is expected to
// write it together with the body.
const JS_FUNCTION = /^(?:export\s+)?(?:default\s+)?(?:async\s+)?function\b[^;{=]*\)(?:\s*:\s*[^;{=]+)?$/;
const GO_FUNCTION = /^func\b[^{;=]*\)[^{;=]*$/;
const GO_TYPE = /^type\s+\w+(?:\[[^\]]*\])?\s+(?:struct|interface)$/;
const RUST_FUNCTION =
  /^(?:pub(?:\([\w:]+\))?\s+)?(?:(?:const|async|unsafe|extern\s+"\w+")\s+)*fn\b[^;{]*\)(?:\s*->\s*[^;{]+)?$/;
const TYPE_DECLARATION =
  /^(?:(?:export|default|abstract|public|private|protected|internal|static|final|sealed|partial|pub(?:\([\w:]+\))?|unsafe|data|open)\s+)*(?:class|interface|enum|struct|namespace|trait|impl|mod|record)\b[^;={}]*$/;
const CONTROL_HEADER = /^(?:\}\s*)?(?:else\s+)?(?:if|for|foreach|while|switch|catch|using|lock)\s*\(.*\)$/;
const TYPED_SIGNATURE =
  /^(?:[\w$<>[\],.?*&:~]+\s+)+[*&]*[\w$~]+\s*\([^;{}=]*\)\s*(?:const|noexcept|override|final|throws\s+[\w., ]+)?$/;
const NOT_A_DECLARATION = /^(?:return|new|throw|await|yield|else|case|delete|typeof|go|defer|echo|print|import|export)\b/;
const PYTHON_HEADER = /^(?:async\s+)?(?:def\s+\w+\s*\(.*\)(?:\s*->\s*.+)?|class\s+\w+(?:\s*\(.*\))?)$/;
const SHELL_FUNCTION = /^(?:function\s+[\w-]+(?:\s*\(\))?|[\w-]+\s*\(\))$/;

function looksLikeBlockHeader(code: string, syntax: LanguageSyntax): boolean {
  switch (syntax.family) {
    case "c-like":
      if (netOpenBrackets(code, syntax) !== 0) return false;
      if ([JS_FUNCTION, GO_FUNCTION, GO_TYPE, RUST_FUNCTION, TYPE_DECLARATION, CONTROL_HEADER].some((re) => re.test(code))) {
        return true;
      }
      return TYPED_SIGNATURE.test(code) && !NOT_A_DECLARATION.test(code);
    case "python":
      return netOpenBrackets(code, syntax) === 0 && PYTHON_HEADER.test(code);
    case "shell":
      return SHELL_FUNCTION.test(code);
    default:
      // Ruby and Lua headers are already recognised as block openers by their keywords.
      return false;
  }
}
