import fs from "node:fs";
import path from "node:path";
import { projectRoot } from "./helpers/paths.js";
import { tinyModel } from "./helpers/models.js";

/**
 * Runs once before the suite: checks that the server tests will spawn the current build, and
 * generates the tiny test model (cached in .cache/test-models between runs).
 */
export default async function setup(): Promise<void> {
  const built = path.join(projectRoot, "dist", "cli", "main.js");
  if (!fs.existsSync(built)) throw new Error("dist/ is missing: run `npm test` (it builds first) or `npm run build`.");
  const newestSource = newestMtime(path.join(projectRoot, "src"));
  const newestBuild = newestMtime(path.join(projectRoot, "dist"));
  if (newestSource > newestBuild) throw new Error("dist/ is older than src/: run `npm test` (it builds first) or `npm run build`.");
  await tinyModel();
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    newest = Math.max(newest, fs.statSync(path.join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}
