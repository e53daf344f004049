/**
 * A first-in, first-out lock. Waiting can be abandoned through an AbortSignal, so a superseded
 * request leaves the queue at once instead of waiting for its turn only to give up.
 */
export class Mutex {
  private tail: Promise<void> = Promise.resolve();

  async acquire(signal?: AbortSignal): Promise<() => void> {
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const previous = this.tail;
    this.tail = previous.then(() => mine);
    if (!signal) {
      await previous;
      return once(release);
    }
    if (signal.aborted) {
      release();
      throw abortError(signal);
    }
    return new Promise<() => void>((resolve, reject) => {
      const onAbort = (): void => {
        // Our turn still comes; hand it straight on.
        void previous.then(release);
        reject(abortError(signal));
      };
      signal.addEventListener("abort", onAbort, { once: true });
      void previous.then(() => {
        if (signal.aborted) return;
        signal.removeEventListener("abort", onAbort);
        resolve(once(release));
      });
    });
  }
}

function once(fn: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    fn();
  };
}

export function abortError(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new DOMException("The operation was aborted", "AbortError");
}
