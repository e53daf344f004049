// Runs after `npm install`. It never fails the install: every step is best effort.
//
// Installed as a package (`npm install -g ifai-lsp`, or into a project): node-llama-cpp lists a
// prebuilt llama.cpp build for every platform and GPU as optional dependencies, and npm installs
// each one whose os/cpu fields match: on any Linux x64 machine that is the CUDA builds (540 MB),
// Vulkan (71 MB) and the arm builds (33 MB), used or not. A package cannot change that from its own
// package.json (npm applies `overrides` only at the root of an install, and a global install has
// no root of ours), so this script removes the builds node-llama-cpp itself would never pick here:
// other architectures always, and a GPU build when node-llama-cpp's own detection
// (getLlamaGpuTypes("supported"), what `gpu: "auto"` uses) says this machine cannot run it.
// IFAI_LSP_KEEP_GPU_BUILDS=1 keeps them; a GPU added later gets its build with
// `npm install -g @node-llama-cpp/linux-x64-cuda@<node-llama-cpp's version>` (docs/editors.md).
//
// In a clone of the repository: nothing is removed. On a system Node older than 22 npm has just
// printed EBADENGINE warnings; they are harmless there, and this says why.
import { existsSync, lstatSync, readdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = path.resolve(fileURLToPath(new URL("..", import.meta.url)));
const installedAsPackage = path.basename(path.dirname(root)) === "node_modules";

try {
  if (installedAsPackage) await pruneLlamaBuilds();
  else explainEngineWarnings();
} catch (error) {
  process.stderr.write(`ifai-lsp postinstall: ${error instanceof Error ? error.message : String(error)} (ignored)\n`);
}

function explainEngineWarnings() {
  // This script runs on the Node npm put first on PATH (node_modules/.bin, so 24); npm itself may
  // run on an older one, which its user agent names.
  const npmNode = /\bnode\/(v\d+[^\s]*)/.exec(process.env.npm_config_user_agent ?? "")?.[1] ?? process.version;
  if (Number(npmNode.slice(1).split(".")[0]) >= 22) return;
  process.stdout.write(
    `ifai-lsp: the EBADENGINE warnings above are expected with the system Node ${npmNode}. ` +
      "This clone runs on the Node 24 that npm just put in node_modules/.bin: `npm run …`, `npx ifai-lsp …` " +
      "and `node bin/ifai-lsp.js …` all use it. Nothing to do.\n",
  );
}

/** The node_modules folders a require() from this package searches, nearest first. */
function searchFolders() {
  const folders = [];
  for (let dir = root; ; dir = path.dirname(dir)) {
    if (path.basename(dir) !== "node_modules") folders.push(path.join(dir, "node_modules"));
    if (path.dirname(dir) === dir) return folders;
  }
}

async function pruneLlamaBuilds() {
  if (/^(1|true|yes|on)$/i.test(process.env.IFAI_LSP_KEEP_GPU_BUILDS ?? "")) return;
  const folder = searchFolders().find((f) => existsSync(path.join(f, "node-llama-cpp", "package.json")));
  if (folder === undefined) return;
  const llamaDir = path.join(folder, "node-llama-cpp");
  // The builds sit beside node-llama-cpp, or inside it when npm could not hoist them.
  const scopes = [path.join(folder, "@node-llama-cpp"), path.join(llamaDir, "node_modules", "@node-llama-cpp")].filter((d) => existsSync(d));
  if (scopes.length === 0) return;

  let gpuTypes;
  try {
    const llama = await import(pathToFileURL(path.join(llamaDir, "dist", "index.js")).href);
    gpuTypes = new Set(await llama.getLlamaGpuTypes("supported"));
  } catch {
    gpuTypes = undefined; // Unknown: keep every GPU build of this platform rather than guess.
  }
  const platform = { linux: "linux", darwin: "mac", win32: "win" }[process.platform] ?? process.platform;
  const arch = process.arch === "arm" ? "armv7l" : process.arch;

  const removed = [];
  let bytes = 0;
  for (const scope of scopes) {
    for (const name of readdirSync(scope)) {
      // Names are <platform>-<arch>[-<gpu>[-ext]]: linux-x64, linux-x64-cuda-ext, mac-arm64-metal, win-x64-vulkan.
      const [buildPlatform, buildArch, gpu] = name.split("-");
      let unusable = buildPlatform !== platform || buildArch !== arch;
      if (!unusable && (gpu === "cuda" || gpu === "vulkan")) unusable = gpuTypes !== undefined && !gpuTypes.has(gpu);
      if (!unusable) continue;
      const dir = path.join(scope, name);
      bytes += sizeOf(dir);
      rmSync(dir, { recursive: true, force: true });
      removed.push(name);
    }
  }
  if (removed.length === 0) return;
  const version = JSON.parse(readFileSync(path.join(llamaDir, "package.json"), "utf8")).version;
  process.stdout.write(
    `ifai-lsp: removed llama.cpp builds this machine cannot use (${removed.join(", ")}; ${Math.round(bytes / 1e6)} MB). ` +
      `For a GPU added later: npm install -g @node-llama-cpp/${platform}-${arch}-cuda@${version} (or -vulkan).\n`,
  );
}

function sizeOf(target) {
  const stat = lstatSync(target, { throwIfNoEntry: false });
  if (stat === undefined) return 0;
  if (!stat.isDirectory()) return stat.size;
  let total = 0;
  for (const entry of readdirSync(target)) total += sizeOf(path.join(target, entry));
  return total;
}
