import type { PromptPart } from "../../../inference/types.js";
import type { EditRecord } from "../EditHistory.js";
import type { LineSpan } from "../regions.js";

export const NEXT_EDIT_FORMATS = ["instruct", "zeta", "sweep"] as const;
export type NextEditFormatName = (typeof NEXT_EDIT_FORMATS)[number];

/** Everything a prompt format may show the model, as plain text and offsets. */
export interface NextEditPromptInput {
  /** The current file's path as the model sees it. */
  path: string;
  languageId: string;
  /** The current document text. */
  text: string;
  /** Cursor offset in `text`. */
  cursor: number;
  /** The lines the model may rewrite. */
  region: LineSpan;
  /** Read-only lines around it (contains `region`). */
  context: LineSpan;
  /** Recent edits, oldest first, across open files. */
  history: readonly EditRecord[];
  /** The region's text as it was before the user's last edit in this file (equal to it when there was none). */
  originalRegion: string;
}

export interface NextEditPrompt {
  format: NextEditFormatName;
  parts: PromptPart[];
  /** True once the output holds a complete answer (its closing marker): generation may stop. */
  shouldStop: (output: string) => boolean;
  /**
   * The rewritten region from the model's output, or undefined when the output is unusable (cut
   * off before its end, no region in it). `finished` says whether generation ended by itself.
   */
  parse: (output: string, finished: boolean) => string | undefined;
}

/** `text` with `marker` inserted at `offset` (relative to `text`). */
export function withMarker(text: string, offset: number, marker: string): string {
  const at = Math.max(0, Math.min(text.length, offset));
  return text.slice(0, at) + marker + text.slice(at);
}

export const text = (t: string): PromptPart => ({ kind: "text", text: t });
