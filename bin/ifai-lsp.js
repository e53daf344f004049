#!/usr/bin/env node
// Entry point. Checks the Node version before loading anything: several dependencies need Node 22
// or newer and would otherwise fail with an obscure syntax or module error. A clone of the
// repository carries its own Node 24 (the `node` devDependency), so when an older system Node
// starts this file there, it hands the whole command over to that Node: every command the README
// and the program's hints print (`node bin/ifai-lsp.js models pull …`) works as printed.
// This file stays plain JavaScript that any Node since 14.8 (top-level await) can parse.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { constants } from "node:os";
import { fileURLToPath } from "node:url";
import { missingTuning, tuningFor } from "./tuning.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const major = Number(process.versions.node.split(".")[0]);
const args = process.argv.slice(2);

// Long-running processes (the server, the engine, `ifai-lsp index`) need Node flags and
// environment variables that only take effect when a process starts (bin/tuning.js says which and
// why: young generation, malloc arenas, WebAssembly compiler), so such a process replaces itself
// with one started with them (process.execve: same pid, same stdio, no second process) where
// Node can. IFAI_LSP_NODE_FLAGS=0 skips it.
const tuning = process.env.IFAI_LSP_NODE_FLAGS === "0" ? undefined : tuningFor(args);

if (major < 22) {
  const own = [fileURLToPath(new URL("../node_modules/node/bin/node", import.meta.url)), fileURLToPath(new URL("../node_modules/.bin/node", import.meta.url))].find(
    (candidate) => existsSync(candidate),
  );
  // --node-ipc needs the channel the client opened to this very process; a second process cannot take it over.
  const handOver = own !== undefined && !process.argv.includes("--node-ipc") && process.env.IFAI_LSP_HANDED_OVER !== "1";
  if (!handOver) {
    process.stderr.write(
      `ifai-lsp needs Node.js 22 or newer; this is ${process.version}.\n` +
        "Install Node.js 22 or newer (https://nodejs.org), or run it with a newer Node from npm without installing one:\n" +
        "  npx -y -p node@24 -p ifai-lsp ifai-lsp --version\n",
    );
    process.exit(1);
  }
  // stdio is inherited: in --stdio mode the editor's pipes go straight to the child, byte for byte.
  const child = spawn(own, [...(tuning?.flags ?? []), fileURLToPath(import.meta.url), ...args], {
    stdio: "inherit",
    env: { ...(tuning?.env ?? {}), ...process.env, IFAI_LSP_HANDED_OVER: "1" },
  });
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => child.kill(signal));
  child.on("error", (error) => {
    process.stderr.write(`ifai-lsp: could not start ${own}: ${error.message}\n`);
    process.exit(1);
  });
  child.on("exit", (code, signal) => {
    // A child ended by a signal exits the way a shell reports it (128 + the signal's number).
    process.exit(signal ? 128 + (constants.signals[signal] ?? 0) : (code ?? 1));
  });
} else {
  if (!existsSync(new URL("../dist/cli/main.js", import.meta.url))) {
    process.stderr.write(`ifai-lsp: ${root}dist/ is missing; in a clone of the repository run \`npm run build\` first.\n`);
    process.exit(1);
  }
  const missing = tuning ? missingTuning(tuning, process.execArgv, process.env) : undefined;
  if (missing?.any && typeof process.execve === "function" && process.platform !== "win32") {
    try {
      process.execve(process.execPath, [process.execPath, ...process.execArgv, ...missing.flags, fileURLToPath(import.meta.url), ...args], { ...process.env, ...missing.env });
    } catch {
      // Where the process cannot be replaced, it runs as it is: only its memory differs.
    }
  }
  const { main } = await import("../dist/cli/main.js");
  process.exitCode = await main(args);
}
