import { ErrorCodes, ProgressType, ResponseError, WorkDoneProgress, type Connection, type TextDocuments } from "vscode-languageserver/node";
import type { TextDocument } from "vscode-languageserver-textdocument";
import type { Settings } from "../config/schema.js";
import { ChatInputError, ChatService, type ChatContextSource, type ChatOutput, type ChatSettings } from "../features/chat/ChatService.js";
import type { SelectionContext } from "../features/chat/chatPrompt.js";
import type { RoutedChatDeps } from "../features/chat/routedChat.js";
import { TextDeltas } from "../features/chat/TextDeltas.js";
import type { Logger } from "../util/logger.js";
import type { CommandsApi } from "./commands.js";
import { guard } from "./guard.js";
import { ChatDeltaNotification, ChatRequest, ServerCommands, type ChatParams, type ChatPartialResult, type ChatResponse } from "./protocol.js";
import type { WorkspaceApi } from "./workspace.js";

export function chatSettings(settings: Settings): ChatSettings {
  return {
    maxTokens: settings["chat.maxTokens"],
    maxTimeMs: settings["chat.maxTimeMs"],
    maxPromptTokens: settings["chat.maxPromptTokens"],
    temperature: settings["chat.temperature"],
    topP: settings["chat.topP"],
    topK: settings["chat.topK"],
    repeatPenalty: settings["chat.repeatPenalty"],
    codebaseChunks: settings["chat.codebaseChunks"],
    codebaseTokens: settings["chat.codebaseTokens"],
  };
}

export interface ChatHandlerDeps {
  connection: Connection;
  logger: Logger;
  documents: TextDocuments<TextDocument>;
  workspace: WorkspaceApi;
  commands: CommandsApi;
  routed: RoutedChatDeps;
  /** The codebase index's context builder, when there is an index. */
  context: ChatContextSource | undefined;
  settings: () => Settings;
  /** Called when a chat starts or ends, for ifai/status. */
  onActivity: () => void;
}

export interface ChatApi {
  service: ChatService;
  /** For ifai/status. */
  status(): { busy: boolean; lastServedBy?: string; lastTokensPerSecond?: number };
}

/** A selection larger than this is cut before it reaches the prompt (the budget trims further). */
const MAX_SELECTION_CHARS = 200_000;
const PARTIAL = new ProgressType<ChatPartialResult>();

/**
 * `ifai/chat` and the `ifai.chat` command. Streaming goes to `$/progress` (partial results or
 * work-done reports) when the client gave a token, else to `ifai/chatDelta` notifications.
 */
