/** The download's failures the user acts on, and the disk checks behind the ones about the disk. */
import fs from "node:fs/promises";
import path from "node:path";
import { discardPartial } from "./sourceIdentity.js";

export type DownloadErrorCode = "disk-full" | "not-writable" | "hash-mismatch" | "all-mirrors-failed" | "cancelled" | "no-urls";

/** A download failure with a message that names the fix. */
export class DownloadError extends Error {
  override readonly name = "DownloadError";
  constructor(
    readonly code: DownloadErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export async function statfsFreeBytes(dir: string): Promise<number> {
  const st = await fs.statfs(dir);
  return Number(st.bavail) * Number(st.bsize);
}

export function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(bytes < 10e6 ? 1 : 0)} MB`;
}

/** Creates the folder and proves it writable, turning OS errors into a message with the fix. */
export async function prepareFolder(dir: string): Promise<void> {
  try {
    await fs.mkdir(dir, { recursive: true });
    const probe = path.join(dir, `.write-test-${process.pid}-${Date.now()}`);
    await fs.writeFile(probe, "");
    await fs.rm(probe, { force: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "";
    if (code === "ENOSPC") throw diskFull(dir);
    throw new DownloadError(
      "not-writable",
      `Cannot write to the model folder ${dir} (${code || String(error)}). Make it writable, or point IFAI_CACHE_DIR (or XDG_CACHE_HOME) at a folder you can write to.`,
    );
  }
}

export function diskFull(dir: string, needed?: number, free?: number): DownloadError {
  const amounts = needed !== undefined && free !== undefined ? ` ${mb(needed)} more are needed and ${mb(free)} are free.` : "";
  return new DownloadError(
    "disk-full",
    `Not enough disk space in ${dir}.${amounts} Free some space or point IFAI_CACHE_DIR at a bigger disk, then pull again.`,
  );
}

/** A write failure ends the whole download: another mirror cannot help a full or read-only disk. */
export async function writeFailure(error: unknown, dir: string, part: string): Promise<DownloadError> {
  const code = (error as NodeJS.ErrnoException).code ?? "";
  // Nothing half-written stays behind when the disk is the problem: the .part is removed.
  await discardPartial(part).catch(() => undefined);
  if (code === "ENOSPC" || code === "EDQUOT") return diskFull(dir);
  return new DownloadError("not-writable", `Cannot write to ${dir} (${code || String(error)}). Make it writable or point IFAI_CACHE_DIR at a folder you can write to.`);
}
