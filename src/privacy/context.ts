import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { IgnoreRules } from "./ignoreRules.js";
import { sensitiveFileReason } from "./secretFiles.js";

/** A workspace folder as the gate needs it: its path on disk, when it is a file: folder. */
export interface GateFolder {
  fsPath?: string;
}

/**
 * May this file's content leave the machine? One answer for every piece of context that can be
 * sent to a cloud API: the current document, the existing test file, the index's chunks, other
 * open documents. A file is refused when its name says it holds secrets, when the ignore files of
 * its workspace folder (.gitignore, .ifaiignore, .git/info/exclude, the index's built-in
 * excludes) exclude it, and — for every file other than the one the user is acting on — when it
 * lies outside every workspace folder (no folder: no other file may go).
 *
 * Links are followed: a file whose real path is a secret file or lies outside the workspace
 * folders is refused like that file. The document the user acts on is not confined: it is already in front of the user and of the
 * request (a file opened without a workspace, an untitled buffer), and refusing it would refuse
 * the request itself. Non-file URIs (untitled:) are editor buffers, never read from disk.
 */
export class ContextGate {
  private readonly rules = new Map<string, { rules: IgnoreRules; readAt: number }>();

  constructor(
    private readonly folders: () => readonly GateFolder[],
    /**
     * How long ignore files are trusted before they are read again: an edited .ifaiignore holds
     * within this time without any event, and a request costs no file reads in between.
     */
    private readonly maxAgeMs = 2000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Forget the cached ignore files (after a settings or workspace change, or an ignore file edit). */
  reset(): void {
    this.rules.clear();
  }

  /** Why the document the request is about may not go to a cloud API, or undefined. */
  documentRefusal(uriOrPath: string | undefined): string | undefined {
    if (!uriOrPath) return undefined;
    const sensitive = sensitiveFileReason(uriOrPath);
    if (sensitive) return sensitive;
    const file = toFilePath(uriOrPath);
    if (!file) return undefined;
    // A link to a secret file (src/config.ts → ~/.aws/credentials) is the secret file.
    const real = realPath(file);
    if (real !== file) {
      const target = sensitiveFileReason(real);
      if (target) return `${path.basename(file)} links to ${real}: ${target}`;
    }
    return this.ignoredReason(file);
  }

  /** Why another file's content (context for the request) may not go to a cloud API, or undefined. */
  contextRefusal(uriOrPath: string): string | undefined {
    const sensitive = sensitiveFileReason(uriOrPath);
    if (sensitive) return sensitive;
    const file = toFilePath(uriOrPath);
    // Unsaved editor buffers are the user's own text in the editor, like the current document.
    if (file === undefined) return /^[a-z][a-z0-9+.-]*:/i.test(uriOrPath) && !uriOrPath.startsWith("file:") ? undefined : `${uriOrPath} is not a file path`;
    if (this.owners(file).length === 0) return `${file} is outside the workspace folders`;
    // Content is read through links: what counts is where the bytes live.
    const real = realPath(file);
    if (real !== file) {
      const target = sensitiveFileReason(real);
      if (target) return `${path.basename(file)} links to ${real}: ${target}`;
      const inside = this.folders().some((f) => f.fsPath !== undefined && isInside(real, realPath(f.fsPath)));
      if (!inside) return `${file} links to ${real}, outside the workspace folders`;
      const ignored = this.ignoredReason(real);
      if (ignored) return `${path.basename(file)} links to ${real}: ${ignored}`;
    }
    return this.ignoredReason(file);
  }

  /** The workspace folders holding the file, with its path relative to each ("/"-separated). */
  private owners(file: string): Array<{ root: string; rel: string }> {
    const out: Array<{ root: string; rel: string }> = [];
    for (const folder of this.folders()) {
      if (!folder.fsPath) continue;
      const rel = path.relative(folder.fsPath, file);
      if (rel === "" || rel.startsWith("..") || path.isAbsolute(rel)) continue;
      out.push({ root: folder.fsPath, rel: rel.split(path.sep).join("/") });
    }
    return out;
  }

  /** Excluded by the ignore files of any workspace folder that holds it (nested folders included). */
  private ignoredReason(file: string): string | undefined {
    for (const { root, rel } of this.owners(file)) {
      let cached = this.rules.get(root);
      if (!cached || this.now() - cached.readAt > this.maxAgeMs) {
        cached = { rules: new IgnoreRules(root, { maxFileBytes: Number.MAX_SAFE_INTEGER }), readAt: this.now() };
        this.rules.set(root, cached);
      }
      if (cached.rules.ignores(rel, false)) return `${rel} is excluded by the workspace's ignore files (.gitignore, .ifaiignore)`;
    }
    return undefined;
  }
}

/** The path with every link resolved; the path itself when it does not exist (yet) or cannot be read. */
function realPath(file: string): string {
  try {
    return fs.realpathSync.native(file);
  } catch {
    return file;
  }
}

function isInside(file: string, folder: string): boolean {
  const rel = path.relative(folder, file);
  return rel !== "" && !rel.startsWith("..") && !path.isAbsolute(rel);
}

/** The file system path of a file: URI or an absolute path; undefined for other URIs. */
function toFilePath(uriOrPath: string): string | undefined {
  if (uriOrPath.startsWith("file:")) {
    try {
      return path.normalize(fileURLToPath(uriOrPath));
    } catch {
      return undefined;
    }
  }
  return path.isAbsolute(uriOrPath) ? path.normalize(uriOrPath) : undefined;
}