export function registerChatHandlers(deps: ChatHandlerDeps): ChatApi {
  const { connection, logger } = deps;
  const chatLogger = logger.child({ component: "chat" });
  const service = new ChatService(deps.routed, deps.context, () => chatSettings(deps.settings()), chatLogger);
  let nextId = 1;
  let running = 0;
  let last: { servedBy: string; tokensPerSecond?: number } | undefined;

  const run = async (params: ChatParams, signal: AbortSignal, viaCommand: boolean): Promise<ChatResponse | ResponseError<void>> => {
    if (!params || typeof params !== "object") return new ResponseError(ErrorCodes.InvalidParams, "ifai/chat needs { messages: [{ role, content }] }");
    const chatId = typeof params.chatId === "string" && params.chatId ? params.chatId : `chat-${nextId++}`;
    const sink = streamSink(connection, chatId, viaCommand ? {} : params);
    const deltas = new TextDeltas((delta, seq) => sink.send({ chatId, seq, delta }));
    const uri = typeof params.textDocument?.uri === "string" ? params.textDocument.uri : undefined;
    const override = params.backend === "local" || params.backend === "cloud" ? params.backend : undefined;
    running++;
    deps.onActivity();
    let output: ChatOutput;
    try {
      sink.begin();
      output = await service.chat(
        {
          messages: Array.isArray(params.messages) ? params.messages : [],
          ...(uri ? { uri } : {}),
          ...(uri && params.selection ? selectionOf(deps, uri, params.selection) : {}),
          ...(params.codebase === true ? { codebase: true } : {}),
          ...(override ? { override } : {}),
          ...(typeof params.task === "string" ? { task: params.task } : {}),
          ...(typeof params.maxTokens === "number" && params.maxTokens > 0 ? { maxTokens: params.maxTokens } : {}),
        },
        (text) => deltas.update(text),
        signal,
      );
      deltas.finish(output.content);
    } catch (error) {
      if (error instanceof ChatInputError) return new ResponseError(ErrorCodes.InvalidParams, `ifai/chat: ${error.message}`);
      throw error;
    } finally {
      sink.end();
      running--;
    }
    if (output.servedBy !== "none") last = { servedBy: output.servedBy, ...(output.usage.tokensPerSecond ? { tokensPerSecond: output.usage.tokensPerSecond } : {}) };
    deps.onActivity();
    return {
      chatId,
      content: output.content,
      stopReason: output.stopReason,
      route: {
        servedBy: output.servedBy,
        ...(output.backend ? { backend: output.backend } : {}),
        ...(output.provider ? { provider: output.provider } : {}),
        ...(output.rule ? { rule: output.rule } : {}),
        reasons: output.reasons,
      },
      model: output.model,
      sources: output.sources.map((s) => ({ uri: s.uri, path: s.path, range: s.range, score: s.score, ...(s.symbol ? { symbol: s.symbol } : {}) })),
      usage: output.usage,
      notices: output.notices,
    };
  };

  connection.onRequest(ChatRequest.method, guard(chatLogger, ChatRequest.method, (params: ChatParams, signal: AbortSignal) => run(params, signal, false)));
  deps.commands.add(ServerCommands.chat, async (args, signal) => {
    // A ResponseError is answered as it is (InvalidParams for a malformed chat stays InvalidParams).
    return run(args[0] as ChatParams, signal, true);
  });

  return {
    service,
    status: () => ({ busy: running > 0, ...(last ? { lastServedBy: last.servedBy, ...(last.tokensPerSecond ? { lastTokensPerSecond: last.tokensPerSecond } : {}) } : {}) }),
  };
}

interface Sink {
  begin(): void;
  send(part: ChatPartialResult): void;
  end(): void;
}

/** Where the deltas of one answer go: partial results, work-done reports, or ifai/chatDelta. */
function streamSink(connection: Connection, chatId: string, tokens: Pick<ChatParams, "partialResultToken" | "workDoneToken">): Sink {
  const { partialResultToken, workDoneToken } = tokens;
  if (partialResultToken !== undefined) {
    return {
      begin() {},
      send: (part) => void connection.sendProgress(PARTIAL, partialResultToken, part),
      end() {},
    };
  }
  if (workDoneToken !== undefined) {
    return {
      begin: () => void connection.sendProgress(WorkDoneProgress.type, workDoneToken, { kind: "begin", title: "ifai chat", cancellable: true, message: chatId }),
      send: (part) => void connection.sendProgress(WorkDoneProgress.type, workDoneToken, { kind: "report", message: part.delta, ...part } as never),
      end: () => void connection.sendProgress(WorkDoneProgress.type, workDoneToken, { kind: "end" }),
    };
  }
  return {
    begin() {},
    send: (part) => void connection.sendNotification(ChatDeltaNotification.method, part),
    end() {},
  };
}

function selectionOf(deps: ChatHandlerDeps, uri: string, selection: NonNullable<ChatParams["selection"]>): { selection?: SelectionContext } {
  const document = deps.documents.get(uri);
  if (!document || !selection.start || !selection.end) return {};
  const start = document.offsetAt(selection.start);
  const end = document.offsetAt(selection.end);
  if (end <= start) return {};
  const text = document.getText().slice(start, Math.min(end, start + MAX_SELECTION_CHARS));
  const startLine = document.positionAt(start).line;
  const endPosition = document.positionAt(start + text.length);
  // A selection that ends at the start of a line (a whole-line selection) does not include that line.
  const endLine = endPosition.character === 0 && endPosition.line > startLine ? endPosition.line - 1 : endPosition.line;
  return {
    selection: {
      path: deps.workspace.locate(uri).relativePath,
      language: document.languageId,
      startLine,
      endLine,
      text,
    },
  };
}
