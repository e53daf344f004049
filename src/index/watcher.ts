import path from "node:path";
import { watch, type FSWatcher } from "chokidar";
import type { Logger } from "../util/logger.js";
import type { IgnoreRules } from "./ignoreRules.js";

/**
 * Watches a workspace folder with chokidar and reports changed paths relative to it, already
 * filtered by the folder's ignore rules (chokidar 6 takes a function for `ignored`, so excluded
 * folders such as node_modules are never even watched). Folders that go away are reported with a
 * trailing "/", so everything below them leaves the index.
 */
export class FolderWatcher {
  private readonly watcher: FSWatcher;
  readonly ready: Promise<void>;

  constructor(rules: IgnoreRules, onChange: (rels: string[]) => void, logger: Logger) {
    const root = rules.root;
    const relOf = (p: string): string => path.relative(root, p).split(path.sep).join("/");
    this.watcher = watch(root, {
      ignoreInitial: true,
      followSymlinks: false,
      persistent: true,
      ignored: (p: string, stats?: { isDirectory(): boolean; isFile(): boolean; size: number }) => {
        const rel = relOf(p);
        if (rel === "" || rel.startsWith("..")) return false;
        // Ignore-file changes must be seen even where the files themselves are not indexed.
        if (rel.endsWith(".gitignore") || rel.endsWith(".ifaiignore")) return false;
        if (!stats) return rules.ignores(rel, false) && rules.ignores(rel, true);
        if (stats.isDirectory()) return rules.ignores(rel, true);
        return rules.ignores(rel, false);
      },
    });
    this.ready = new Promise((resolve) => this.watcher.once("ready", () => resolve()));
    this.watcher.on("all", (event, p) => {
      const rel = relOf(p);
      if (!rel || rel.startsWith("..")) return;
      if (event === "unlinkDir" || event === "addDir") onChange([`${rel}/`]);
      else onChange([rel]);
    });
    this.watcher.on("error", (error) => logger.warn({ err: error, folder: root }, "file watcher error"));
  }

  close(): Promise<void> {
    return this.watcher.close();
  }
}
