/**
 * How many pieces of work are running. `begin()` counts one and returns the function that ends
 * it; ending counts once however often it is called (a `finally` and an abort path may both call
 * it). `onIdle` runs each time the count falls back to zero.
 */
export class RunCount {
  private count = 0;

  constructor(private readonly onIdle?: () => void) {}

  get running(): number {
    return this.count;
  }

  begin(): () => void {
    this.count++;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.count--;
      if (this.count === 0) this.onIdle?.();
    };
  }
}
