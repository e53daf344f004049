import type { ChatTurn } from "../../../inference/types.js";
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

const fence = "```";
const language = (input: NextEditPromptInput): string => input.languageId.replace(/[^\w+-]/g, "");

function userMessage(input: NextEditPromptInput): string {
  const lang = language(input);
  const excerpt = input.text.slice(input.context.start, input.context.end);
  const region = input.text.slice(input.region.start, input.region.end);
  const edits = input.history.map((r) => `${r.path}\n${renderHunk(r)}`).join("\n\n");
  return (
    `File ${input.path}:\n${fence}${lang}\n${excerpt}\n${fence}\n\n` +
    `Recent edits:\n${edits || "(none)"}\n\n` +
    `Editable region:\n${fence}${lang}\n${withMarker(region, input.cursor - input.region.start, CURSOR_MARKER)}\n${fence}`
  );
}

/** The same prompt as chat messages, for a chat API (a cloud provider); its answer is read by `parseChatAnswer`. */
export function instructMessages(input: NextEditPromptInput): ChatTurn[] {
  return [
    { role: "system", content: SYSTEM },
    { role: "user", content: userMessage(input) },
  ];
}

/** The region from a chat answer: the first code block (its opening fence line is the answer's own). */
export function parseChatAnswer(output: string): string | undefined {
  const body = withoutOpeningFence(output);
  if (body === undefined) return undefined;
  const end = closingFence(body);
  return end < 0 ? undefined : body.slice(0, end).replaceAll(CURSOR_MARKER, "");
}

export function instructPrompt(input: NextEditPromptInput): NextEditPrompt {
  const lang = language(input);
  const user = userMessage(input);
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

/** The text after the opening fence line of a chat answer ("```ts\n"), or undefined when it has none. */
function withoutOpeningFence(output: string): string | undefined {
  const m = /^\s*```[^\n`]*\n/.exec(output);
  return m ? output.slice(m[0].length) : undefined;
}

/** Offset of the line break before a closing fence ("\n```"), or of a fence at the very start (an empty region). */
function closingFence(output: string): number {
  if (output.startsWith("```")) return 0;
  return output.indexOf("\n```");
}
