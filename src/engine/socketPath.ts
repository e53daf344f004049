/**
 * Where the shared engine listens: a Unix socket in a folder only this user can enter. The folder
 * is created with mode 0700 and checked before every use (a directory, not a link, owned by this
 * user, no access for group or others); anything else is refused, so another user can neither
 * reach the engine nor put a socket of their own in its place. Nothing listens on the network.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { VERSION } from "../version.js";

export class UnsafeEngineFolderError extends Error {}

/** The folder: IFAI_ENGINE_DIR, else $XDG_RUNTIME_DIR/ifai-lsp, else <tmp>/ifai-lsp-<uid>. */
export function engineFolder(env: NodeJS.ProcessEnv = process.env): string {
  if (env.IFAI_ENGINE_DIR) return path.resolve(env.IFAI_ENGINE_DIR);
  const uid = typeof process.getuid === "function" ? process.getuid() : 0;
  if (env.XDG_RUNTIME_DIR) return path.join(env.XDG_RUNTIME_DIR, "ifai-lsp");
  return path.join(os.tmpdir(), `ifai-lsp-${uid}`);
}

/** The socket of this version of the engine (versions never share one). */
export function engineSocketPath(env: NodeJS.ProcessEnv = process.env): string {
  if (process.platform === "win32") {
    const user = (env.USERNAME ?? "user").replace(/[^\w.-]/g, "_");
    return `\\\\.\\pipe\\ifai-lsp-engine-${user}-${VERSION}`;
  }
  return path.join(engineFolder(env), `engine-${VERSION}.sock`);
}

/** Creates the folder if needed and proves it private; throws UnsafeEngineFolderError otherwise. */
export function ensurePrivateFolder(folder: string): void {
  if (process.platform === "win32") return;
  try {
    fs.mkdirSync(folder, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new UnsafeEngineFolderError(`cannot create ${folder}: ${(error as Error).message}`);
  }
  const stat = fs.lstatSync(folder);
  const uid = typeof process.getuid === "function" ? process.getuid() : stat.uid;
  if (!stat.isDirectory()) throw new UnsafeEngineFolderError(`${folder} is not a directory (a link or a file is never trusted)`);
  if (stat.uid !== uid) throw new UnsafeEngineFolderError(`${folder} belongs to another user (uid ${stat.uid})`);
  if ((stat.mode & 0o077) !== 0) throw new UnsafeEngineFolderError(`${folder} can be entered by other users (mode ${(stat.mode & 0o777).toString(8)}); it must be 700`);
}
