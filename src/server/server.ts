import { slotDocument } from "../inference/types.js";
import {
  ErrorCodes,
  ResponseError,
  TextDocumentSyncKind,
  type InitializeError,
  type Connection,
  type InitializeParams,
  type InitializeResult,
  type ServerCapabilities,
} from "vscode-languageserver/node";
import type { Settings } from "../config/schema.js";
import { CompletionService, type CompletionSettings } from "../features/completion/CompletionService.js";
import { createLogger, type Logger } from "../util/logger.js";
import { VERSION } from "../version.js";
import { COMPLETION_TRIGGER_CHARACTERS, completionRequestFor, registerCompletionHandlers } from "./completionHandlers.js";
import { registerCompletionPrefill } from "./completionPrefill.js";
import { registerActionHandlers } from "./actionHandlers.js";
import { registerChatHandlers } from "./chatHandlers.js";
import { registerCommands } from "./commands.js";
import { registerControlCommands } from "./controlCommands.js";
import { indexChatContext } from "../features/chat/indexContext.js";
import { registerEngine, type EngineApi } from "./engine.js";
import { registerIndexHandlers, type IndexApi } from "./indexHandlers.js";
import { createDocuments } from "./documents.js";
import { guard } from "./guard.js";
import {
  CompletionMetricsRequest,
  StatusNotification,
  type CompletionMetricsParams,
  type CompletionMetricsResult,
  type StatusParams,
} from "./protocol.js";
import { registerModelHandlers } from "./modelHandlers.js";
import { registerNextEditHandlers, type NextEditApi } from "./nextEditHandlers.js";
import { registerFeedbackHandlers, type FeedbackApi } from "./feedbackHandlers.js";
import { registerRouter } from "./routerHandlers.js";
import { registerSettings } from "./settings.js";
import { registerWorkspace } from "./workspace.js";
import { memorySnapshot } from "./memory.js";

export function completionSettings(settings: Settings): CompletionSettings {
  return {
    enabled: settings["completion.enabled"],
    debounceMs: settings["completion.debounceMs"],
    maxPrefixTokens: settings["completion.maxPrefixTokens"],
    maxSuffixTokens: settings["completion.maxSuffixTokens"],
    maxSnippetTokens: settings["completion.maxSnippetTokens"],
    maxTokens: settings["completion.maxTokens"],
    maxMultilineTokens: settings["completion.maxMultilineTokens"],
    maxTimeMs: settings["completion.maxTimeMs"],
    temperature: settings["completion.temperature"],
    cacheSize: settings["completion.cacheSize"],
    prefill: settings["completion.prefill"],
    firstPrefixTokens: settings["completion.firstPrefixTokens"],
    middleLines: settings["completion.middleLines"],
  };
}

/**
 * Composes the server: every piece registers its handlers and returns a small API; this function
 * only wires them together and answers `initialize` with the capabilities they add up to.
 */
