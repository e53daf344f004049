import { type NextEditPrompt, type NextEditPromptInput } from "./types.js";
import type { PromptPart } from "../../../inference/types.js";

/**
 * Sweep's next-edit format (sweepai/sweep-next-edit-1.5B and -0.5B on Hugging Face, Qwen2.5-Coder
 * fine-tunes; described in Sweep's "Open sourcing a 1.5B parameter Next-Edit Autocomplete Model"
 * post): Qwen's own repository-level layout with `<|file_sep|>` special tokens. The file context
 * comes first under its path, then each recent edit as a `<path>.diff` section holding
 * "original:" and "updated:" blocks (not unified-diff syntax), then the block around the cursor
 * as it was before the last edit (`original/<path>`) and as it is now (`current/<path>`); the
 * model writes `updated/<path>` and ends with the next `<|file_sep|>` or `<|endoftext|>`.
 */
export function sweepPrompt(input: NextEditPromptInput): NextEditPrompt {
  const sep: PromptPart = { kind: "special", token: "file_sep" };
  const t = (s: string): PromptPart => ({ kind: "text", text: s });
  const parts: PromptPart[] = [sep, t(`${input.path}\n${input.text.slice(input.context.start, input.context.end)}\n`)];
  for (const r of input.history) parts.push(sep, t(`${r.path}.diff\noriginal:\n${r.before}\nupdated:\n${r.after}\n`));
  const current = input.text.slice(input.region.start, input.region.end);
  parts.push(sep, t(`original/${input.path}\n${input.originalRegion}\n`));
  parts.push(sep, t(`current/${input.path}\n${current}\n`));
  parts.push(sep, t(`updated/${input.path}\n`));
  return {
    format: "sweep",
    parts,
    // The end is a special token, which the backend stops on; nothing to watch in the text.
    shouldStop: () => false,
    parse: (output, finished) => {
      if (!finished) return undefined;
      return output.endsWith("\n") ? output.slice(0, -1) : output;
    },
  };
}
