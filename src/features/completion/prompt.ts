import { SPECIAL_TOKEN_TEXT, type PromptPart } from "../../inference/types.js";
import type { Snippet } from "./types.js";

export interface FimPromptInput {
  prefix: string;
  suffix: string;
  /** Typed text that goes after the middle marker (MiddleAnchors); the prefix ends where it starts. */
  middle?: string;
  /** Cross-file snippets; when present the repository-level format is used. */
  snippets: readonly Snippet[];
  repoName: string;
  filePath: string;
}

/**
 * Builds a Qwen2.5-Coder fill-in-the-middle prompt.
 *
 * Without snippets: `<|fim_prefix|>{prefix}<|fim_suffix|>{suffix}<|fim_middle|>{middle}`.
 * With snippets, the repository-level form puts other files first and the current file last:
 * `<|repo_name|>{repo}\n<|file_sep|>{path}\n{snippet}\n…<|file_sep|>{path}\n<|fim_prefix|>…`.
 * Everything before the prefix stays byte-identical while the user types, so its KV cache is reused.
 */
export function buildFimPrompt(input: FimPromptInput): PromptPart[] {
  const parts: PromptPart[] = [];
  if (input.snippets.length > 0) {
    parts.push({ kind: "special", token: "repo_name" }, { kind: "text", text: `${input.repoName}\n` });
    for (const snippet of input.snippets) {
      parts.push({ kind: "special", token: "file_sep" }, { kind: "text", text: `${snippet.path}\n${withNewline(snippet.text)}` });
    }
    parts.push({ kind: "special", token: "file_sep" }, { kind: "text", text: `${input.filePath}\n` });
  }
  parts.push(
    { kind: "special", token: "fim_prefix" },
    { kind: "text", text: input.prefix },
    { kind: "special", token: "fim_suffix" },
    { kind: "text", text: input.suffix },
    { kind: "special", token: "fim_middle" },
  );
  if (input.middle) parts.push({ kind: "text", text: input.middle });
  return parts;
}

function withNewline(text: string): string {
  return text.endsWith("\n") ? text : `${text}\n`;
}

/** The prompt as one string with the special tokens written out, for logs and golden tests. */
export function renderPrompt(parts: readonly PromptPart[]): string {
  return parts.map((p) => (p.kind === "text" ? p.text : SPECIAL_TOKEN_TEXT[p.token])).join("");
}
