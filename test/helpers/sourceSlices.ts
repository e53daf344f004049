import fs from "node:fs";
import path from "node:path";
import { projectRoot } from "./paths.js";

/** Real sources that ship with the dependencies (pinned by the lockfile) or with the project. */
export const SLICE_FILES = ["node_modules/vscode-jsonrpc/lib/common/connection.js", "node_modules/typescript/lib/lib.es5.d.ts", "README.md", "docs/configuration.md", "src/server/server.ts"];

/** `count` deterministic slices of up to `maxChars` characters from each file, chosen by `seed`. */
export function sourceSlices(count: number, options: { seed?: number; maxChars?: number; files?: readonly string[] } = {}): string[] {
  const maxChars = options.maxChars ?? 1500;
  const out: string[] = [];
  let seed = options.seed ?? 12345;
  const next = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (const file of options.files ?? SLICE_FILES) {
    const text = fs.readFileSync(path.join(projectRoot, file), "utf8");
    for (let i = 0; i < count; i++) {
      const start = Math.floor(next() * Math.max(1, text.length - maxChars));
      out.push(text.slice(start, start + Math.floor(next() * maxChars)));
    }
  }
  return out;
}
