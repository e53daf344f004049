/**
 * bin/ifai-lsp.js on a system Node older than 22 (the README allows one for a clone): it hands the
 * command over to the clone's own Node 24 (node_modules/.bin/node), so `node bin/ifai-lsp.js …`
 * — what the demo and the README print — works as printed, stdio included.
 */
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createMessageConnection, StreamMessageReader, StreamMessageWriter } from "vscode-jsonrpc/node";
import { VERSION } from "../src/version.js";
import { ITEMS_CLIENT, startStdioServer, TestClient, waitForExit } from "./helpers/lspClient.js";
import { tempDir } from "./helpers/models.js";
import { binPath, projectRoot } from "./helpers/paths.js";

/** The first `node` on PATH, outside this project, whose major version is below 22. */
function olderNode(): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    const candidate = path.join(dir, "node");
    if (!fs.existsSync(candidate) || fs.realpathSync(candidate).startsWith(fs.realpathSync(projectRoot))) continue;
    if (fs.realpathSync(candidate).includes(`${path.sep}node_modules${path.sep}`)) continue;
    const version = spawnSync(candidate, ["--version"], { encoding: "utf8" }).stdout.trim();
    if (Number(version.slice(1).split(".")[0]) < 22) return candidate;
  }
  return undefined;
}

const oldNode = olderNode();
const cache = tempDir("ifai-bin-");
afterAll(() => cache.cleanup());
const env = { ...process.env, IFAI_CACHE_DIR: cache.path };

describe.skipIf(oldNode === undefined)(`bin/ifai-lsp.js on an older system Node (${oldNode ?? "none on PATH: skipped"})`, () => {
  it("runs --version and `models list` as printed", () => {
    const version = spawnSync(oldNode!, [binPath, "--version"], { encoding: "utf8", env });
    expect(version.stderr).toBe("");
    expect(version.stdout.trim()).toBe(VERSION);
    const list = spawnSync(oldNode!, [binPath, "models", "list"], { encoding: "utf8", env });
    expect(list.status, list.stderr).toBe(0);
    expect(list.stdout).toContain(`Models in ${path.join(cache.path, "models")}`);
  });

  it("passes an editor's stdio through to the handed-over server, exit code included", async () => {
    const proc = spawn(oldNode!, [binPath, "--stdio"], { stdio: ["pipe", "pipe", "pipe"], env: { ...env, IFAI_LOG_LEVEL: "warn" } });
    const stderr = { text: "" };
    proc.stderr.setEncoding("utf8").on("data", (chunk: string) => void (stderr.text += chunk));
    const client = new TestClient(createMessageConnection(new StreamMessageReader(proc.stdout), new StreamMessageWriter(proc.stdin)), proc, stderr);
    try {
      // A process that exits instead of serving fails the test at once rather than at the timeout.
      const exited = waitForExit(proc).then((code) => Promise.reject(new Error(`the server exited (${code}) before answering: ${stderr.text}`)));
      exited.catch(() => undefined); // Only the race below cares; a later, normal exit must not be an unhandled rejection.
      const init = await Promise.race([client.initialize(ITEMS_CLIENT, { index: { enabled: false } }), exited]);
      expect(init.serverInfo?.version).toBe(VERSION);
      expect(await client.shutdownAndExit(), stderr.text).toBe(0);
    } finally {
      client.kill();
      await waitForExit(proc);
    }
  });

  it("says what to do where it cannot hand over (--node-ipc needs the client's own channel)", () => {
    const run = spawnSync(oldNode!, [binPath, "--node-ipc"], { encoding: "utf8", env });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/needs Node\.js 22 or newer[\s\S]*npx -y -p node@24 -p ifai-lsp ifai-lsp/);
  });
});

describe.skipIf(process.platform !== "linux")("bin/ifai-lsp.js starts long-lived processes with small V8 young generations", () => {
  it("a --stdio server replaces itself with a Node started with the flags: same pid, same stdio", async () => {
    const client = startStdioServer({ IFAI_CACHE_DIR: cache.path, IFAI_LOG_LEVEL: "warn" });
    try {
      const init = await client.initialize(ITEMS_CLIENT, { index: { enabled: false } });
      expect(init.serverInfo?.version).toBe(VERSION);
      // The pid the editor started is the server (no second process), and its Node runs with the flag.
      const cmdline = fs.readFileSync(`/proc/${client.process!.pid}/cmdline`, "utf8").split("\0");
      expect(cmdline).toContain("--max-semi-space-size=1");
      expect(cmdline).toContain("--stdio");
      expect(await client.shutdownAndExit()).toBe(0);
    } finally {
      client.kill();
    }
  });
});
