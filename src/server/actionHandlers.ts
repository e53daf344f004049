import fs from "node:fs/promises";
import { fileURLToPath } from "node:url";
import {
  CodeActionRequest,
  CodeActionResolveRequest,
  MessageType,
  type ClientCapabilities,
  type CodeAction,
  type CodeActionParams,
  type Connection,
  type ServerCapabilities,
  type TextDocuments,
  type TextEdit,
  type WorkspaceEdit,
} from "vscode-languageserver/node";
import type { TextDocument } from "vscode-languageserver-textdocument";
import type { Settings } from "../config/schema.js";
import { ActionService, type ProgressReport } from "../features/actions/ActionService.js";
import { ActionResults, actionKey } from "../features/actions/ActionResults.js";
import { CODE_ACTION_KINDS, listActions } from "../features/actions/catalog.js";
import type { ActionOutcome, ActionSettings, ActionTarget, ContextBuilder, FileChange, ProjectFiles, RoutedChat } from "../features/actions/types.js";
import { routedChat } from "../features/chat/routedChat.js";
import type { CloudError } from "../inference/cloud/errors.js";
import type { CloudRegistry } from "../inference/cloud/CloudRegistry.js";
import type { Router } from "../inference/router/Router.js";
import type { ChatBackend } from "../inference/types.js";
import type { Logger } from "../util/logger.js";
import type { CommandsApi, CommandProgress } from "./commands.js";
import { guard, InvalidParamsError } from "./guard.js";
import { TextDeltas } from "../features/chat/TextDeltas.js";
import { ActionCommands, ChatDeltaNotification, type ChatDeltaParams, type CodeActionData, type CodeActionRunResult } from "./protocol.js";

export function actionSettings(settings: Settings): ActionSettings {
  return {
    maxTokens: settings["actions.maxTokens"],
    maxTimeMs: settings["actions.maxTimeMs"],
    temperature: settings["actions.temperature"],
    contextTokens: settings["actions.contextTokens"],
    cloudRetry: settings["actions.cloudRetry"],
  };
}

export interface ActionHandlerDeps {
  connection: Connection;
  logger: Logger;
  documents: TextDocuments<TextDocument>;
  commands: CommandsApi;
  capabilities: ClientCapabilities;
  settings: () => Settings;
  router: Router;
  cloud: Pick<CloudRegistry, "client">;
  /** The local chat backend (its own context on the local model). */
  localChat: ChatBackend;
  /** The index's context builder; absent or failing: no related code. */
  context?: ContextBuilder;
  onCloudProblem?: (error: CloudError) => void;
}

/** Characters per token for the router's estimate of a prompt (code averages 3–4). */
const CHARS_PER_TOKEN = 3;

/**
 * The AI code actions over LSP: `textDocument/codeAction` (instant list), `codeAction/resolve`
 * (the edit, with work-done progress and cancellation), and the `ifai.codeAction` command for
 * clients without resolve support, which applies its edit through `workspace/applyEdit`. Files
 * change only through edits the client applies.
 */
