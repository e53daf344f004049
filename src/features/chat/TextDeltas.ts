/**
 * Turns "text so far" snapshots into append-only deltas. A byte-level model can end a snapshot
 * in the middle of a UTF-8 character (detokenized as U+FFFD, replaced once the next bytes come),
 * so trailing replacement characters are held back until the text after them is known.
 */
export class TextDeltas {
  private sent = "";
  private seq = 0;

  constructor(private readonly emit: (delta: string, seq: number) => void) {}

  /** Sends what is new and stable in `textSoFar`. */
  update(textSoFar: string): void {
    this.send(textSoFar.replace(/\uFFFD{1,3}$/, ""));
  }

  /** Sends the rest of the final text; the deltas then add up to it whenever the stream only grew. */
  finish(text: string): void {
    this.send(text);
  }

  /** All text sent so far. */
  get text(): string {
    return this.sent;
  }

  private send(stable: string): void {
    if (stable.length <= this.sent.length || !stable.startsWith(this.sent)) return;
    const delta = stable.slice(this.sent.length);
    this.sent = stable;
    this.emit(delta, this.seq++);
  }
}
