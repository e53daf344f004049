import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const binFile = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../bin/ifai-lsp.js");

/**
 * How to spell this program in a hint so that the hint runs as printed where it is printed:
 * `ifai-lsp` when that command on PATH is this very program (a global install, `npm link`);
 * `npx ifai-lsp` when npx started it from its cache; otherwise `node <path to bin/ifai-lsp.js>`
 * (relative in a clone, where bin/ifai-lsp.js hands over to the clone's own Node 24 so any system
 * Node works; absolute inside an editor-managed install such as mason's).
 */
export function cliCommand(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): string {
  const own = realpath(binFile);
  for (const dir of (env.PATH ?? "").split(path.delimiter).filter(Boolean)) {
    if (own !== undefined && realpath(path.join(dir, "ifai-lsp")) === own) return "ifai-lsp";
  }
  const parts = binFile.split(path.sep);
  if (parts.includes("_npx")) return "npx ifai-lsp";
  const shown = parts.includes("node_modules") ? binFile : path.relative(cwd, binFile) || binFile;
  return `node ${/\s/.test(shown) ? JSON.stringify(shown) : shown}`;
}

function realpath(p: string): string | undefined {
  try {
    return fs.realpathSync(p);
  } catch {
    return undefined;
  }
}
