import { format } from "node:util";
import { renderEnvironmentHelp } from "../config/environment.js";
import { createLogger } from "../util/logger.js";
import { VERSION } from "../version.js";

const HELP = `ifai-lsp ${VERSION} — a private, local-first AI language server

Usage:
  ifai-lsp --stdio              speak LSP over stdin/stdout (what editors use)
  ifai-lsp --socket=PORT        speak LSP over a TCP socket on 127.0.0.1:PORT
  ifai-lsp --node-ipc           speak LSP over Node IPC (when started by a Node client)
  ifai-lsp demo [FILE]          run a visible end-to-end session: start the server as an editor
                                would, open FILE and ask for completions
  ifai-lsp models list|pull|rm|verify
                                manage local models (ifai-lsp models --help for options)
  ifai-lsp route --task T --tokens N
                                show where the router sends a task and why, for the current
                                settings (the live log of a running server: LSP ifai/routeLog)
  ifai-lsp doctor               show the compute backend, cores, RAM, VRAM, the recommended
                                model and the measured speed of the installed one
  ifai-lsp index [DIR]          build or update the code index of DIR (default: here), with a
                                progress bar (ifai-lsp index --help for options)
  ifai-lsp search "QUERY" [--k N] [--json]
                                search the code index of the current folder
  ifai-lsp chat "QUESTION" [--codebase]
                                ask the model; the answer streams to the terminal
                                (ifai-lsp chat --help for options)
  ifai-lsp stats [--json]       what became of the suggestions shown (accepted, dismissed…),
                                per language; kept on this machine only
  ifai-lsp engine               run the shared engine that holds the model for every editor
                                window (servers with engine.mode "shared" start it themselves)
  ifai-lsp --version            print the version
  ifai-lsp --help               print this help

Environment (the server and every command; docs/configuration.md):
${renderEnvironmentHelp()}

Configuration keys: docs/configuration.md
`;

/** How long the event loop may stand still before the watchdog logs it. */
const WATCHDOG_THRESHOLD_MS = 5000;

const TRANSPORTS = ["--stdio", "--node-ipc", "--socket", "--pipe", "--clientProcessId"];

/** Runs the command line; resolves with the exit code for commands that end (the server never does). */
export async function main(args: string[]): Promise<number> {
  if (args.includes("--version") || args.includes("-v")) {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  if (args[0] === "index") {
    const { runIndex } = await import("../index/cli.js");
    // The script that runs this process, so `index` can continue in a fresh process image.
    return runIndex(args.slice(1), process.argv[1] ? { script: process.argv[1] } : {});
  }
  if (args[0] === "search") {
    const { runSearch } = await import("../index/cli.js");
    return runSearch(args.slice(1));
  }
  if (args[0] === "chat") {
    const { runChat, CHAT_HELP } = await import("./chat.js");
    if (args.includes("--help") || args.includes("-h")) {
      process.stdout.write(CHAT_HELP);
      return 0;
    }
    return runChat(args.slice(1));
  }
  if (args[0] === "models") {
    const { runModels, MODELS_HELP } = await import("./models.js");
    if (args.includes("--help") || args.includes("-h")) {
      process.stdout.write(MODELS_HELP);
      return 0;
    }
    return runModels(args.slice(1));
  }
  if (args[0] === "route") {
    const { runRoute, ROUTE_HELP } = await import("./route.js");
    if (args.includes("--help") || args.includes("-h")) {
      process.stdout.write(ROUTE_HELP);
      return 0;
    }
    return runRoute(args.slice(1));
  }
  if (args[0] === "doctor") {
    const { runDoctor, DOCTOR_HELP } = await import("./doctor.js");
    if (args.includes("--help") || args.includes("-h")) {
      process.stdout.write(DOCTOR_HELP);
      return 0;
    }
    return runDoctor(args.slice(1));
  }
  if (args[0] === "stats") {
    const { runStats, STATS_HELP } = await import("./stats.js");
    if (args.includes("--help") || args.includes("-h")) {
      process.stdout.write(STATS_HELP);
      return 0;
    }
    return runStats(args.slice(1));
  }
  if (args[0] === "engine") {
    const { runEngine, ENGINE_HELP } = await import("./engine.js");
    if (args.includes("--help") || args.includes("-h")) {
      process.stdout.write(ENGINE_HELP);
      return 0;
    }
    return runEngine();
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
  // The server's modules load only here, so the commands above (search, index…) start without them.
  const [{ startServer }, { connectFromArgs }, { Watchdog }] = await Promise.all([
    import("../server/server.js"),
    import("../server/transport/serverConnection.js"),
    import("../server/watchdog/Watchdog.js"),
  ]);
  const logger = createLogger({ level: "info", file: "" });
  process.on("uncaughtException", (error) => logger.error({ err: error }, "uncaught exception; the server goes on"));
  process.on("unhandledRejection", (error) => logger.error({ err: error }, "unhandled rejection; the server goes on"));
  // Our own framed reader and message gate sit under vscode-languageserver's connection: a bad
  // header is logged and skipped instead of leaving the server deaf.
  const { connection, gate } = connectFromArgs(args, logger, {
    exit: (code, reason) => {
      logger.info({ code }, `exiting: ${reason}`);
      process.exit(code);
    },
  });
  // A blocked event loop (a spinning handler) is logged from a worker thread, with the request
  // in progress, so a hang leaves a trace.
  const watchdog = new Watchdog({ thresholdMs: WATCHDOG_THRESHOLD_MS, log: { level: "info", file: "" },
    onError: (error) => logger.warn({ err: error }, "the event-loop watchdog stopped"),
  });
  gate.onActivity((activity) => watchdog.setActivity(`last message ${activity.last}; in flight: ${activity.inFlight.join(", ") || "none"}`));
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
