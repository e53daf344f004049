/**
 * Foreground work (completions, chat) goes first: indexing waits while it runs and for a quiet
 * period after, so a burst of keystrokes keeps the index paused. The state is also kept in a
 * SharedArrayBuffer flag, which the chunking worker checks while parsing and blocks on
 * (Atomics.wait), so even a long parse stops within a millisecond or so.
 */
export class ForegroundActivity {
  /** 1 while foreground work runs or within the quiet period after it. */
  readonly flag = new Int32Array(new SharedArrayBuffer(4));
  private active = 0;
  private quietTimer: NodeJS.Timeout | undefined;
  private waiters: Array<() => void> = [];

  constructor(readonly quietMs = 150) {}

  /** True while background work should wait. */
  get busy(): boolean {
    return Atomics.load(this.flag, 0) === 1;
  }

  /** Marks foreground work; call the returned function when it ends. */
  begin(): () => void {
    this.active++;
    if (this.quietTimer) clearTimeout(this.quietTimer);
    this.quietTimer = undefined;
    Atomics.store(this.flag, 0, 1);
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.active--;
      if (this.active === 0) this.startQuietPeriod();
    };
  }

  /** For sources that report a busy state (true, false) rather than begin/end pairs. */
  set(busy: boolean): void {
    if (busy && !this.holding) {
      this.holding = this.begin();
    } else if (!busy && this.holding) {
      const end = this.holding;
      this.holding = undefined;
      end();
    }
  }
  private holding: (() => void) | undefined;

  private startQuietPeriod(): void {
    this.quietTimer = setTimeout(() => {
      this.quietTimer = undefined;
      if (this.active > 0) return;
      Atomics.store(this.flag, 0, 0);
      Atomics.notify(this.flag, 0);
      const waiters = this.waiters;
      this.waiters = [];
      for (const w of waiters) w();
    }, this.quietMs);
    this.quietTimer.unref?.();
  }

  /**
   * Resolves when background work may go on: at once (after a turn of the event loop, so
   * requests waiting in the queue are read first) when nothing runs in the foreground.
   */
  async idle(signal?: AbortSignal): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    while (this.busy) {
      signal?.throwIfAborted();
      await new Promise<void>((resolve) => {
        const onAbort = (): void => resolve();
        signal?.addEventListener("abort", onAbort, { once: true });
        this.waiters.push(() => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        });
      });
    }
    signal?.throwIfAborted();
  }

  dispose(): void {
    if (this.quietTimer) clearTimeout(this.quietTimer);
    Atomics.store(this.flag, 0, 0);
    Atomics.notify(this.flag, 0);
    for (const w of this.waiters.splice(0)) w();
  }
}

/** Blocks the calling worker thread while the flag is set (never call on the main thread). */
export function waitWhileBusy(flag: Int32Array | undefined): void {
  if (!flag) return;
  while (Atomics.load(flag, 0) === 1) Atomics.wait(flag, 0, 1, 200);
}