export function registerActionHandlers(deps: ActionHandlerDeps): { capabilities: ServerCapabilities } {
  const { connection, documents, capabilities: caps } = deps;
  const logger = deps.logger.child({ component: "actions" });
  const resolveProperties = caps.textDocument?.codeAction?.resolveSupport?.properties ?? [];
  const canResolve = resolveProperties.includes("edit");
  const progressSupported = caps.window?.workDoneProgress === true;
  const disabledSupport = caps.textDocument?.codeAction?.disabledSupport === true;
  const documentChanges = caps.workspace?.workspaceEdit?.documentChanges === true;
  const canCreate = (caps.workspace?.workspaceEdit?.resourceOperations ?? []).includes("create");

  const chat: RoutedChat = async (request, signal) => {
    const contextTokens = Math.ceil(request.messages.reduce((n, m) => n + m.content.length, 0) / CHARS_PER_TOKEN);
    const answer = await routedChat(
      { router: deps.router, local: deps.localChat, cloud: deps.cloud, ...(deps.onCloudProblem ? { onCloudProblem: deps.onCloudProblem } : {}) },
      { task: request.task, messages: request.messages, contextTokens, ...(request.override ? { override: request.override } : {}), ...(request.uri ? { uri: request.uri } : {}), sources: request.sources },
      { maxTokens: request.maxTokens, maxTimeMs: request.maxTimeMs, temperature: request.temperature, ...(request.onText ? { onText: request.onText } : {}) },
      signal,
    );
    if (answer.result.stopReason === "aborted" || signal.aborted) return undefined;
    return { text: answer.result.text, stopReason: answer.result.stopReason, servedBy: answer.servedBy, reason: answer.reason, ...(answer.model ? { model: answer.model } : {}) };
  };

  const files: ProjectFiles = {
    async read(filePath) {
      const open = documents.all().find((d) => d.uri.startsWith("file:") && safePath(d.uri) === filePath);
      if (open) return open.getText();
      return fs.readFile(filePath, "utf8").catch(() => undefined);
    },
    async exists(filePath) {
      if (documents.all().some((d) => d.uri.startsWith("file:") && safePath(d.uri) === filePath)) return true;
      return fs.stat(filePath).then(
        () => true,
        () => false,
      );
    },
    list: (dir) => fs.readdir(dir).catch(() => []),
  };

  const service = new ActionService({
    chat,
    // Never against an explicit local choice, local-only mode, or a file that must stay local.
    cloudAllowed: (task, uri, sources) => deps.router.preferenceFor(task).preference !== "local" && !deps.router.cloudBlocked({ task, uri, sources }),
    ...(deps.context ? { context: deps.context } : {}),
    files,
    settings: () => actionSettings(deps.settings()),
    logger,
  });

  const target = (data: CodeActionData): ActionTarget | undefined => {
    const doc = documents.get(data.uri);
    if (!doc) return undefined;
    const filePath = safePath(data.uri);
    return { uri: data.uri, ...(filePath ? { filePath } : {}), languageId: doc.languageId, text: doc.getText(), range: data.range, ...(data.diagnostic ? { diagnostic: data.diagnostic } : {}) };
  };

  const message = (type: MessageType, text: string): void => {
    void connection.sendNotification("window/showMessage", { type, message: `ifai: ${text}` });
  };

  /** Work-done progress on a server-created token, when the client supports it; its cancel aborts the run. */
  const withProgress = async <T>(title: string, signal: AbortSignal, work: (signal: AbortSignal, report: ProgressReport) => Promise<T>): Promise<T> => {
    if (!progressSupported) return work(signal, () => undefined);
    const reporter = await connection.window.createWorkDoneProgress().catch(() => undefined);
    if (!reporter) return work(signal, () => undefined);
    const controller = new AbortController();
    const sub = reporter.token.onCancellationRequested(() => controller.abort(new Error("cancelled from the progress")));
    reporter.begin(title, undefined, "starting", true);
    try {
      return await work(AbortSignal.any([signal, controller.signal]), (m) => reporter.report(m));
    } finally {
      sub.dispose();
      reporter.done();
    }
  };

  const toWorkspaceEdit = (changes: readonly FileChange[]): WorkspaceEdit => {
    const edits = (c: FileChange): TextEdit[] => c.changes.map((ch) => ({ range: ch.range, newText: ch.newText }));
    if (documentChanges) {
      const out: NonNullable<WorkspaceEdit["documentChanges"]> = [];
      for (const c of changes) {
        if (c.create && canCreate) out.push({ kind: "create", uri: c.uri, options: { ignoreIfExists: true } });
        out.push({ textDocument: { uri: c.uri, version: documents.get(c.uri)?.version ?? null }, edits: edits(c) });
      }
      return { documentChanges: out };
    }
    return { changes: Object.fromEntries(changes.map((c) => [c.uri, edits(c)])) };
  };

  /** Tells the user what they must know about an outcome: a refusal, an assumed default. */
  const report = (outcome: ActionOutcome): void => {
    if (outcome.refused && outcome.message && outcome.message !== "cancelled") message(MessageType.Warning, outcome.message);
    else if (!outcome.refused && outcome.message) message(MessageType.Info, outcome.message);
  };

  // Outcomes per document version: a refused action resolved again (eglot 1.17 does so until it
  // gets an edit or a command), an action picked twice, or identical requests at once cost one
  // model or cloud call. Settings and router preferences are part of what an outcome depends on.
  const results = new ActionResults();
  let resultsFor: Settings | undefined;
  const ACTION_TASKS = ["simpleRefactor", "deepRefactor", "docs", "unitTests", "fix"] as const;

  const compute = (data: CodeActionData, signal: AbortSignal, report: ProgressReport, onText?: (textSoFar: string) => void): Promise<ActionOutcome> => {
    const t = target(data);
    if (!t) return Promise.resolve({ refused: true, message: `${data.uri} is not open in the editor` });
    // Explain streams its answer to the one request that asked; it is not an edit to keep.
    if (data.kind === "explain") return service.run(data.kind, t, signal, report, onText);
    const current = deps.settings();
    if (current !== resultsFor) {
      results.clear();
      resultsFor = current;
    }
    const key = actionKey({
      uri: t.uri,
      version: documents.get(data.uri)!.version,
      text: t.text,
      kind: data.kind,
      range: t.range,
      ...(t.diagnostic ? { diagnostic: t.diagnostic } : {}),
      route: ACTION_TASKS.map((task) => deps.router.preferenceFor(task).preference).join(","),
    });
    return results.run(key, signal, report, (s, r) => service.run(data.kind, t, s, r, onText));
  };
  let explains = 0;

  connection.onRequest(
    CodeActionRequest.type,
    guard(logger, CodeActionRequest.method, (params: CodeActionParams): CodeAction[] => {
      if (!deps.settings()["actions.enabled"]) return [];
      if (!documents.get(params.textDocument.uri)) return [];
      const { range } = params;
      const hasSelection = range.start.line !== range.end.line || range.start.character !== range.end.character;
      const lspDiagnostics = params.context.diagnostics ?? [];
      const plain = lspDiagnostics.map((d) => ({ message: typeof d.message === "string" ? d.message : d.message.value, range: d.range }));
      const offers = listActions({ hasSelection, diagnostics: plain, ...(params.context.only ? { only: params.context.only } : {}) });
      return offers.map((offer) => {
        const data: CodeActionData = {
          ifai: "action",
          kind: offer.kind,
          uri: params.textDocument.uri,
          range,
          ...(offer.diagnostic ? { diagnostic: { message: offer.diagnostic.message, range: offer.diagnostic.range } } : {}),
        };
        const action: CodeAction = { title: offer.title, kind: offer.codeActionKind, data };
        const original = offer.diagnostic ? lspDiagnostics[plain.indexOf(offer.diagnostic)] : undefined;
        if (original) action.diagnostics = [original];
        // Explain has no edit; without resolve support every action is a command that applies its own edit.
        if (offer.kind === "explain" || !canResolve) action.command = { title: offer.title, command: ActionCommands.run, arguments: [data] };
        return action;
      });
    }),
  );

  connection.onRequest(
    CodeActionResolveRequest.type,
    guard(logger, CodeActionResolveRequest.method, async (action: CodeAction, signal: AbortSignal): Promise<CodeAction> => {
      const data = action.data as CodeActionData | undefined;
      if (!isActionData(data) || data.kind === "explain" || action.edit) return action;
      const outcome = await withProgress(`ifai: ${action.title.replace(/^AI: /, "")}`, signal, (s, r) => compute(data, s, r));
      report(outcome);
      logger.info({ kind: data.kind, servedBy: outcome.servedBy, refused: outcome.refused ?? false, reason: outcome.reason }, "code action resolved");
      if (outcome.edit) return { ...action, edit: toWorkspaceEdit(outcome.edit) };
      return refusedAction(action, outcome.message ?? "nothing was changed", disabledSupport);
    }),
  );

  deps.commands.add(ActionCommands.run, async (args, signal, progress): Promise<CodeActionRunResult> => {
    const data = args[0] as CodeActionData | undefined;
    if (!isActionData(data)) throw new InvalidParamsError(`${ActionCommands.run} expects [CodeActionData] as its argument`);
    const reporter: CommandProgress = await progress();
    reporter.begin(`ifai: ${data.kind}`, undefined, "starting", true);
    // Explain streams its answer like a chat, for clients that show ifai/chatDelta as it comes.
    const chatId = data.kind === "explain" ? `explain-${++explains}` : undefined;
    const deltas = chatId ? new TextDeltas((delta, seq) => void connection.sendNotification(ChatDeltaNotification.method, { chatId, seq, delta } satisfies ChatDeltaParams)) : undefined;
    let outcome: ActionOutcome;
    try {
      outcome = await compute(data, signal, (m) => reporter.report(0, m), deltas ? (t) => deltas.update(t) : undefined);
    } finally {
      reporter.done();
    }
    const meta = { ...(outcome.servedBy ? { servedBy: outcome.servedBy } : {}), ...(outcome.reason ? { reason: outcome.reason } : {}) };
    if (outcome.explanation !== undefined) {
      deltas?.finish(outcome.explanation);
      message(MessageType.Info, outcome.explanation);
      return { status: "explained", explanation: outcome.explanation, ...(chatId ? { chatId } : {}), ...meta };
    }
    report(outcome);
    if (!outcome.edit) return { status: outcome.message === "cancelled" ? "cancelled" : "refused", ...(outcome.message ? { message: outcome.message } : {}), ...meta };
    const applied = await connection.workspace.applyEdit({ label: data.kind, edit: toWorkspaceEdit(outcome.edit) });
    // A client that answers applyEdit with nothing has not applied it.
    const ok = applied?.applied === true;
    const failure = applied?.failureReason;
    return { status: ok ? "applied" : "rejected", ...(outcome.message ? { message: outcome.message } : failure ? { message: failure } : {}), ...meta };
  });

  return {
    capabilities: {
      codeActionProvider: { codeActionKinds: [...new Set(Object.values(CODE_ACTION_KINDS))], resolveProvider: canResolve },
    },
  };
}

