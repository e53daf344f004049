import type { FimParts } from "../types.js";

/** Line-comment markers, for putting cross-file context in front of a raw FIM prompt. */
const LINE_COMMENT: Record<string, string> = {
  python: "#",
  ruby: "#",
  shellscript: "#",
  bash: "#",
  sh: "#",
  perl: "#",
  r: "#",
  yaml: "#",
  toml: "#",
  dockerfile: "#",
  makefile: "#",
  elixir: "#",
  powershell: "#",
  lua: "--",
  sql: "--",
  haskell: "--",
};

function commentFor(language: string): string {
  return LINE_COMMENT[language] ?? "//";
}

/**
 * The body of a suffix-aware `/completions` request: other files go first as comments (a FIM
 * endpoint has no place for them), then the text before the cursor; the text after it is the suffix.
 */
export function completionsPrompt(fim: FimParts): { prompt: string; suffix: string } {
  if (fim.snippets.length === 0) return { prompt: fim.prefix, suffix: fim.suffix };
  const c = commentFor(fim.language);
  const context = fim.snippets
    .map((s) => [`${c} Path: ${s.path}`, ...s.text.replace(/\n$/, "").split("\n").map((line) => `${c} ${line}`)].join("\n"))
    .join("\n");
  return { prompt: `${context}\n${c} Path: ${fim.filePath}\n${fim.prefix}`, suffix: fim.suffix };
}

export const CURSOR_MARK = "<CURSOR>";

export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

/** A chat prompt for providers without a FIM endpoint: the file with a cursor mark, and strict instructions. */
export function chatCompletionPrompt(fim: FimParts): ChatMessage[] {
  const system = [
    "You are a code completion engine inside an editor.",
    `You are given a file with the cursor marked ${CURSOR_MARK}. Reply with only the code to insert at the cursor:`,
    "no explanation, no repetition of the code before or after the cursor, no Markdown fences.",
    "Complete the current statement or block the way the surrounding code suggests; reply with nothing if nothing fits.",
  ].join(" ");
  const parts: string[] = [];
  for (const s of fim.snippets) parts.push(`Related file ${s.path}:\n${fence(s.text)}`);
  parts.push(`File ${fim.filePath} (${fim.language}):\n${fence(`${fim.prefix}${CURSOR_MARK}${fim.suffix}`)}`);
  return [
    { role: "system", content: system },
    { role: "user", content: parts.join("\n\n") },
  ];
}

function fence(text: string): string {
  const ticks = text.includes("```") ? "````" : "```";
  return `${ticks}\n${text}${text.endsWith("\n") ? "" : "\n"}${ticks}`;
}

/**
 * Takes the insertion out of a chat reply: the body of a fenced block when there is one, without
 * the cursor mark, without a restated start of the current line, and cut where the reply starts
 * repeating the text after the cursor.
 */
export function extractChatCompletion(reply: string, fim: FimParts): string {
  let text = reply;
  const fenced = /```[^\n]*\n([\s\S]*?)(?:\n?```|$)/.exec(text);
  if (fenced) text = fenced[1]!;
  else {
    // While streaming, a fence line still being written is not code yet.
    const opening = /```[^\n]*$/.exec(text);
    if (opening) text = text.slice(0, opening.index);
  }
  text = text.split(CURSOR_MARK).join("");
  const lineStart = fim.prefix.slice(fim.prefix.lastIndexOf("\n") + 1);
  if (lineStart.trim() && text.startsWith(lineStart)) text = text.slice(lineStart.length);
  else if (lineStart.trim() && text.trimStart().startsWith(lineStart.trim())) text = text.trimStart().slice(lineStart.trim().length);
  const suffixHead = fim.suffix.split("\n").find((l) => l.trim().length >= 3)?.trim();
  if (suffixHead) {
    const lines = text.split("\n");
    const at = lines.findIndex((l, i) => i > 0 && l.trim() === suffixHead);
    if (at > 0) text = lines.slice(0, at).join("\n");
  }
  return text.replace(/\s+$/, "");
}
