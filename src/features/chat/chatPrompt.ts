import type { ChatTurn } from "../../inference/types.js";

/** Characters per token assumed before a tokenizer is at hand (code and English average 3–4). */
const CHARS_PER_TOKEN = 3;
export const estimateTokens = (text: string): number => Math.ceil(text.length / CHARS_PER_TOKEN);

/** The mention that turns codebase retrieval on for one message. */
const CODEBASE_MENTION = /(^|\s)@codebase\b/gi;

export const SYSTEM_PROMPT = [
  "You are ifai, a coding assistant inside the user's editor.",
  "Answer precisely and briefly. Put code in Markdown code blocks with the language named.",
  "When code from the user's codebase is given, base the answer on it and name the files you use.",
].join(" ");

export interface SourceChunk {
  uri: string;
  path: string;
  range: { start: { line: number; character: number }; end: { line: number; character: number } };
  score: number;
  language: string;
  symbol?: string;
  text: string;
}

export interface SelectionContext {
  path: string;
  language: string;
  /** 0-based lines of the selection. */
  startLine: number;
  endLine: number;
  text: string;
}

/** Whether a message asks for codebase retrieval, and its text without the mention. */
export function takeCodebaseMention(text: string): { text: string; mentioned: boolean } {
  CODEBASE_MENTION.lastIndex = 0;
  const mentioned = CODEBASE_MENTION.test(text);
  if (!mentioned) return { text, mentioned };
  return { text: text.replace(CODEBASE_MENTION, "$1").replace(/\s{2,}/g, " ").trim(), mentioned };
}

/** A fence that the quoted text cannot close (it is longer than any backtick run inside). */
function fence(text: string): string {
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  return "`".repeat(longest + 1);
}

function quoted(header: string, language: string, text: string): string {
  const f = fence(text);
  return `${header}\n${f}${language}\n${text}\n${f}`;
}

/** The system message: instructions, then the codebase context and the selection, each naming its file and lines. */
export function systemMessage(sources: readonly SourceChunk[], selection: SelectionContext | undefined, userSystem: string | undefined): string {
  const parts = [SYSTEM_PROMPT];
  if (userSystem) parts.push(userSystem);
  if (sources.length > 0) {
    parts.push("Relevant code from the user's codebase:");
    for (const s of sources) parts.push(quoted(`${s.path} (${lineSpan(s.range.start.line, s.range.end.line)})${s.symbol ? `, ${s.symbol}` : ""}:`, s.language, s.text));
  }
  if (selection) {
    parts.push(quoted(`The user selected this code in ${selection.path} (${lineSpan(selection.startLine, selection.endLine)}):`, selection.language, selection.text));
  }
  return parts.join("\n\n");
}

/**
 * Fits a conversation into `budget` estimated tokens: the oldest turns after the system message
 * are left out first (the last turn always stays), then the longest remaining turn loses its
 * middle. Returns what was done in words.
 */
export function fitConversation(messages: readonly ChatTurn[], budget: number): { messages: ChatTurn[]; notices: string[] } {
  const out = messages.map((m) => ({ ...m }));
  const notices: string[] = [];
  const size = (): number => out.reduce((n, m) => n + estimateTokens(m.content) + 4, 0);
  let dropped = 0;
  while (size() > budget && out.length > 1) {
    const at = out[0]!.role === "system" ? 1 : 0;
    if (at >= out.length - 1) break;
    out.splice(at, 1);
    dropped++;
  }
  if (dropped > 0) notices.push(`${dropped} earlier message${dropped === 1 ? " was" : "s were"} left out to fit the prompt budget of ${budget} tokens`);
  const mark = "\n[… trimmed to fit the prompt budget …]\n";
  for (let guard = 0; size() > budget && guard < out.length; guard++) {
    const longest = out.reduce((a, b) => (b.content.length > a.content.length ? b : a));
    const excessChars = (size() - budget) * CHARS_PER_TOKEN + mark.length;
    const keep = longest.content.length - excessChars;
    const before = longest.content.length;
    if (keep <= 0) {
      longest.content = "";
      notices.push(`a ${longest.role} message of ${before} characters was left out: it does not fit the prompt budget`);
      continue;
    }
    const head = Math.ceil(keep / 2);
    longest.content = longest.content.slice(0, head) + mark + longest.content.slice(before - (keep - head));
    notices.push(`a ${longest.role} message of ${before} characters was cut to ${keep} in its middle to fit the prompt budget of ${budget} tokens`);
  }
  return { messages: out, notices };
}

/** "line 3" or "lines 3–7", 1-based, from 0-based lines. */
function lineSpan(start: number, end: number): string {
  return end > start ? `lines ${start + 1}–${end + 1}` : `line ${start + 1}`;
}
