import { RunCount } from "../../util/RunCount.js";

/**
 * Which completions go first when several editor windows share one model (the shared engine).
 *
 * Requests on different sequences run at once and node-llama-cpp evaluates their tokens in the
 * same batches, which is fair but makes each of two windows typing at once wait for the other's
 * tokens on every step. The window the user looks at should not pay that: its requests "come
 * first", and the others' wait between their evaluation steps while one of those runs. They are
 * paused, not cancelled, so their answers still come, later. A waiting request never holds up a
 * first one for longer than the step it has in flight.
 */
export class Precedence {
  private readonly waiting = new Set<() => void>();
  private readonly first = new RunCount(() => {
    const waiting = [...this.waiting];
    this.waiting.clear();
    for (const resume of waiting) resume();
  });

  /**
   * A request that comes first starts running; the result ends it (idempotent). Call it only once
   * the request holds its sequence: one that still waits for a lock must not pause the request it
   * waits for.
   */
  begin(): () => void {
    return this.first.begin();
  }

  /** Whether a request that comes first is running now. */
  busy(): boolean {
    return this.first.running > 0;
  }

  /**
   * For a request that does not come first, before each evaluation step: undefined when it may go
   * on now, else a promise that resolves once no first request runs or `signal` aborts.
   */
  turn(signal: AbortSignal): Promise<void> | undefined {
    if (this.first.running === 0 || signal.aborted) return undefined;
    return new Promise<void>((resolve) => {
      const resume = (): void => {
        this.waiting.delete(resume);
        signal.removeEventListener("abort", resume);
        resolve();
      };
      this.waiting.add(resume);
      signal.addEventListener("abort", resume, { once: true });
    });
  }
}
