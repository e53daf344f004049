/**
 * The package as a user gets it: `npm pack` in a fresh checkout (no dist/: prepack builds it), then
 * `npm install -g --prefix TMP ifai-lsp-<version>.tgz`, then the installed `ifai-lsp` command —
 * the LSP server over stdio with a completion from the generated model, `--version`, `doctor`,
 * `models list` — and what the install weighs and contains. The install resolves dependencies
 * from the registry through npm's local cache (`--prefer-offline`), as a user's second install does.
 */
import { spawn, spawnSync, type SpawnSyncReturns } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { createMessageConnection, StreamMessageReader, StreamMessageWriter } from "vscode-jsonrpc/node";
import { VERSION } from "../src/version.js";
import { tinyEmbedderDir } from "./helpers/embedder.js";
import { INLINE_CLIENT, TestClient, waitForExit } from "./helpers/lspClient.js";
import { tempDir, tinyModel } from "./helpers/models.js";
import { nodeBinary, projectRoot } from "./helpers/paths.js";

const dir = tempDir("ifai-package-");
const prefix = path.join(dir.path, "prefix");
const cacheDir = path.join(dir.path, "cache");
const installed = path.join(prefix, "lib", "node_modules", "ifai-lsp");
const command = path.join(prefix, "bin", "ifai-lsp");
/** A project-style install, as npx, mason and Zed make one: a package.json of their own, ifai-lsp a dependency. */
const project = path.join(dir.path, "project-install");

/**
 * The environment of a user whose `node` is this Node (22 or newer): npm and the installed
 * command's `#!/usr/bin/env node` both find it on PATH. The npm_* variables of the npm that
 * started vitest are dropped so they cannot steer the install.
 */
const userEnv = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.toLowerCase().startsWith("npm_")) env[k] = v;
  // The prefix's bin folder is on PATH, as npm's global bin folder is for a user.
  const PATH = [path.join(prefix, "bin"), path.dirname(nodeBinary), process.env.PATH ?? ""].join(path.delimiter);
  return { ...env, PATH, IFAI_CACHE_DIR: cacheDir, ...extra };
};

function npm(args: string[], cwd: string): SpawnSyncReturns<string> {
  const result = spawnSync("npm", [...args, "--no-audit", "--no-fund", "--prefer-offline"], {
    cwd,
    encoding: "utf8",
    // onnxruntime-node's install script fetches CUDA libraries from outside; its CPU binary is in the package.
    env: userEnv({ ONNXRUNTIME_NODE_INSTALL: "skip" }),
  });
  if (result.status !== 0) throw new Error(`npm ${args.join(" ")} failed (${result.status}):\n${result.stdout}\n${result.stderr}`);
  return result;
}

/** The same, without blocking: the two installs below run side by side (npm mostly waits on its cache and the disk). */
function npmAsync(args: string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn("npm", [...args, "--no-audit", "--no-fund", "--prefer-offline"], { cwd, env: userEnv({ ONNXRUNTIME_NODE_INSTALL: "skip" }) });
    let output = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => void (output += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => void (output += chunk));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`npm ${args.join(" ")} failed (${code}):\n${output}`))));
  });
}

const run = (args: string[], env: NodeJS.ProcessEnv = {}): SpawnSyncReturns<string> =>
  spawnSync(command, args, { encoding: "utf8", env: userEnv(env), cwd: dir.path });

function sizeOf(target: string): number {
  const stat = fs.lstatSync(target);
  if (!stat.isDirectory()) return stat.size;
  let total = 0;
  for (const entry of fs.readdirSync(target)) total += sizeOf(path.join(target, entry));
  return total;
}

/**
 * A checkout as `git clone` gives it: the files git tracks or would add (the working tree's
 * versions, so uncommitted work is tested too), with no dist/. node_modules is linked, as
 * `npm install` would have made it.
 */
