// Keeps a completion from closing brackets it has no business closing: ones nobody opened, ones it
// opened itself but closes with the wrong character, and ones the rest of the cursor's line
// already closes. Text from such a closer on is cut, since what follows it was written for a
// different structure than the document has.
import type { CompletionContext } from "./context.js";
import { scan, type OpenBracket } from "./scanner.js";
import { tidyEnd } from "./text.js";

/** The brackets from before the cursor that the rest of the cursor's line closes. */
function closedByLineSuffix(ctx: CompletionContext): Set<OpenBracket> {
  const closed = new Set<OpenBracket>();
  scan(ctx.lineSuffix, ctx.syntax, ctx.cursorState, {
    onClose: (event) => {
      if (event.opener !== null) closed.add(event.opener);
    },
  });
  return closed;
}

/** Cuts the completion at its first closer that would unbalance the document. */
export function limitBrackets(completion: string, ctx: CompletionContext): string {
  const closedLater = closedByLineSuffix(ctx);
  const { stoppedAt } = scan(completion, ctx.syntax, ctx.cursorState, {
    fromCompletion: true,
    onClose: (event, state) => {
      if (event.opener === null) return true;
      if (closedLater.has(event.opener)) return true;
      // Skipping over the completion's own open brackets means it contradicts itself; skipping
      // over the prefix's may just be the simple scanner misreading older code, so allow that.
      const top = state.stack[state.stack.length - 1];
      return !event.matchedTop && top !== undefined && top.fromCompletion;
    },
  });
  if (stoppedAt === null) return completion;
  let kept = completion.slice(0, stoppedAt);
  // A closer at the start of a line takes its line with it rather than leaving bare indentation.
  const lineStart = kept.lastIndexOf("\n");
  if (lineStart !== -1 && kept.slice(lineStart + 1).trim() === "") kept = kept.slice(0, lineStart);
  return tidyEnd(kept);
}
