import fs from "node:fs";

/*
 * Memory of a process and everything it started, read from /proc (Linux): what a benchmark
 * reports as the peak RSS of an indexing run. Worker threads share their process's memory; child
 * processes are found through each thread's `children` list.
 */

/** The pid and all its descendants that are alive now. */
export function processTree(pid: number): number[] {
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const p = queue.shift()!;
    out.push(p);
    let tasks: string[] = [];
    try {
      tasks = fs.readdirSync(`/proc/${p}/task`);
    } catch {
      continue;
    }
    for (const t of tasks) {
      try {
        for (const c of fs.readFileSync(`/proc/${p}/task/${t}/children`, "utf8").split(" ")) if (c.trim()) queue.push(Number(c));
      } catch {
        // The thread ended meanwhile.
      }
    }
  }
  return out;
}

/** VmRSS and VmHWM (the kernel's own peak) of one process, in KiB; undefined once it is gone. */
export function memoryOf(pid: number): { rssKiB: number; hwmKiB: number } | undefined {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
    const field = (name: string): number => Number(/^(\w+):\s+(\d+)/m.exec(status.split("\n").find((l) => l.startsWith(`${name}:`)) ?? "")?.[2] ?? 0);
    return { rssKiB: field("VmRSS"), hwmKiB: field("VmHWM") };
  } catch {
    return undefined;
  }
}

/** inotify watches a process holds (one line per watch in its inotify descriptors' fdinfo). */
export function inotifyWatches(pid: number): number {
  let watches = 0;
  try {
    for (const fd of fs.readdirSync(`/proc/${pid}/fdinfo`)) {
      try {
        const info = fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, "utf8");
        if (info.includes("inotify wd:")) watches += info.split("\n").filter((l) => l.startsWith("inotify wd:")).length;
      } catch {
        // Closed meanwhile.
      }
    }
  } catch {
    return 0;
  }
  return watches;
}

/**
 * Samples a process tree's memory every `intervalMs` until stopped: the peak of the summed RSS
 * of the tree, and the largest VmHWM any one process reported (the kernel's peak between samples).
 */
export class MemorySampler {
  private timer: NodeJS.Timeout;
  peakTreeRssKiB = 0;
  peakHwmKiB = 0;
  lastRssKiB = 0;
  samples = 0;

  constructor(private readonly pid: number, intervalMs = 200) {
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.sample();
  }

  sample(): void {
    let sum = 0;
    for (const p of processTree(this.pid)) {
      const m = memoryOf(p);
      if (!m) continue;
      sum += m.rssKiB;
      this.peakHwmKiB = Math.max(this.peakHwmKiB, m.hwmKiB);
    }
    if (sum > 0) {
      this.lastRssKiB = sum;
      this.samples++;
    }
    this.peakTreeRssKiB = Math.max(this.peakTreeRssKiB, sum);
  }

  /** The peak in MiB: the larger of the summed tree and the kernel's own per-process peak. */
  get peakMiB(): number {
    return Math.max(this.peakTreeRssKiB, this.peakHwmKiB) / 1024;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
