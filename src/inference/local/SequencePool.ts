/**
 * Which context sequence serves which slot (a document), least recently used first out.
 *
 * Each sequence keeps the KV state of the last prompt evaluated on it, so giving every recently
 * used document a sequence of its own makes switching back to it as cheap as a keystroke. With
 * more documents than sequences, the one used longest ago gives up its sequence; the prompt it
 * held is overwritten from the first token that differs. A document's short first prompt (see
 * FIRST_LANE_MARK) is a slot like any other: once its full prompt serves, it ages out unused.
 */
export class SequencePool<T> {
  private owners = new Map<T, { slot: string; usedAt: number }>();
  private clock = 0;

  /**
   * The sequence for `slot` among `items` (the loaded context's sequences), assigning one if
   * needed: a free one, else the least recently used one that is not `busy` (in use by another
   * request, which would otherwise have to be waited for), else the least recently used.
   */
  take(items: readonly T[], slot: string, busy: (item: T) => boolean = () => false): T {
    if (items.length === 0) throw new Error("no context sequences");
    // After a reload the sequences are new objects: forget the old ones.
    for (const item of this.owners.keys()) if (!items.includes(item)) this.owners.delete(item);
    const now = ++this.clock;
    let chosen: T | undefined;
    for (const [item, owner] of this.owners) if (owner.slot === slot) chosen = item;
    chosen ??= items.find((item) => !this.owners.has(item));
    if (chosen === undefined) {
      let oldest = Number.POSITIVE_INFINITY;
      for (const [item, owner] of this.owners) {
        const age = owner.usedAt + (busy(item) ? this.clock : 0);
        if (age < oldest) {
          oldest = age;
          chosen = item;
        }
      }
    }
    this.owners.set(chosen!, { slot, usedAt: now });
    return chosen!;
  }

  /** The slots holding a sequence, most recently used first (for status and tests). */
  slots(): string[] {
    return [...this.owners.values()].sort((a, b) => b.usedAt - a.usedAt).map((o) => o.slot);
  }
}
