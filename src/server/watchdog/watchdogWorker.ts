import { parentPort, workerData } from "node:worker_threads";
import { createLogger } from "../../util/logger.js";

/** The watcher thread of Watchdog.ts: see there. It shares only memory with the main thread. */
interface Data {
  shared: SharedArrayBuffer;
  thresholdMs: number;
  intervalMs: number;
  log: { level: string; file: string };
}

const WORDS = 4;
const data = workerData as Data;
const words = new Int32Array(data.shared, 0, WORDS);
const activity = new Uint8Array(data.shared, WORDS * 4);
const logger = createLogger(data.log).child({ component: "watchdog" });
const decoder = new TextDecoder();

let lastBeat = Atomics.load(words, 0);
let lastChange = performance.now();
let reported = false;

const readActivity = (): string => {
  const length = Math.min(Atomics.load(words, 3), activity.length);
  // The main thread is blocked while this is read, so the bytes are not changing under us.
  return decoder.decode(activity.slice(0, length));
};

setInterval(() => {
  const beat = Atomics.load(words, 0);
  const now = performance.now();
  if (beat !== lastBeat) {
    if (reported) {
      const blockedMs = Math.round(now - lastChange);
      logger.warn({ blockedMs }, `event loop responsive again after about ${(blockedMs / 1000).toFixed(1)} s`);
      Atomics.add(words, 2, 1);
      parentPort?.postMessage({ recoveredAfterMs: blockedMs });
      reported = false;
    }
    lastBeat = beat;
    lastChange = now;
    return;
  }
  const blockedMs = now - lastChange;
  if (!reported && blockedMs >= data.thresholdMs) {
    reported = true;
    logger.error({ blockedMs: Math.round(blockedMs), activity: readActivity() }, `event loop blocked for ${(blockedMs / 1000).toFixed(1)} s; working on: ${readActivity() || "nothing recorded"}`);
    Atomics.add(words, 1, 1);
  }
}, data.intervalMs);
parentPort?.postMessage({ ready: true });
