/**
 * `ifai-lsp engine`: the shared engine process (src/engine/EngineHost.ts). Language servers start
 * it themselves when `engine.mode` is "shared"; running it by hand is for diagnosis. It prints one
 * line when it listens ("listening", or "already-running" when another one does) and logs to
 * <cache>/logs/engine.log (IFAI_LOG_FILE overrides).
 */
import path from "node:path";
import { cacheDir } from "../config/paths.js";
import { EngineHost } from "../engine/EngineHost.js";
import { engineSocketPath, ensurePrivateFolder } from "../engine/socketPath.js";
import { createLogger } from "../util/logger.js";

export const ENGINE_HELP = `Usage: ifai-lsp engine

Runs the shared engine: one process per user that holds the local model for every editor window
(language servers with engine.mode "shared" start it themselves). It listens on a Unix socket in a
folder only this user can enter (IFAI_ENGINE_DIR, else $XDG_RUNTIME_DIR/ifai-lsp, else
<tmp>/ifai-lsp-<uid>), never on the network, and exits IFAI_ENGINE_IDLE_MS (default 10000) after
its last client left. Log: <cache>/logs/engine.log.
`;

export async function runEngine(env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const socketPath = engineSocketPath(env);
  if (process.platform !== "win32") ensurePrivateFolder(path.dirname(socketPath));
  const logger = createLogger({ level: "info", file: path.join(cacheDir(env), "logs", "engine.log") }, env).child({ component: "engine" });
  const idleMs = Number(env.IFAI_ENGINE_IDLE_MS) > 0 ? Number(env.IFAI_ENGINE_IDLE_MS) : 10_000;
  // Every window shares this process: one failing request must not end it for all of them.
  process.on("uncaughtException", (error) => logger.error({ err: error }, "uncaught exception; the engine goes on"));
  process.on("unhandledRejection", (error) => logger.error({ err: error }, "unhandled rejection; the engine goes on"));
  // Its stdout is a pipe the starting server closes after the first line.
  process.stdout.on("error", () => undefined);
  let closing = false;
  const stop = async (reason: string): Promise<void> => {
    if (closing) return;
    closing = true;
    logger.info({ reason }, "shared engine exiting");
    await host.close().catch(() => undefined);
    logger.flush();
    process.exit(0);
  };
  const host = new EngineHost({ socketPath, logger, idleMs, onIdle: () => void stop("no client left") });
  const outcome = await host.start();
  process.stdout.write(`${outcome}\n`);
  if (outcome === "already-running") return 0;
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
  return new Promise<number>(() => undefined);
}