export function startServer(connection: Connection, bootstrapLogger: Logger): void {
  let engine: EngineApi | undefined;
  let index: IndexApi | undefined;
  let logger = bootstrapLogger;
  let nextEdit: NextEditApi | undefined;
  let feedback: FeedbackApi | undefined;
  // Every applied change feeds the next-edit history (and cancels a suggestion in flight).
  const documents = createDocuments(() => logger, (change) => nextEdit?.onChange(change));

  const setup = (params: InitializeParams): InitializeResult => {
    const caps = params.capabilities;
    const settingsApi = registerSettings(connection, bootstrapLogger, params.initializationOptions, {
      configuration: caps.workspace?.configuration === true,
      dynamicConfigurationRegistration: caps.workspace?.didChangeConfiguration?.dynamicRegistration === true,
    });
    const settings = settingsApi.current();
    if (settings["log.file"] || settings["log.level"] !== "info") {
      logger = createLogger({ level: settings["log.level"], file: settings["log.file"] });
    }
    logger.info({ client: params.clientInfo, version: VERSION, pid: process.pid }, "initialize");

    const workspace = registerWorkspace(params);
    const inlineSetting = settings["completion.inline"];
    const inline = inlineSetting === "on" || (inlineSetting === "auto" && caps.textDocument?.inlineCompletion !== undefined);

    // Status fields of pieces registered later (router preference, index, chat).
    let moreStatus: () => Partial<StatusParams> = () => ({});
    const sendStatus = (): void => {
      if (!engine) return;
      const model = engine.model.status();
      const current = settingsApi.current();
      const status: StatusParams = {
        model: {
          state: model.state,
          path: model.modelPath,
          ...(model.message ? { message: model.message } : {}),
          ...(model.gpu ? { gpu: model.gpu } : {}),
          ...(model.threads ? { threads: model.threads } : {}),
          ...(model.lastTokensPerSecond ? { lastTokensPerSecond: model.lastTokensPerSecond } : {}),
        },
        completion: { enabled: current["completion.enabled"], inline },
        ...moreStatus(),
      };
      void connection.sendNotification(StatusNotification.method, status);
    };
    engine = registerEngine(connection, logger, settings, sendStatus, `${params.clientInfo?.name ?? "editor"} (pid ${process.pid})`);
    const routing = registerRouter(connection, logger, settings, engine.backend, workspace);
    index = registerIndexHandlers({ connection, logger, documents, workspace, settings: () => settingsApi.current(), capabilities: caps });
    const service = new CompletionService(routing.backend, completionSettings(settings), logger.child({ component: "completion" }), index.snippetSource);
    index.attach(service);
    const prefill = registerCompletionPrefill({
      connection,
      logger,
      documents,
      service,
      toRequest: (document, offset) => completionRequestFor({ documents, workspace }, document, offset, "automatic"),
      onFocus: () => engine?.focus(),
    });
    const commands = registerCommands(connection, logger, caps.window?.workDoneProgress === true);
    feedback = registerFeedbackHandlers({ connection, logger, commands, settings: () => settingsApi.current(), onQuietChange: () => sendStatus() });
    registerCompletionHandlers({
      connection,
      logger,
      documents,
      workspace,
      service,
      feedback,
      inline,
      items: () => settingsApi.current()["completion.items"],
      onRequest: (document, offset) => prefill.noteRequest(document, offset),
    });
    documents.onDidClose((event) => service.forgetDocument(event.document.uri));
    const models = registerModelHandlers({ commands, logger, settings: () => settingsApi.current(), unloadModel: async () => engine?.model.unload() });
    const indexService = index.service;
    const actions = registerActionHandlers({
      connection,
      logger,
      documents,
      commands,
      capabilities: caps,
      settings: () => settingsApi.current(),
      router: routing.router,
      cloud: routing.cloud,
      localChat: engine.chat,
      context: (p) => indexService.buildContext(p),
      onCloudProblem: (error) => routing.reportCloudProblem(error),
    });
    const chat = registerChatHandlers({
      connection,
      logger,
      documents,
      workspace,
      commands,
      routed: { router: routing.router, local: engine.chat, cloud: routing.cloud, onCloudProblem: (error) => routing.reportCloudProblem(error) },
      context: indexChatContext(indexService),
      settings: () => settingsApi.current(),
      onActivity: sendStatus,
    });
    nextEdit = registerNextEditHandlers({
      connection,
      logger,
      documents,
      workspace,
      feedback,
      local: engine.nextEdit,
      routing,
      settings: () => settingsApi.current(),
    });
    registerControlCommands({ commands, model: engine.model, engineInfo: () => engine?.info(), routing, index: () => index, pull: models.pull, onChange: sendStatus });
    moreStatus = () => {
      const st = indexService.status();
      return {
        backend: { preference: routing.router.settings().preference, source: routing.preferenceSource(), localOnly: routing.router.settings().localOnly },
        index: { state: st.state, mode: st.mode, chunks: st.folders.reduce((n, f) => n + f.chunks, 0) },
        chat: chat.status(),
        ...(feedback ? { feedback: feedback.status() } : {}),
      };
    };
    // Index progress ticks often; a status line needs only its state and mode changes.
    let indexShown = "";
    indexService.onChange(() => {
      const st = indexService.status();
      const key = `${st.state}:${st.mode}`;
      if (key === indexShown) return;
      indexShown = key;
      sendStatus();
    });

    connection.onRequest(
      CompletionMetricsRequest.method,
      guard(logger, CompletionMetricsRequest.method, (p: CompletionMetricsParams | undefined): CompletionMetricsResult => {
        const records = service.recentMetrics();
        const last = p?.last;
        const memory = memorySnapshot();
        const prefills = service.recentPrefillRecords();
        return {
          records: last && last > 0 ? records.slice(-last) : records,
          prefills: last && last > 0 ? prefills.slice(-last) : prefills,
          // A document's short first prompt (its first-lane slot) is that document too.
          warmDocuments: [...new Set((engine?.warmSlots() ?? []).map(slotDocument))],
          rss: memory.rss,
          memory,
        };
      }),
    );

    settingsApi.onChange(async (next, previous) => {
      if (next["log.level"] !== previous["log.level"] && !process.env.IFAI_LOG_LEVEL) logger.level = next["log.level"];
      service.updateSettings(completionSettings(next));
      routing.configure(next);
      nextEdit?.configure(next);
      feedback?.configure(next);
      await engine?.configure(next);
      await index?.configure(next);
      sendStatus();
    });
    connection.onInitialized(() => {
      void settingsApi.initialized().then(
        () => {
          sendStatus();
          index?.initialized();
        },
        (error: unknown) => logger.warn({ err: error }, "initialized step failed"),
      );
    });

    const capabilities: ServerCapabilities = {
      textDocumentSync: { openClose: true, change: TextDocumentSyncKind.Incremental },
      completionProvider: { triggerCharacters: COMPLETION_TRIGGER_CHARACTERS, resolveProvider: false },
      ...(inline ? { inlineCompletionProvider: {} } : {}),
      executeCommandProvider: { commands: commands.names() },
      ...index.capabilities,
      ...actions.capabilities,
    };
    return { capabilities, serverInfo: { name: "ifai-lsp", version: VERSION } };
  };

  // Setup registers handlers one concern at a time and cannot be undone half-way, so it runs
  // once: a failure is the answer to initialize (the client sees why, and later requests get
  // ServerNotInitialized from the message gate), never a half-registered server that answers
  // "Unhandled method" to everything.
  let setupAttempted = false;
  connection.onInitialize((params: InitializeParams): InitializeResult | ResponseError<InitializeError> => {
    if (setupAttempted) return new ResponseError(ErrorCodes.InvalidRequest, "initialize was already attempted; restart the server", { retry: false });
    setupAttempted = true;
    try {
      return setup(params);
    } catch (error) {
      logger.error({ err: error }, "initialize failed");
      const message = error instanceof Error ? error.message : String(error);
      return new ResponseError(ErrorCodes.InternalError, `initialize failed: ${message}; restart the server`, { retry: false });
    }
  });

  connection.onShutdown(async () => {
    logger.info("shutdown");
    feedback?.dispose();
    await index?.dispose();
    await engine?.dispose();
  });

  documents.listen(connection);
  connection.listen();
}
