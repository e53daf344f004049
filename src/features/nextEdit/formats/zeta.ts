import { renderHunk } from "../diffRender.js";
import { text, withMarker, type NextEditPrompt, type NextEditPromptInput } from "./types.js";

/**
 * Zed's Zeta format (zed-industries/zeta on Hugging Face, a Qwen2.5-Coder-7B fine-tune, and the
 * `zeta` crate of zed-industries/zed that builds its requests): an Alpaca-style prompt with
 * "### Instruction:", "### User Edits:" (each edit as `User edited "path":` and a ```diff block),
 * "### User Excerpt:" (the excerpt in a fence named by the path, the editable region between
 * `<|editable_region_start|>` and `<|editable_region_end|>`, the cursor as
 * `<|user_cursor_is_here|>`, `<|start_of_file|>` when the excerpt begins the file) and
 * "### Response:". The model answers with the excerpt rewritten; the region is what lies between
 * the two markers. The markers are plain text in Qwen's vocabulary, tokenized like any text.
 * The instruction sentence here is ours.
 */
export const ZETA_MARKERS = {
  start: "<|editable_region_start|>",
  end: "<|editable_region_end|>",
  cursor: "<|user_cursor_is_here|>",
  fileStart: "<|start_of_file|>",
} as const;

const INSTRUCTION = "Predict the user's next edit: rewrite the editable region of the excerpt with it applied, using the edits they made so far and their cursor.";

export function zetaPrompt(input: NextEditPromptInput): NextEditPrompt {
  const { start, end, cursor, fileStart } = ZETA_MARKERS;
  const events = input.history.map((r) => `User edited "${r.path}":\n\`\`\`diff\n${renderHunk(r)}\n\`\`\``).join("\n\n");
  const before = input.text.slice(input.context.start, input.region.start);
  const region = input.text.slice(input.region.start, input.region.end);
  const after = input.text.slice(input.region.end, input.context.end);
  const excerpt =
    `\`\`\`${input.path}\n` +
    (input.context.start === 0 ? `${fileStart}\n` : "") +
    `${before}${start}\n${withMarker(region, input.cursor - input.region.start, cursor)}\n${end}${after}\n\`\`\``;
  const prompt = `### Instruction:\n${INSTRUCTION}\n\n### User Edits:\n\n${events}\n\n### User Excerpt:\n\n${excerpt}\n\n### Response:\n`;
  return {
    format: "zeta",
    parts: [text(prompt)],
    shouldStop: (output) => output.includes(end),
    parse: (output) => {
      const stop = output.indexOf(end);
      if (stop < 0) return undefined;
      const opened = output.indexOf(start);
      let body = opened >= 0 && opened < stop ? output.slice(opened + start.length, stop) : output.slice(0, stop);
      if (body.startsWith("\n")) body = body.slice(1);
      if (body.endsWith("\n")) body = body.slice(0, -1);
      return body.replaceAll(cursor, "");
    },
  };
}
