import { ExecuteCommandRequest, type Connection, type ExecuteCommandParams } from "vscode-languageserver/node";
import type { Logger } from "../util/logger.js";
import { guard, InvalidParamsError } from "./guard.js";

/** Reports progress of a long command (`$/progress` on a work-done token); a no-op when the client has none. */
export interface CommandProgress {
  begin(title: string, percentage?: number, message?: string, cancellable?: boolean): void;
  report(percentage: number, message?: string): void;
  done(): void;
}

export type CommandHandler = (args: unknown[], signal: AbortSignal, progress: () => Promise<CommandProgress>) => Promise<unknown>;

export interface CommandsApi {
  add(command: string, handler: CommandHandler): void;
  /** The command names, for executeCommandProvider. */
  names(): string[];
}

/**
 * One `workspace/executeCommand` handler for the whole server (the protocol allows only one), to
 * which each concern adds its commands. Progress uses the request's workDoneToken when the client
 * sent one, else a server-created token when the client supports window.workDoneProgress.
 */
export function registerCommands(connection: Connection, logger: Logger, clientSupportsProgress: boolean): CommandsApi {
  const handlers = new Map<string, CommandHandler>();
  // onRequest rather than onExecuteCommand: the latter strips workDoneToken from the params before
  // the handler could tell whether the client sent one.
  connection.onRequest(ExecuteCommandRequest.type, (params: ExecuteCommandParams, token) => {
    const handler = handlers.get(params.command);
    const clientToken = params.workDoneToken;
    const run = guard(logger, params.command, async (p: ExecuteCommandParams, signal: AbortSignal) => {
      if (!handler) throw new InvalidParamsError(`unknown command ${p.command}; known: ${[...handlers.keys()].join(", ")}`);
      const progress = async (): Promise<CommandProgress> => {
        if (clientToken !== undefined) return connection.window.attachWorkDoneProgress(clientToken);
        if (!clientSupportsProgress) return { begin() {}, report() {}, done() {} };
        return connection.window.createWorkDoneProgress().catch(() => ({ begin() {}, report() {}, done() {} }));
      };
      return handler(p.arguments ?? [], signal, progress);
    });
    return run(params, token);
  });
  return {
    add(command, handler) {
      handlers.set(command, handler);
    },
    names: () => [...handlers.keys()],
  };
}