const KINDS = new Set(Object.keys(CODE_ACTION_KINDS));

/**
 * A resolved action that does nothing and cannot be resolved again: no edit, no command, no data.
 * eglot 1.17 resolves an action that has data but neither edit nor command again, without end;
 * with no data it stops. `disabled` (the reason) goes only to clients that advertise
 * `disabledSupport` (VS Code): eglot 1.17 rejects a CodeAction with a key its interface lacks, and
 * Neovim 0.7 ignores it. Every client gets the reason as window/showMessage with each refusal.
 */
function refusedAction(action: CodeAction, reason: string, disabledSupport: boolean): CodeAction {
  const { data: _data, edit: _edit, command: _command, disabled: _disabled, ...rest } = action;
  return disabledSupport ? { ...rest, disabled: { reason } } : rest;
}
const isPosition = (p: unknown): boolean => typeof p === "object" && p !== null && Number.isInteger((p as { line: unknown }).line) && Number.isInteger((p as { character: unknown }).character);

/** Data from the client (it round-trips through the editor): checked before it is used. */
function isActionData(data: unknown): data is CodeActionData {
  const d = data as CodeActionData | undefined;
  return d?.ifai === "action" && KINDS.has(d.kind) && typeof d.uri === "string" && isPosition(d.range?.start) && isPosition(d.range?.end);
}

function safePath(uri: string): string | undefined {
  if (!uri.startsWith("file:")) return undefined;
  try {
    return fileURLToPath(uri);
  } catch {
    return undefined;
  }
}