function freshCheckout(target: string): string {
  const listed = spawnSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: projectRoot, encoding: "utf8" });
  if (listed.status !== 0) throw new Error(`git ls-files failed: ${listed.stderr}`);
  for (const file of listed.stdout.split("\0").filter(Boolean)) {
    const from = path.join(projectRoot, file);
    // Links (a team checkout's shared node_modules and .cache) are not part of a clone.
    if (!fs.existsSync(from) || !fs.lstatSync(from).isFile()) continue;
    fs.mkdirSync(path.dirname(path.join(target, file)), { recursive: true });
    fs.copyFileSync(from, path.join(target, file));
  }
  fs.symlinkSync(path.join(projectRoot, "node_modules"), path.join(target, "node_modules"));
  return target;
}

let modelPath: string;
let packed: string;

beforeAll(async () => {
  modelPath = await tinyModel();
  const checkout = freshCheckout(path.join(dir.path, "checkout"));
  expect(fs.existsSync(path.join(checkout, "dist"))).toBe(false);
  const pack = npm(["pack", "--json", "--pack-destination", dir.path], checkout);
  const [info] = JSON.parse(pack.stdout.slice(pack.stdout.indexOf("["))) as Array<{ filename: string; files: Array<{ path: string }> }>;
  packed = path.join(dir.path, info!.filename);
  expect(info!.files.map((f) => f.path)).toContain("dist/cli/main.js");
  fs.mkdirSync(project, { recursive: true });
  fs.writeFileSync(path.join(project, "package.json"), JSON.stringify({ name: "editor-managed", version: "1.0.0", private: true }));
  await Promise.all([npmAsync(["install", "-g", "--prefix", prefix, packed], dir.path), npmAsync(["install", packed], project)]);
}, 400_000);
afterAll(() => dir.cleanup());

