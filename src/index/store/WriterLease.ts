import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Logger } from "../../util/logger.js";
import { abortableDelay } from "../../util/delay.js";

/** Who holds an index folder's writer lease, as written in its lock file. */
export interface LeaseHolder {
  token: string;
  pid: number;
  /** The process's start time in clock ticks since boot (/proc/PID/stat field 22); "" where unknown. */
  startTime: string;
  /** The kernel's boot id: a pid and start time mean nothing across a reboot. */
  bootId: string;
  hostname: string;
  /** What the holder is ("ifai-lsp server", "ifai-lsp index"), for messages. */
  label: string;
  acquiredAt: string;
}

export class LeaseLostError extends Error {
  constructor(message = "another process took over writing the index") {
    super(message);
  }
}

export interface WriterLeaseOptions {
  logger: Logger;
  label: string;
  /** How often the holder refreshes the lock file's mtime. */
  heartbeatMs?: number;
  /** A lock whose mtime is older than this is abandoned (a hung or remote holder). */
  staleMs?: number;
  /** How often a waiting process looks at the lock again. */
  pollMs?: number;
}

export const LOCK_FILE = ".ifai-writer.lock";

/**
 * The single-writer lease of one local index folder, shared by every process on the machine (the
 * servers of several editor windows, `ifai-lsp index`). It is a lock file created with O_EXCL that
 * names its holder (pid, process start time, boot id, host name) and whose mtime is a heartbeat.
 * A holder that is gone (no such pid, a zombie, or the pid reused by a process that started at
 * another time) is taken over at once; one whose heartbeat stopped (hung, or on another host
 * sharing the folder) after `staleMs`. Taking over renames the old lock away first, so of several
 * processes that judged it dead only one removes it, and a fresh lock removed by mistake is put back.
 * The lease guards against wasted and conflicting work; the store's writes stay exact without it
 * (merge-insert on a primary key), so a holder that loses the lease mid-write cannot duplicate rows.
 */
export class WriterLease {
  readonly file: string;
  private mine: LeaseHolder | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private lost = false;
  private readonly heartbeatMs: number;
  private readonly staleMs: number;
  private readonly pollMs: number;

  constructor(
    readonly dir: string,
    private readonly options: WriterLeaseOptions,
  ) {
    this.file = path.join(dir, LOCK_FILE);
    this.heartbeatMs = options.heartbeatMs ?? 1000;
    this.staleMs = options.staleMs ?? 20_000;
    this.pollMs = options.pollMs ?? 150;
  }

  get held(): boolean {
    return this.mine !== undefined && !this.lost;
  }

  /** Takes the lease if it is free or abandoned; false when a live process holds it. */
  tryAcquire(): boolean {
    if (this.held) return true;
    fs.mkdirSync(this.dir, { recursive: true });
    for (let attempt = 0; attempt < 3; attempt++) {
      const info = this.newHolder();
      try {
        fs.writeFileSync(this.file, JSON.stringify(info), { flag: "wx", mode: 0o644 });
        this.mine = info;
        this.lost = false;
        this.startHeartbeat();
        return true;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      }
      const current = this.read();
      if (current === "missing") continue;
      const reason = this.abandoned(current);
      if (!reason) return false;
      this.options.logger.info({ holder: current === "unreadable" ? undefined : current, reason }, "taking over an abandoned index writer lock");
      this.breakLock(current === "unreadable" ? undefined : current.token);
    }
    return false;
  }

  /**
   * Waits until the lease is ours. `onWait` is called once with the holder when the lease is
   * busy, so the caller can say who it waits for.
   */
  async acquire(signal: AbortSignal, onWait?: (holder: LeaseHolder | undefined) => void): Promise<void> {
    let told = false;
    while (!this.tryAcquire()) {
      if (!told) {
        told = true;
        const holder = this.read();
        onWait?.(typeof holder === "object" ? holder : undefined);
      }
      await abortableDelay(this.pollMs, signal);
    }
  }

  /** The current holder, when there is one. */
  holder(): LeaseHolder | undefined {
    const h = this.read();
    return typeof h === "object" ? h : undefined;
  }

  /** Throws when the lease is no longer ours (taken over after a stall, or the folder deleted). */
  assertHeld(): void {
    if (!this.mine) throw new LeaseLostError("the index writer lease is not held");
    if (this.lost || !this.stillMine()) {
      this.lost = true;
      throw new LeaseLostError();
    }
  }

  release(): void {
    this.stopHeartbeat();
    const mine = this.mine;
    this.mine = undefined;
    if (!mine || this.lost) return;
    // Only our own lock is removed: a lock that is someone else's now stays.
    if (this.stillMine(mine)) fs.rmSync(this.file, { force: true });
  }

