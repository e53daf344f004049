/**
 * Waits `ms`, or rejects as soon as `signal` fires with `onAbort()`'s error (the signal's reason by
 * default). Debounces and retry back-offs use it so a cancelled request never sits out its wait.
 */
export function abortableDelay(ms: number, signal: AbortSignal, onAbort: () => unknown = () => signal.reason): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(onAbort());
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", abort);
      resolve();
    }, ms);
    const abort = (): void => {
      clearTimeout(timer);
      reject(onAbort());
    };
    signal.addEventListener("abort", abort, { once: true });
  });
}
