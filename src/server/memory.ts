import fs from "node:fs";
import type { MemorySnapshot } from "./protocol.js";

/** The process's memory now: RSS split into anonymous and file-backed (Linux), and V8's figures. */
export function memorySnapshot(): MemorySnapshot {
  const usage = process.memoryUsage();
  const snapshot: MemorySnapshot = {
    rss: usage.rss,
    heapTotal: usage.heapTotal,
    heapUsed: usage.heapUsed,
    external: usage.external,
    arrayBuffers: usage.arrayBuffers,
  };
  if (process.platform !== "linux") return snapshot;
  try {
    const status = fs.readFileSync("/proc/self/status", "utf8");
    const kb = (key: string): number | undefined => {
      const m = new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status);
      return m ? Number(m[1]) * 1024 : undefined;
    };
    const anon = kb("RssAnon");
    const file = kb("RssFile");
    if (anon !== undefined) snapshot.anon = anon;
    if (file !== undefined) snapshot.file = file;
  } catch {
    // Without /proc the portable figures still come back.
  }
  return snapshot;
}
