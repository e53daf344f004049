import { discoverFiles, statIndexable, type DiscoveredFile } from "./discovery.js";
import { IgnoreRules } from "../privacy/ignoreRules.js";
import type { FileRecord } from "./store/IndexStore.js";

/*
 * Which files of a folder need indexing and which records must go, decided by comparing what is
 * on disk (size and mtime) with the folder's file records. Kept apart from FolderIndex so the
 * comparison is read in one place for both the full scan and live file events; nothing here
 * writes to the store.
 */

/** What a comparison found: files to read again and record paths to remove. */
export interface FolderChanges {
  changed: DiscoveredFile[];
  removed: string[];
}

/** A file needs reading when it has no record or its size or mtime moved. */
export function changedFrom(record: FileRecord | undefined, file: DiscoveredFile): boolean {
  return !record || record.size !== file.size || record.mtime !== file.mtimeMs;
}

/** Compares a full scan of the folder with its records. */
export function diffScan(records: ReadonlyMap<string, FileRecord>, found: readonly DiscoveredFile[]): FolderChanges {
  const present = new Set(found.map((f) => f.rel));
  const removed = [...records.keys()].filter((p) => !present.has(p));
  const changed = found.filter((f) => changedFrom(records.get(f.rel), f));
  return { changed, removed };
}

/**
 * Compares the paths named by file events (folders end in "/") with the records. `records` is a
 * function because it is read after each await, and recovery may replace the records meanwhile.
 * A changed file named twice is returned once.
 */
export async function collectChanges(
  rules: IgnoreRules,
  records: () => ReadonlyMap<string, FileRecord>,
  rels: readonly string[],
  options: { maxFiles: number; signal: AbortSignal },
): Promise<FolderChanges> {
  const removed: string[] = [];
  const files: DiscoveredFile[] = [];
  for (const raw of rels) {
    const rel = raw.endsWith("/") ? raw.slice(0, -1) : raw;
    const stat = await statIndexable(rules, rel);
    if (stat === "directory") {
      // A folder appeared, moved or changed: files below it are compared with the index.
      const below = [...records().keys()].filter((p) => p.startsWith(`${rel}/`));
      const found = (await discoverFiles(new SubtreeRules(rules, rel), { maxFiles: options.maxFiles, signal: options.signal })).files;
      const present = new Set(found.map((f) => f.rel));
      removed.push(...below.filter((p) => !present.has(p)));
      files.push(...found.filter((f) => changedFrom(records().get(f.rel), f)));
      continue;
    }
    if (stat === "gone" || stat === "excluded") {
      // A file or a whole folder went (editors report deleted folders without saying so).
      if (records().has(rel)) removed.push(rel);
      for (const p of records().keys()) if (p.startsWith(`${rel}/`)) removed.push(p);
      continue;
    }
    if (changedFrom(records().get(rel), stat)) files.push(stat);
  }
  const changed = [...new Map(files.map((f) => [f.rel, f])).values()];
  return { changed, removed };
}

/** The folder's rules, walking only below `dir`. */
class SubtreeRules extends IgnoreRules {
  constructor(
    private readonly base: IgnoreRules,
    private readonly dir: string,
  ) {
    super(base.root, { maxFileBytes: base.maxFileBytes });
  }

  override ignores(rel: string, isDir: boolean): boolean {
    if (rel === "" || rel === ".") return false;
    // discoverFiles starts at "" and asks about the root's entries: keep only the path to `dir`.
    if (!(rel === this.dir || rel.startsWith(`${this.dir}/`) || this.dir.startsWith(`${rel}/`))) return true;
    return this.base.ignores(rel, isDir);
  }
}

/** Files stat'ed at once when a pass looks at its files again. */
const RESTAT_CONCURRENCY = 64;

/**
 * The files of a pass that changed on disk after the pass read them: each recorded file is
 * compared with its record again (size and mtime), so an edit or a deletion made while the pass
 * ran is not left for a watcher to report; `ifai-lsp index` has none, and a watcher may not have
 * seen the file's folder yet. Files the pass did not record (unreadable) are left alone.
 */
export async function changedSinceRead(
  rules: IgnoreRules,
  records: () => ReadonlyMap<string, FileRecord>,
  files: readonly DiscoveredFile[],
  signal: AbortSignal,
): Promise<FolderChanges> {
  const changed: DiscoveredFile[] = [];
  const removed: string[] = [];
  for (let i = 0; i < files.length; i += RESTAT_CONCURRENCY) {
    signal.throwIfAborted();
    const part = files.slice(i, i + RESTAT_CONCURRENCY);
    const now = await Promise.all(part.map((f) => statIndexable(rules, f.rel)));
    part.forEach((f, j) => {
      const record = records().get(f.rel);
      if (!record) return;
      const stat = now[j]!;
      if (typeof stat === "string") removed.push(f.rel);
      else if (changedFrom(record, stat)) changed.push(stat);
    });
  }
  return { changed, removed };
}
