import crypto from "node:crypto";
import path from "node:path";
import { cacheDir } from "../../config/paths.js";

/**
 * Where a workspace folder's index lives. By default an embedded LanceDB folder under the user's
 * cache: <cache>/index/<folder name>-<hash of its path>, so two checkouts of the same project
 * never share an index by accident. A configured URI (a local path, s3://, gs://, az://, db://)
 * is used as is for a single folder and gets the folder's name appended when there are several
 * (`folders`: every workspace folder's path); two folders of the same name also get a hash of
 * their path, since one index written by both would hold each one's files as the other's
 * deletions.
 */
export function indexLocation(folderPath: string, options: { uri?: string; folderCount?: number; folders?: readonly string[]; env?: NodeJS.ProcessEnv } = {}): string {
  const name = safeName(path.basename(folderPath) || "root");
  const configured = options.uri?.trim();
  if (configured) {
    const base = /^[a-z][a-z0-9+.-]*:\/\//i.test(configured) ? configured.replace(/\/+$/, "") : path.resolve(configured);
    const folders = options.folders ?? [];
    if (Math.max(options.folderCount ?? 1, folders.length) <= 1) return base;
    const shared = folders.some((other) => path.resolve(other) !== path.resolve(folderPath) && safeName(path.basename(other) || "root") === name);
    return shared ? `${base}/${name}-${pathKey(folderPath)}` : `${base}/${name}`;
  }
  return path.join(cacheDir(options.env), "index", `${name}-${pathKey(folderPath)}`);
}

function pathKey(folderPath: string): string {
  return crypto.hash("sha256", path.resolve(folderPath), "hex").slice(0, 12);
}

/** True for a location on this machine's disk (the store may delete and recreate it). */
export function isLocalLocation(location: string): boolean {
  return !/^[a-z][a-z0-9+.-]*:\/\//i.test(location) || location.startsWith("file://");
}

function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]+/g, "_").slice(0, 60) || "folder";
}
