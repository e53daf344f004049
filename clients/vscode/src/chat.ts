import * as vscode from "vscode";
import { ProgressType, type LanguageClient } from "vscode-languageclient/node";
import { ChatRequest, type ChatParams, type ChatPartialResult, type ChatResponse } from "../../../src/server/protocol.js";

let nextToken = 0;

/**
 * Sends one `ifai/chat` request and hands each streamed piece to `onDelta` in order. The pieces
 * come as `$/progress` on a partialResultToken of our own; the final response carries the whole
 * answer, so pieces arriving out of order are held until their turn and any tail that the
 * progress stream did not deliver is handed over from the response. Cancelling `token` sends
 * `$/cancelRequest`; the server then answers with stopReason "aborted" and the text so far.
 */
export async function sendChat(
  client: LanguageClient,
  params: ChatParams,
  onDelta: (delta: string) => void,
  token?: vscode.CancellationToken,
): Promise<ChatResponse> {
  const progressToken = `ifai-chat-${process.pid}-${++nextToken}`;
  const pending = new Map<number, string>();
  let nextSeq = 0;
  let delivered = "";
  const deliver = (delta: string): void => {
    if (!delta) return;
    delivered += delta;
    onDelta(delta);
  };
  const subscription = client.onProgress(new ProgressType<ChatPartialResult>(), progressToken, (part) => {
    pending.set(part.seq, part.delta);
    while (pending.has(nextSeq)) {
      const delta = pending.get(nextSeq) ?? "";
      pending.delete(nextSeq++);
      deliver(delta);
    }
  });
  try {
    const request = { ...params, partialResultToken: progressToken };
    const response = token
      ? await client.sendRequest<ChatResponse>(ChatRequest.method, request, token)
      : await client.sendRequest<ChatResponse>(ChatRequest.method, request);
    if (response.content.startsWith(delivered)) deliver(response.content.slice(delivered.length));
    return response;
  } finally {
    subscription.dispose();
  }
}

/** A one-line summary of who answered and how fast, for the chat view and notifications. */
export function describeResponse(response: ChatResponse): string {
  const parts = [response.route.servedBy, response.model];
  const tps = response.usage.tokensPerSecond;
  if (tps !== undefined) parts.push(`${tps.toFixed(1)} tok/s`);
  parts.push(`${response.usage.completionTokens} tokens`);
  if (response.stopReason === "aborted") parts.push("stopped");
  return parts.filter(Boolean).join(" · ");
}