  private newHolder(): LeaseHolder {
    return {
      token: crypto.randomUUID(),
      pid: process.pid,
      startTime: processStartTime(process.pid) ?? "",
      bootId: bootId(),
      hostname: os.hostname(),
      label: this.options.label,
      acquiredAt: new Date().toISOString(),
    };
  }

  private read(): LeaseHolder | "missing" | "unreadable" {
    let text: string;
    try {
      text = fs.readFileSync(this.file, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return "missing";
      return "unreadable";
    }
    try {
      const parsed = JSON.parse(text) as Partial<LeaseHolder>;
      if (typeof parsed.token !== "string" || typeof parsed.pid !== "number") return "unreadable";
      return { token: parsed.token, pid: parsed.pid, startTime: String(parsed.startTime ?? ""), bootId: String(parsed.bootId ?? ""), hostname: String(parsed.hostname ?? ""), label: String(parsed.label ?? ""), acquiredAt: String(parsed.acquiredAt ?? "") };
    } catch {
      return "unreadable";
    }
  }

  /** Why the lock's holder no longer counts, or undefined while it does. */
  private abandoned(current: LeaseHolder | "unreadable"): string | undefined {
    let ageMs: number;
    try {
      ageMs = Date.now() - fs.statSync(this.file).mtimeMs;
    } catch {
      return undefined;
    }
    // A lock being written right now reads as unreadable for an instant: only an old one is broken.
    if (current === "unreadable") return ageMs > Math.min(this.staleMs, 2000) ? "unreadable lock file" : undefined;
    if (current.hostname === os.hostname() && (current.bootId === "" || current.bootId === bootId())) {
      const alive = processAlive(current.pid);
      if (!alive) return `process ${current.pid} is gone`;
      if (current.startTime !== "") {
        const start = processStartTime(current.pid);
        if (start !== undefined && start !== current.startTime) return `process ${current.pid} is another process now`;
      }
    }
    if (ageMs > this.staleMs) return `no heartbeat for ${Math.round(ageMs / 1000)} s`;
    return undefined;
  }

  /** Removes an abandoned lock with the given token; a different lock met on the way is restored. */
  private breakLock(token: string | undefined): void {
    const aside = `${this.file}.${process.pid}.${crypto.randomBytes(4).toString("hex")}`;
    try {
      fs.renameSync(this.file, aside);
    } catch {
      return; // Someone else moved it first.
    }
    let moved: LeaseHolder | undefined;
    try {
      moved = JSON.parse(fs.readFileSync(aside, "utf8")) as LeaseHolder;
    } catch {
      moved = undefined;
    }
    if (token !== undefined && moved?.token !== token) {
      // A process created a fresh lock between our look and the rename: give it back (link fails
      // if yet another lock appeared; its holder then notices the loss at its next heartbeat).
      try {
        fs.linkSync(aside, this.file);
      } catch {
        // Nothing to restore into.
      }
    }
    fs.rmSync(aside, { force: true });
  }

  private stillMine(mine = this.mine): boolean {
    const current = this.read();
    return typeof current === "object" && mine !== undefined && current.token === mine.token;
  }

  private startHeartbeat(): void {
    this.stopHeartbeat();
    this.heartbeat = setInterval(() => {
      if (!this.stillMine()) {
        if (!this.lost) this.options.logger.warn({ file: this.file }, "the index writer lease was taken over");
        this.lost = true;
        this.stopHeartbeat();
        return;
      }
      const now = new Date();
      try {
        fs.utimesSync(this.file, now, now);
      } catch {
        // The next beat looks again.
      }
    }, this.heartbeatMs);
    // The heartbeat must not keep a finished CLI run alive.
    this.heartbeat.unref?.();
  }

  private stopHeartbeat(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }
}

/** Whether a pid names a live process (a zombie is dead: it is only waiting to be reaped). */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
  const stat = procStat(pid);
  if (stat && (stat.state === "Z" || stat.state === "X")) return false;
  return true;
}

/** A process's start time in clock ticks since boot, where /proc has it. */
export function processStartTime(pid: number): string | undefined {
  return procStat(pid)?.startTime;
}

function procStat(pid: number): { state: string; startTime: string } | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may hold spaces: fields are counted after it.
  const close = text.lastIndexOf(")");
  if (close < 0) return undefined;
  const fields = text.slice(close + 2).split(" ");
  // fields[0] is field 3 (state); field 22 (starttime) is fields[19].
  const startTime = fields[19];
  if (!fields[0] || !startTime) return undefined;
  return { state: fields[0], startTime };
}

let cachedBootId: string | undefined;
function bootId(): string {
  if (cachedBootId === undefined) {
    try {
      cachedBootId = fs.readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
    } catch {
      cachedBootId = "";
    }
  }
  return cachedBootId;
}
