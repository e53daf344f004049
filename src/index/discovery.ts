import fs from "node:fs";
import path from "node:path";
import type { IgnoreRules } from "../privacy/ignoreRules.js";

export interface DiscoveredFile {
  /** Relative to the folder root, "/"-separated. */
  rel: string;
  abs: string;
  size: number;
  mtimeMs: number;
}

export interface DiscoveryResult {
  files: DiscoveredFile[];
  /** Files left out for their size. */
  tooLarge: number;
  /** True when the scan stopped at the file limit. */
  truncated: boolean;
  /** Folders that could not be read. */
  unreadableDirs: number;
}

export interface DiscoveryOptions {
  maxFiles: number;
  signal?: AbortSignal;
}

/** Directories read at the same time. */
const CONCURRENCY = 8;

/**
 * Lists the files of a workspace folder the index may read, in a stable order. Symbolic links
 * are not followed (no loops, nothing outside the folder); unreadable folders are skipped.
 */
export async function discoverFiles(rules: IgnoreRules, options: DiscoveryOptions): Promise<DiscoveryResult> {
  const result: DiscoveryResult = { files: [], tooLarge: 0, truncated: false, unreadableDirs: 0 };
  const queue: string[] = [""];
  let active = 0;
  let failure: unknown;

  await new Promise<void>((resolve) => {
    const pump = (): void => {
      if (failure !== undefined || options.signal?.aborted) {
        if (active === 0) resolve();
        return;
      }
      while (active < CONCURRENCY && queue.length > 0 && !result.truncated) {
        const dir = queue.shift()!;
        active++;
        readDir(rules, dir, result, queue, options)
          .catch((error: unknown) => {
            failure = error;
          })
          .finally(() => {
            active--;
            pump();
          });
      }
      if (active === 0 && (queue.length === 0 || result.truncated)) resolve();
    };
    pump();
  });
  options.signal?.throwIfAborted();
  if (failure !== undefined) throw failure;
  result.files.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
  if (result.files.length > options.maxFiles) {
    result.files.length = options.maxFiles;
    result.truncated = true;
  }
  return result;
}

async function readDir(rules: IgnoreRules, dir: string, result: DiscoveryResult, queue: string[], options: DiscoveryOptions): Promise<void> {
  const absDir = path.join(rules.root, dir);
  let entries: fs.Dirent[];
  try {
    entries = await fs.promises.readdir(absDir, { withFileTypes: true });
  } catch {
    result.unreadableDirs++;
    return;
  }
  const files: Array<{ rel: string; abs: string }> = [];
  for (const entry of entries) {
    // Symbolic links are never followed: a link loop or a link out of the workspace is skipped.
    if (entry.isSymbolicLink()) continue;
    const rel = dir ? `${dir}/${entry.name}` : entry.name;
    if (entry.isDirectory()) {
      if (!rules.ignores(rel, true)) queue.push(rel);
    } else if (entry.isFile()) {
      if (!rules.ignores(rel, false)) files.push({ rel, abs: path.join(absDir, entry.name) });
    }
  }
  await Promise.all(
    files.map(async (f) => {
      try {
        const stat = await fs.promises.lstat(f.abs);
        if (!stat.isFile()) return;
        if (stat.size > rules.maxFileBytes) {
          result.tooLarge++;
          return;
        }
        if (result.files.length >= options.maxFiles) {
          result.truncated = true;
          return;
        }
        result.files.push({ rel: f.rel, abs: f.abs, size: stat.size, mtimeMs: stat.mtimeMs });
      } catch {
        // Vanished or unreadable between readdir and stat: not part of this scan.
      }
    }),
  );
}

/** Stat of one path for a live update: the file, "directory", "gone" (or not a regular file), or "excluded". */
export async function statIndexable(rules: IgnoreRules, rel: string): Promise<DiscoveredFile | "gone" | "excluded" | "directory"> {
  const abs = path.join(rules.root, ...rel.split("/"));
  try {
    const stat = await fs.promises.lstat(abs);
    if (stat.isDirectory()) return rules.ignores(rel, true) ? "excluded" : "directory";
    if (rules.ignores(rel, false)) return "excluded";
    if (!stat.isFile()) return "gone";
    if (stat.size > rules.maxFileBytes) return "excluded";
    return { rel, abs, size: stat.size, mtimeMs: stat.mtimeMs };
  } catch {
    return "gone";
  }
}
