/**
 * Edit sequences from a git history, for the next-edit benchmark: commits that change one file in
 * two or more places (hunks) give a case each — apply the first hunk as the user's edit, ask for
 * the next edit, and compare with the second hunk. Uses `git` on this repository; plain data out.
 */
import { execFileSync } from "node:child_process";

export interface Hunk {
  /** One-based first old line and count (count 0: an insertion after line `oldStart`). */
  oldStart: number;
  oldCount: number;
  added: string[];
}

export interface ReplayCase {
  commit: string;
  path: string;
  /** The file before the commit. */
  before: string;
  first: Hunk;
  second: Hunk;
}

const git = (cwd: string, args: string[]): string => execFileSync("git", args, { cwd, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });

/** Parses `git show --unified=0` output into hunks per file. */
export function parseHunks(diff: string): Map<string, Hunk[]> {
  const files = new Map<string, Hunk[]>();
  let current: Hunk[] | undefined;
  let hunk: Hunk | undefined;
  for (const line of diff.split("\n")) {
    if (line.startsWith("diff --git ")) {
      current = undefined;
      hunk = undefined;
    } else if (line.startsWith("+++ ")) {
      const name = line.slice(4);
      current = name === "/dev/null" ? undefined : [];
      if (current) files.set(name.replace(/^b\//, ""), current);
    } else if (line.startsWith("@@ ") && current) {
      const m = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/.exec(line);
      if (!m) continue;
      hunk = { oldStart: Number(m[1]), oldCount: m[2] === undefined ? 1 : Number(m[2]), added: [] };
      current.push(hunk);
    } else if (hunk && line.startsWith("+")) {
      hunk.added.push(line.slice(1));
    }
  }
  return files;
}

/** The file's lines with `hunks` (sorted by position, non-overlapping) applied. */
export function applyHunks(lines: readonly string[], hunks: readonly Hunk[]): string[] {
  const out = [...lines];
  // From the bottom up, so earlier line numbers stay valid.
  for (const h of [...hunks].sort((a, b) => b.oldStart - a.oldStart)) {
    const at = h.oldCount === 0 ? h.oldStart : h.oldStart - 1;
    out.splice(at, h.oldCount, ...h.added);
  }
  return out;
}

export interface MineOptions {
  /** Commits to look through, newest first. */
  commits: number;
  /** Cases to keep. */
  cases: number;
  /** The second hunk must start within this many lines of the first (so it can be in the editable region). */
  maxDistance: number;
  /** Hunks larger than this (old or new lines) are skipped: a next edit is small. */
  maxHunkLines: number;
  /** Path suffixes to take. */
  extensions: readonly string[];
}

/** Cases from the history of the repository at `cwd`; deterministic for a given history. */
export function mineCases(cwd: string, options: MineOptions): { cases: ReplayCase[]; filesSeen: number; tooFar: number } {
  const hashes = git(cwd, ["log", "--no-merges", "--format=%H", "-n", String(options.commits)]).split("\n").filter(Boolean);
  const cases: ReplayCase[] = [];
  let filesSeen = 0;
  let tooFar = 0;
  for (const hash of hashes) {
    if (cases.length >= options.cases) break;
    let diff: string;
    try {
      diff = git(cwd, ["show", "--unified=0", "--format=", "--no-color", "--no-renames", hash]);
    } catch {
      continue;
    }
    for (const [file, hunks] of parseHunks(diff)) {
      if (cases.length >= options.cases) break;
      if (!options.extensions.some((e) => file.endsWith(e)) || hunks.length < 2) continue;
      filesSeen++;
      const [first, second] = hunks as [Hunk, Hunk];
      const small = (h: Hunk): boolean => h.oldCount <= options.maxHunkLines && h.added.length <= options.maxHunkLines && h.oldCount + h.added.length > 0;
      if (!small(first) || !small(second)) continue;
      if (second.oldStart - (first.oldStart + first.oldCount) > options.maxDistance) {
        tooFar++;
        continue;
      }
      let before: string;
      try {
        before = git(cwd, ["show", `${hash}^:${file}`]);
      } catch {
        continue;
      }
      cases.push({ commit: hash.slice(0, 10), path: file, before, first, second });
    }
  }
  return { cases, filesSeen, tooFar };
}

/** Levenshtein similarity of two strings in [0, 1] (1: equal); O(n·m) time, O(m) memory. */
export function editSimilarity(a: string, b: string): number {
  if (a === b) return 1;
  const n = a.length;
  const m = b.length;
  if (n === 0 || m === 0) return 0;
  let prev = new Uint32Array(m + 1);
  let cur = new Uint32Array(m + 1);
  for (let j = 0; j <= m; j++) prev[j] = j;
  for (let i = 1; i <= n; i++) {
    cur[0] = i;
    const ca = a.charCodeAt(i - 1);
    for (let j = 1; j <= m; j++) {
      const cost = ca === b.charCodeAt(j - 1) ? 0 : 1;
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost);
    }
    [prev, cur] = [cur, prev];
  }
  return 1 - prev[m]! / Math.max(n, m);
}