describe("the installed package", () => {
  it("runs `ifai-lsp --version`, `models list` and `doctor` from the user's PATH", () => {
    expect(fs.realpathSync(command)).toBe(fs.realpathSync(path.join(installed, "bin", "ifai-lsp.js")));
    const version = run(["--version"]);
    expect(version.stderr).toBe("");
    expect(version.stdout.trim()).toBe(VERSION);

    const list = run(["models", "list"]);
    expect(list.status, list.stderr).toBe(0);
    expect(list.stdout).toContain(`Models in ${path.join(cacheDir, "models")}`);
    expect(list.stdout).toMatch(/qwen2\.5-coder-0\.5b\s/);

    const doctor = run(["doctor"], { IFAI_MODEL: modelPath });
    expect(doctor.status, doctor.stderr).toBe(0);
    expect(doctor.stdout).toMatch(/^Backend\s+cpu/m);
    expect(doctor.stdout).toContain(modelPath);
    expect(doctor.stdout).toMatch(/^Speed\s+[\d.]+ tokens\/s generation/m);
    // Its hint names the command the user has on PATH, so it runs as printed.
    expect(doctor.stdout).toMatch(/Get it with: ifai-lsp models pull qwen2\.5-coder-0\.5b$/m);
  });

  it("serves an editor over stdio: initialize, a completion from the model, shutdown", async () => {
    const proc = spawn(command, ["--stdio"], { stdio: ["pipe", "pipe", "pipe"], env: userEnv({ IFAI_LOG_LEVEL: "warn" }) });
    const stderr = { text: "" };
    proc.stderr.setEncoding("utf8").on("data", (chunk: string) => void (stderr.text += chunk));
    const client = new TestClient(createMessageConnection(new StreamMessageReader(proc.stdout), new StreamMessageWriter(proc.stdin)), proc, stderr);
    try {
      const init = await client.initialize(INLINE_CLIENT, {
        model: { path: modelPath, threads: 1 },
        // The whole prefix before the suffix: see package.env.test.ts (the tiny model's answer).
        completion: { debounceMs: 0, maxTokens: 8, middleLines: 0 },
        index: { enabled: false },
      });
      expect(init.serverInfo).toEqual({ name: "ifai-lsp", version: VERSION });
      expect(init.capabilities.inlineCompletionProvider).toBeTruthy();
      const uri = pathToFileURL(path.join(dir.path, "main.ts")).href;
      await client.open(uri, "typescript", "export function add(a: number, b: number): number {\n  return \n}\n");
      const list = await client.inline(uri, { line: 1, character: "  return ".length });
      expect(list?.items.length, stderr.text).toBe(1);
      expect(list!.items[0]!.insertText).not.toBe("");
      expect(await client.shutdownAndExit()).toBe(0);
    } finally {
      client.kill();
      await waitForExit(proc);
    }
  });

  it.each([
    ["global", () => path.join(installed, "node_modules"), () => installed],
    ["project (npx, mason, Zed)", () => path.join(project, "node_modules"), () => project],
  ])("installs no ONNX runtime and no llama.cpp build this machine cannot use: %s install", async (_, modulesDir, measured) => {
    const modules = modulesDir();
    expect(fs.existsSync(path.join(modules, "onnxruntime-node"))).toBe(false);
    const { getLlamaGpuTypes } = await import("node-llama-cpp");
    const usable = new Set<string>((await getLlamaGpuTypes("supported")).filter((g): g is "cuda" | "vulkan" | "metal" => g !== false));
    const platform = ({ linux: "linux", darwin: "mac", win32: "win" } as Record<string, string>)[process.platform];
    const arch = process.arch === "arm" ? "armv7l" : process.arch;
    const builds = fs.readdirSync(path.join(modules, "@node-llama-cpp"));
    expect(builds).toContain(`${platform}-${arch}`);
    for (const build of builds) {
      const [p, a, gpu] = build.split("-");
      expect({ build, platform: p, arch: a }).toEqual({ build, platform, arch });
      if (gpu === "cuda" || gpu === "vulkan") expect(usable.has(gpu), `${build} installed without ${gpu} here`).toBe(true);
    }
    if (process.platform === "linux" && process.arch === "x64" && usable.size === 0) {
      // The product's goal for a CPU-only Linux x64 machine (README, "Footprint").
      expect(sizeOf(measured()) / 1e6).toBeLessThanOrEqual(500);
    }
  });

  it("says how to add onnxruntime-node when an embedding model needs it, and the printed command works", async () => {
    const embedder = await tinyEmbedderDir();
    const project = path.join(dir.path, "project");
    fs.mkdirSync(project, { recursive: true });
    fs.writeFileSync(path.join(project, "math.ts"), "export function add(a: number, b: number): number {\n  return a + b;\n}\n");
    const index = (): SpawnSyncReturns<string> =>
      run(["index", project, "--embedding-model-dir", embedder, "--quiet", "--uri", path.join(dir.path, "lancedb")]);

    // Without the runtime the index still works (full-text search) and the user is told what to install.
    const without = index();
    expect(without.status, without.stderr).toBe(0);
    expect(without.stdout).toContain("chunks, lexical search");
    const hint = /`(npm install -g onnxruntime-node@[^`]+)`/.exec(without.stderr);
    expect(hint, without.stderr).not.toBeNull();

    // The command as printed, run by the same user into the same prefix.
    npm([...hint![1]!.split(" ").slice(1), "--prefix", prefix], dir.path);
    const withRuntime = index();
    expect(withRuntime.status, withRuntime.stderr).toBe(0);
    expect(withRuntime.stdout).toContain("chunks, hybrid search");
  });

  it("is what the mason package definition installs: the same npm name, version and command", () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(installed, "package.json"), "utf8")) as { name: string; version: string; bin: Record<string, string> };
    const mason = parseYaml(fs.readFileSync(path.join(projectRoot, "clients/neovim/mason/packages/ifai-lsp/package.yaml"), "utf8")) as {
      source: { id: string };
      bin: Record<string, string>;
    };
    expect(mason.source.id).toBe(`pkg:npm/${manifest.name}@${manifest.version}`);
    for (const [command, target] of Object.entries(mason.bin)) {
      expect(target).toBe(`npm:${command}`);
      expect(Object.keys(manifest.bin)).toContain(command);
      expect(fs.existsSync(path.join(prefix, "bin", command))).toBe(true);
    }
  });
});
