import fs from "node:fs";
import path from "node:path";
import { pino, type Logger } from "pino";

export type { Logger } from "pino";

export interface LoggerOptions {
  level: string;
  /** Empty: stderr. */
  file: string;
}

/**
 * Creates the process logger. It writes to stderr (fd 2) or a file and never to stdout, which
 * carries the LSP protocol; a single stray byte there corrupts the client's stream.
 */
export function createLogger(options: LoggerOptions, env: NodeJS.ProcessEnv = process.env): Logger {
  const level = env.IFAI_LOG_LEVEL || options.level;
  const file = env.IFAI_LOG_FILE || options.file;
  let destination;
  if (file) {
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    destination = pino.destination({ dest: path.resolve(file), sync: false, mkdir: true });
  } else {
    destination = pino.destination({ fd: 2, sync: true });
  }
  return pino({ level: isLevel(level) ? level : "info", base: { name: "ifai-lsp" } }, destination);
}

const LEVELS = new Set(["trace", "debug", "info", "warn", "error", "fatal", "silent"]);
function isLevel(level: string): boolean {
  return LEVELS.has(level);
}

/** A logger that drops everything, for library use and tests that do not look at logs. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
