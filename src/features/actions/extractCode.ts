import type { StopReason } from "../../inference/types.js";

export type Extracted =
  | { ok: true; code: string; fenced: boolean }
  | { ok: false; problem: string };

const CUT: ReadonlySet<StopReason> = new Set(["max-tokens", "max-time"]);

/**
 * Takes the code out of a model's reply: the largest fenced block when there is one, else the
 * whole reply. A reply that ends inside an open fence, or that stopped on a token or time limit,
 * was cut off midway: its code is incomplete, so it is refused rather than applied.
 */
export function extractCode(reply: string, stopReason: StopReason): Extracted {
  const text = reply.replace(/<\|(im_end|endoftext|im_start)\|>[\s\S]*$/, "");
  if (!text.trim()) return { ok: false, problem: "the model's reply was empty" };
  const blocks: string[] = [];
  const fence = /^([ \t]*)(`{3,}|~{3,})[^\n`]*\n/gm;
  let open: RegExpExecArray | null;
  let unclosed = false;
  while ((open = fence.exec(text))) {
    const marker = open[2]!;
    const bodyStart = open.index + open[0].length;
    const close = new RegExp(`^[ \\t]*${marker[0] === "`" ? "`" : "~"}{${marker.length},}[ \\t]*$`, "m");
    const rest = text.slice(bodyStart);
    const end = close.exec(rest);
    if (!end) {
      unclosed = true;
      break;
    }
    blocks.push(rest.slice(0, end.index).replace(/\n$/, ""));
    fence.lastIndex = bodyStart + end.index + end[0].length;
  }
  if (unclosed && blocks.length === 0) return { ok: false, problem: "the model's reply was cut off midway: its code block never ends" };
  if (blocks.length > 0) {
    const code = blocks.reduce((a, b) => (b.length > a.length ? b : a));
    if (!code.trim()) return { ok: false, problem: "the model's code block was empty" };
    return { ok: true, code, fenced: true };
  }
  if (CUT.has(stopReason)) return { ok: false, problem: `the model's reply was cut off midway (${stopReason === "max-time" ? "time limit" : "token limit"}); raise actions.maxTokens or actions.maxTimeMs` };
  return { ok: true, code: text.replace(/^\n+/, "").replace(/\s+$/, ""), fenced: false };
}
