import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const binFile = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../bin/ifai-lsp.js");

/**
 * How to spell this program in a hint so that the hint runs as printed. An installed package
 * (`npm install -g`, npx, a project's node_modules) has the `ifai-lsp` command; so does a clone
 * after `npm link`. A clone without it gets `node <path to bin/ifai-lsp.js>`, which works with
 * any system Node because bin/ifai-lsp.js hands over to the clone's own Node 24.
 */
export function cliCommand(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): string {
  if (binFile.split(path.sep).includes("node_modules")) return "ifai-lsp";
  const own = realpath(binFile);
  for (const dir of (env.PATH ?? "").split(path.delimiter).filter(Boolean)) {
    if (own !== undefined && realpath(path.join(dir, "ifai-lsp")) === own) return "ifai-lsp";
  }
  const relative = path.relative(cwd, binFile) || binFile;
  return `node ${/\s/.test(relative) ? JSON.stringify(relative) : relative}`;
}

function realpath(p: string): string | undefined {
  try {
    return fs.realpathSync(p);
  } catch {
    return undefined;
  }
}
