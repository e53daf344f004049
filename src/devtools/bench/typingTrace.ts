/**
 * A deterministic typing session over a real source file: the lines of a region are removed and
 * typed back a character at a time, with the pauses a person makes, a run of typing through a
 * shown suggestion, and an edit in the middle of an earlier line.
 */

export type TraceEvent =
  | { kind: "type"; text: string; delayMs: number }
  | { kind: "backspace"; delayMs: number }
  /** Type the first `chars` characters of the suggestion on screen (typing through it). */
  | { kind: "type-suggestion"; chars: number; delayMs: number }
  /** Move the cursor `linesUp` lines up, to the middle of that line (and back with linesUp < 0 and atEnd). */
  | { kind: "move"; linesUp: number; delayMs: number }
  | { kind: "return" };

export interface TraceOptions {
  /** Milliseconds between keystrokes within a word. */
  keyIntervalMs: number;
  /** Reading pause after a line or a statement ends. */
  pauseMs: number;
}

export function buildTrace(region: string, options: TraceOptions): TraceEvent[] {
  const events: TraceEvent[] = [];
  let pauses = 0;
  // Editors indent a new line themselves: leading whitespace arrives as one change.
  const chars = region.match(/(?<=^|\n)[ \t]+|[\s\S]/gu) ?? [];
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]!;
    const pause = ch === "\n" || ch === ";" || ch === "{" || ch === ")";
    events.push({ kind: "type", text: ch, delayMs: pause ? options.pauseMs : options.keyIntervalMs });
    if (!pause) continue;
    pauses++;
    // Every fourth pause, type three characters of the suggestion shown, then delete them again.
    if (pauses % 4 === 2) {
      events.push({ kind: "type-suggestion", chars: 3, delayMs: options.keyIntervalMs });
      for (let k = 0; k < 3; k++) events.push({ kind: "backspace", delayMs: k === 2 ? options.pauseMs : options.keyIntervalMs });
    }
    // Once, two thirds of the way through: fix something in the middle of an earlier line.
    if (pauses === 9) {
      events.push({ kind: "move", linesUp: 2, delayMs: options.pauseMs });
      events.push({ kind: "type", text: "_", delayMs: options.keyIntervalMs }, { kind: "type", text: "x", delayMs: options.pauseMs });
      events.push({ kind: "backspace", delayMs: options.keyIntervalMs }, { kind: "backspace", delayMs: options.pauseMs });
      events.push({ kind: "return" });
    }
  }
  return events;
}
