import { Worker } from "node:worker_threads";

export interface WatchdogOptions {
  /** Log when the event loop has not turned for this long. */
  thresholdMs: number;
  /** How often the main thread beats and the watcher looks. */
  intervalMs?: number;
  /** Where the watcher logs: the server's log level and file (empty: stderr). */
  log: { level: string; file: string };
  /** The watcher thread failed (it is then gone; the server goes on). */
  onError?: (error: Error) => void;
}

/** Shared words: the main thread's heartbeat, reports made, recoveries seen, activity text length. */
const BEAT = 0;
const REPORTS = 1;
const RECOVERIES = 2;
const ACTIVITY_LENGTH = 3;
const WORDS = 4;
export const ACTIVITY_BYTES = 1024;

/**
 * Watches the server's event loop from a worker thread. The main thread bumps a shared counter
 * on a timer; when the counter stands still past the threshold the loop is blocked (a spinning
 * handler, a synchronous native call), and the worker — which still runs — logs it with the
 * request in progress, which the main thread records in shared memory as messages arrive (a
 * worker cannot read the main thread's stack). It logs again when the loop turns again, with how
 * long it was blocked, so a hang leaves a trace instead of silence.
 */
export class Watchdog {
  private readonly words: Int32Array;
  private readonly activity: Uint8Array;
  private readonly worker: Worker;
  private readonly timer: NodeJS.Timeout;
  private readonly encoder = new TextEncoder();
  private recoveredListeners: Array<(blockedMs: number) => void> = [];
  private readonly started: Promise<void>;

  constructor(options: WatchdogOptions) {
    const intervalMs = options.intervalMs ?? Math.max(10, Math.min(500, Math.floor(options.thresholdMs / 4)));
    const shared = new SharedArrayBuffer(WORDS * 4 + ACTIVITY_BYTES);
    this.words = new Int32Array(shared, 0, WORDS);
    this.activity = new Uint8Array(shared, WORDS * 4, ACTIVITY_BYTES);
    this.worker = new Worker(new URL("./watchdogWorker.js", import.meta.url), {
      workerData: { shared, thresholdMs: options.thresholdMs, intervalMs, log: options.log },
      // The server's own flags (an --inspect port, an -e script) must not be applied to the watcher.
      execArgv: [],
    });
    let markStarted: () => void = () => undefined;
    this.started = new Promise((resolve) => (markStarted = resolve));
    this.worker.on("message", (message: { ready?: boolean; recoveredAfterMs?: number }) => {
      if (message.ready) markStarted();
      if (typeof message.recoveredAfterMs === "number") for (const listener of this.recoveredListeners) listener(message.recoveredAfterMs);
    });
    // The watcher must never keep the server alive, nor take it down: its failure is only logged.
    this.worker.on("error", (error) => options.onError?.(error));
    this.worker.unref();
    this.timer = setInterval(() => Atomics.add(this.words, BEAT, 1), intervalMs);
    this.timer.unref();
  }

  /** Resolves once the watcher thread is watching (it starts a moment after the constructor). */
  ready(): Promise<void> {
    return this.started;
  }

  /** Records what the server is doing (the request in progress); shown if the loop blocks. */
  setActivity(text: string): void {
    const written = this.encoder.encodeInto(text, this.activity).written;
    Atomics.store(this.words, ACTIVITY_LENGTH, written);
  }

  /** How many blocked loops were reported. */
  reports(): number {
    return Atomics.load(this.words, REPORTS);
  }

  /** Called on the main thread once a reported block has ended. */
  onRecovered(listener: (blockedMs: number) => void): void {
    this.recoveredListeners.push(listener);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.worker.terminate();
  }
}

export const WATCHDOG_WORDS = { BEAT, REPORTS, RECOVERIES, ACTIVITY_LENGTH, WORDS };
