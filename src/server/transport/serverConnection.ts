import net from "node:net";
import type { Readable, Writable } from "node:stream";
import { IPCMessageReader, IPCMessageWriter, StreamMessageWriter, type MessageReader, type MessageWriter } from "vscode-jsonrpc/node";
import { createConnection, ProposedFeatures, type Connection } from "vscode-languageserver/node";
import type { Logger } from "../../util/logger.js";
import { DEFAULT_FRAMING_LIMITS, FramedMessageReader, type FramingLimits } from "./FramedMessageReader.js";
import { MessageGate } from "./MessageGate.js";

export interface ServerConnection {
  connection: Connection;
  gate: MessageGate;
}

export interface ConnectionOptions {
  /** Called when the stream is beyond repair or the client went away; the CLI exits with the code. */
  exit(code: number, reason: string): void;
  limits?: FramingLimits;
}

/**
 * The server's end of an LSP connection over byte streams: our framed reader (resynchronising,
 * bounded) and the message gate in front of vscode-languageserver's connection. When the input
 * ends the server exits: 0 after a shutdown request, 1 otherwise (the LSP spec's exit codes).
 */
export function createStreamConnection(input: Readable, output: Writable, logger: Logger, options: ConnectionOptions): ServerConnection {
  let gate: MessageGate | undefined;
  const reader = new FramedMessageReader(
    input,
    logger.child({ component: "transport" }),
    {
      onParseError: (reason) => gate?.parseError(reason),
      onFatal: (reason) => {
        logger.error(`framing: giving up on the input stream (${reason}); exiting so the editor restarts the server`);
        options.exit(1, reason);
      },
    },
    options.limits ?? DEFAULT_FRAMING_LIMITS,
  );
  gate = new MessageGate(reader, new StreamMessageWriter(output, "utf-8"), logger.child({ component: "protocol" }));
  const ended = (): void => options.exit(gate!.shutdownRequested ? 0 : 1, "the client closed the connection");
  input.once("end", ended);
  input.once("close", ended);
  return { connection: createGated(gate), gate };
}

/** The same over Node IPC, where messages arrive as objects (no framing to repair). */
export function createIpcConnection(logger: Logger, options: ConnectionOptions): ServerConnection {
  const gate = new MessageGate(new IPCMessageReader(process), new IPCMessageWriter(process), logger.child({ component: "protocol" }));
  process.once("disconnect", () => options.exit(gate.shutdownRequested ? 0 : 1, "the client disconnected"));
  return { connection: createGated(gate), gate };
}

function createGated(gate: { reader: MessageReader; writer: MessageWriter }): Connection {
  return createConnection(ProposedFeatures.all, gate.reader, gate.writer);
}

/**
 * Builds the connection the command line asks for: --stdio, --node-ipc, --socket=PORT (the editor
 * listens on 127.0.0.1:PORT and the server connects) or --pipe=NAME.
 */
export function connectFromArgs(args: string[], logger: Logger, options: ConnectionOptions): ServerConnection {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--node-ipc") return createIpcConnection(logger, options);
    if (arg === "--stdio") return createStreamConnection(process.stdin, process.stdout, logger, options);
    const [name, inline] = arg.split("=", 2);
    if (name === "--socket" || name === "--pipe") {
      const value = inline ?? args[i + 1];
      if (!value) throw new Error(`${name} needs a value`);
      const socket = name === "--socket" ? net.createConnection(Number(value), "127.0.0.1") : net.createConnection(value);
      return createStreamConnection(socket, socket, logger, options);
    }
  }
  throw new Error("no transport given (--stdio, --node-ipc, --socket=PORT or --pipe=NAME)");
}
