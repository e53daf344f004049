import path from "node:path";
import { fileURLToPath } from "node:url";
import { IgnoreRules } from "../index/ignoreRules.js";
import type { WorkspaceApi } from "./workspace.js";

/**
 * Which documents must stay off cloud APIs because the workspace excludes them (.gitignore,
 * .ifaiignore, .git/info/exclude and the index's built-in excludes). Ignore files are read once
 * per folder and cached; `reset` forgets them (on a settings change).
 */
export function cloudExclusions(workspace: WorkspaceApi): {
  excluded(uri: string): string | undefined;
  /** For a path shown relative to a workspace folder (cross-file snippets): excluded in any folder. */
  excludedRelative(rel: string): boolean;
  reset(): void;
} {
  const rules = new Map<string, IgnoreRules>();
  const rulesFor = (root: string): IgnoreRules => {
    let folderRules = rules.get(root);
    if (!folderRules) {
      folderRules = new IgnoreRules(root, { maxFileBytes: Number.MAX_SAFE_INTEGER });
      rules.set(root, folderRules);
    }
    return folderRules;
  };
  return {
    excludedRelative(rel) {
      const posix = rel.replace(/\\/g, "/");
      if (!posix || posix.startsWith("/") || posix.startsWith("../") || /^[a-z][a-z0-9+.-]*:/i.test(posix)) return false;
      return workspace.folders().some((folder) => folder.fsPath !== undefined && rulesFor(folder.fsPath).ignores(posix, false));
    },
    excluded(uri) {
      if (!uri.startsWith("file:")) return undefined;
      let file: string;
      try {
        file = fileURLToPath(uri);
      } catch {
        return undefined;
      }
      for (const folder of workspace.folders()) {
        if (!folder.fsPath) continue;
        const rel = path.relative(folder.fsPath, file);
        if (!rel || rel.startsWith("..") || path.isAbsolute(rel)) continue;
        const posix = rel.split(path.sep).join("/");
        if (rulesFor(folder.fsPath).ignores(posix, false)) return `${posix} is excluded by the workspace's ignore files (.gitignore, .ifaiignore)`;
      }
      return undefined;
    },
    reset: () => rules.clear(),
  };
}
