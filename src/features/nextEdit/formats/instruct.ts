import { renderHunk } from "../diffRender.js";
import { text, withMarker, type NextEditPrompt, type NextEditPromptInput } from "./types.js";

/**
 * The generic format for an instruction-tuned model (the default Qwen2.5-Coder instruct GGUF):
 * ChatML written as prompt parts, the file excerpt first (its start stays put while the user
 * works in one area, so the KV cache is reused), then the recent edits as diff hunks, then the
 * editable region with a cursor marker. The assistant turn is prefilled with the opening code
 * fence, so a small model starts copying the region at once and the answer ends at the closing
 * fence. Our own wording; no published model was trained on it.
 */
export const CURSOR_MARKER = "<|cursor|>";

const SYSTEM =
  "You predict the next edit a programmer makes. You get an excerpt of their file, their most recent edits as diffs " +
  "(oldest first), and an editable region with " +
  CURSOR_MARKER +
  " at the cursor. Reply with the editable region rewritten with the one edit they are most likely to make next, " +
  "keeping every other character as it is, or unchanged when nothing is left to do. Reply with the code block only.";

export function instructPrompt(input: NextEditPromptInput): NextEditPrompt {
  const fence = "```";
  const lang = input.languageId.replace(/[^\w+-]/g, "");
  const excerpt = input.text.slice(input.context.start, input.context.end);
  const region = input.text.slice(input.region.start, input.region.end);
  const edits = input.history.map((r) => `${r.path}\n${renderHunk(r)}`).join("\n\n");
  const user =
    `File ${input.path}:\n${fence}${lang}\n${excerpt}\n${fence}\n\n` +
    `Recent edits:\n${edits || "(none)"}\n\n` +
    `Editable region:\n${fence}${lang}\n${withMarker(region, input.cursor - input.region.start, CURSOR_MARKER)}\n${fence}`;
  const prefill = `${fence}${lang}\n`;
  return {
    format: "instruct",
    parts: [
      { kind: "special", token: "im_start" },
      text(`system\n${SYSTEM}`),
      { kind: "special", token: "im_end" },
      text("\n"),
      { kind: "special", token: "im_start" },
      text(`user\n${user}`),
      { kind: "special", token: "im_end" },
      text("\n"),
      { kind: "special", token: "im_start" },
      text(`assistant\n${prefill}`),
    ],
    shouldStop: (output) => closingFence(output) >= 0,
    parse: (output) => {
      const end = closingFence(output);
      if (end < 0) return undefined;
      return output.slice(0, end).replaceAll(CURSOR_MARKER, "");
    },
  };
}

/** Offset of the line break before a closing fence ("\n```"), or of a fence at the very start (an empty region). */
function closingFence(output: string): number {
  if (output.startsWith("```")) return 0;
  return output.indexOf("\n```");
}
