import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { projectRoot } from "./helpers/paths.js";
import { tinyModel } from "./helpers/models.js";

/**
 * Runs once before the suite: checks that the server tests will spawn the current build,
 * generates the tiny test model (cached in .cache/test-models between runs), and gives the run an
 * engine folder of its own.
 */
export default async function setup(): Promise<(() => void) | void> {
  const built = path.join(projectRoot, "dist", "cli", "main.js");
  if (!fs.existsSync(built)) throw new Error("dist/ is missing: run `npm test` (it builds first) or `npm run build`.");
  const newestSource = newestMtime(path.join(projectRoot, "src"));
  const newestBuild = newestMtime(path.join(projectRoot, "dist"));
  if (newestSource > newestBuild) throw new Error("dist/ is older than src/: run `npm test` (it builds first) or `npm run build`.");
  await tinyModel();
  // Every server the suite starts shares one engine of the suite's own (this build's code), never
  // the developer's running engine nor one another checkout's tests started: the folder is this
  // run's. Tests that check the folder rules set IFAI_ENGINE_DIR themselves.
  if (!process.env.IFAI_ENGINE_DIR) {
    const folder = fs.mkdtempSync(path.join(os.tmpdir(), "ifai-engine-test-"));
    fs.chmodSync(folder, 0o700);
    process.env.IFAI_ENGINE_DIR = folder;
    return () => fs.rmSync(folder, { recursive: true, force: true });
  }
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    newest = Math.max(newest, fs.statSync(path.join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}
