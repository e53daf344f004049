import { ErrorCodes, LSPErrorCodes, ResponseError, type CancellationToken } from "vscode-languageserver/node";
import type { Logger } from "../util/logger.js";
import { ModelUnavailableError, ModelUnloadedError } from "../inference/types.js";

/**
 * Thrown by a handler whose params or command arguments are the wrong shape: the answer is
 * InvalidParams (the client's mistake, with the reason), not InternalError (ours).
 */
export class InvalidParamsError extends Error {}

/**
 * Thrown by a handler whose params were well formed but whose request cannot be carried out
 * for a reason the user can act on (an unknown model id, a path outside the model folder, a
 * download refused in local-only mode): RequestFailed with the reason, not InternalError.
 */
export class RequestFailedError extends Error {}

/**
 * Wraps a request handler so that one failing request cannot take the server down: an exception
 * becomes a JSON-RPC error answer for that request alone, with a log line. The LSP cancellation
 * token becomes an AbortSignal, the only cancellation type code outside src/server sees.
 */
export function guard<P, R>(
  logger: Logger,
  method: string,
  handler: (params: P, signal: AbortSignal) => Promise<R> | R,
): (params: P, token: CancellationToken) => Promise<R | ResponseError<void>> {
  return async (rawParams, rawToken) => {
    // vscode-jsonrpc passes the cancellation token as the first argument of a request sent
    // without params; put it back where it belongs.
    const tokenFirst = rawToken === undefined && isCancellationToken(rawParams);
    const params = (tokenFirst ? undefined : rawParams) as P;
    const token = (tokenFirst ? rawParams : rawToken) as CancellationToken;
    const controller = new AbortController();
    const subscription = token.onCancellationRequested(() => controller.abort(new Error("cancelled by the client")));
    if (token.isCancellationRequested) controller.abort(new Error("cancelled by the client"));
    try {
      return await handler(params, controller.signal);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      // The client cancelled it, and the handler gave up: the spec's answer is RequestCancelled.
      if (token.isCancellationRequested) {
        logger.debug({ method }, `cancelled by the client: ${message}`);
        return new ResponseError(LSPErrorCodes.RequestCancelled, `${method} was cancelled`);
      }
      if (error instanceof InvalidParamsError) {
        logger.warn({ method }, `invalid params: ${message}`);
        return new ResponseError(ErrorCodes.InvalidParams, message);
      }
      // The model was unloaded under the request (ifai.unloadModel, a settings change): the
      // server cancelled it, and the client may simply ask again.
      if (error instanceof ModelUnloadedError) {
        logger.info({ method }, message);
        return new ResponseError(LSPErrorCodes.ServerCancelled, message);
      }
      if (error instanceof RequestFailedError || error instanceof ModelUnavailableError) {
        logger.warn({ method }, `request refused: ${message}`);
        return new ResponseError(LSPErrorCodes.RequestFailed, message);
      }
      logger.error({ err: error, method }, "request failed");
      return new ResponseError(ErrorCodes.InternalError, `${method} failed: ${message}`);
    } finally {
      subscription.dispose();
    }
  };
}

function isCancellationToken(value: unknown): boolean {
  return typeof value === "object" && value !== null && "isCancellationRequested" in value && "onCancellationRequested" in value;
}

/** The same for notifications: errors are logged, never thrown into the connection. */
export function guardNotification<P>(logger: Logger, method: string, handler: (params: P) => Promise<void> | void): (params: P) => void {
  return (params) => {
    try {
      const result = handler(params);
      if (result instanceof Promise) result.catch((error: unknown) => logger.error({ err: error, method }, "notification handler failed"));
    } catch (error) {
      logger.error({ err: error, method }, "notification handler failed");
    }
  };
}
