import { format } from "node:util";
import { createConnection, ProposedFeatures } from "vscode-languageserver/node";
import { startServer } from "../server/server.js";
import { createLogger } from "../util/logger.js";
import { VERSION } from "../version.js";

const HELP = `ifai-lsp ${VERSION} — a private, local-first AI language server

Usage:
  ifai-lsp --stdio              speak LSP over stdin/stdout (what editors use)
  ifai-lsp --socket=PORT        speak LSP over a TCP socket on 127.0.0.1:PORT
  ifai-lsp --node-ipc           speak LSP over Node IPC (when started by a Node client)
  ifai-lsp demo [FILE]          run a visible end-to-end session: start the server as an editor
                                would, open FILE and ask for completions
  ifai-lsp --version            print the version
  ifai-lsp --help               print this help

Environment:
  IFAI_LOG_LEVEL   trace|debug|info|warn|error|silent (default info); logs go to stderr
  IFAI_LOG_FILE    write logs to this file instead of stderr
  IFAI_CACHE_DIR   cache folder (default ~/.cache/ifai-lsp); the default model is
                   <cache>/models/qwen2.5-coder-0.5b-q4_k_m.gguf

Configuration keys: docs/configuration.md
`;

const TRANSPORTS = ["--stdio", "--node-ipc", "--socket", "--pipe", "--clientProcessId"];

/** Runs the command line; resolves with the exit code for commands that end (the server never does). */
export async function main(args: string[]): Promise<number> {
  if (args.includes("--version") || args.includes("-v")) {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  if (args.includes("--help") || args.includes("-h")) {
    process.stdout.write(HELP);
    return 0;
  }
  if (args[0] === "demo") {
    const { runDemo } = await import("./demo.js");
    return runDemo(args.slice(1));
  }
  if (!args.some((a) => TRANSPORTS.some((t) => a === t || a.startsWith(`${t}=`)))) {
    process.stderr.write(`ifai-lsp: no transport given.\n\n${HELP}`);
    return 2;
  }
  if (args.includes("--stdio")) protectStdout();
  const logger = createLogger({ level: "info", file: "" });
  process.on("uncaughtException", (error) => logger.error({ err: error }, "uncaught exception; the server goes on"));
  process.on("unhandledRejection", (error) => logger.error({ err: error }, "unhandled rejection; the server goes on"));
  // createConnection reads the transport (--stdio, --node-ipc, --socket=PORT) from process.argv.
  const connection = createConnection(ProposedFeatures.all);
  startServer(connection, logger);
  return new Promise<number>(() => undefined);
}

/**
 * In --stdio mode stdout carries the protocol. Any library that prints with console.log would
 * corrupt it, so the console is pointed at stderr before anything else loads.
 */
function protectStdout(): void {
  const toStderr = (...args: unknown[]): void => void process.stderr.write(`${format(...args)}\n`);
  console.log = toStderr;
  console.info = toStderr;
  console.debug = toStderr;
  console.warn = toStderr;
  console.trace = toStderr;
}
