/**
 * Starts the shared engine process, detached from the language server that needed it first, so
 * it outlives that editor window and serves the others. It answers one line on its stdout once it
 * listens ("listening") or finds another engine already listening ("already-running"); nothing is
 * polled. Its log goes to a file (its stdout is closed after that line).
 */
import { spawn } from "node:child_process";
import os from "node:os";
import { fileURLToPath } from "node:url";

/** bin/ifai-lsp.js of this installation (dist/engine/ → bin/). */
const BIN = fileURLToPath(new URL("../../bin/ifai-lsp.js", import.meta.url));

/** The longest wait for the engine to listen: loading node-llama-cpp is not part of it. */
const START_TIMEOUT_MS = 30_000;

export function startEngineProcess(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  return new Promise((resolve, reject) => {
    // It outlives the window that started it: it must not keep that project's folder busy.
    const child = spawn(process.execPath, [BIN, "engine"], { detached: true, cwd: os.homedir(), stdio: ["ignore", "pipe", "ignore"], env, windowsHide: true });
    child.unref();
    let line = "";
    const timer = setTimeout(() => finish(new Error(`the engine did not start within ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS);
    const finish = (error?: Error): void => {
      clearTimeout(timer);
      child.stdout?.destroy();
      child.removeAllListeners();
      if (error) reject(error);
      else resolve();
    };
    child.once("error", (error) => finish(error));
    child.once("exit", (code) => finish(code === 0 && /already-running/.test(line) ? undefined : new Error(`the engine exited with code ${code}${line ? `: ${line.trim()}` : ""}`)));
    child.stdout?.setEncoding("utf8");
    child.stdout?.on("data", (chunk: string) => {
      line += chunk;
      if (line.length > 4096) finish(new Error("the engine wrote something unexpected"));
      else if (/^(listening|already-running)\n/.test(line)) finish();
      else if (line.includes("\n")) finish(new Error(line.trim()));
    });
  });
}
