import * as vscode from "vscode";
import type { LanguageClient } from "vscode-languageclient/node";
import {
  IndexStatusRequest,
  RouteLogRequest,
  ServerCommands,
  type ExplainRouteResult,
  type IndexStatusResult,
  type ModelStatusResult,
  type RouteLogResult,
} from "../../../src/server/protocol.js";
import { ChatViewProvider } from "./chatView.js";
import type { NextEditController } from "./nextEdit.js";
import { listModels, pullModel, removeModel, serverCommand, setModelLoaded } from "./models.js";
import { pickBackend, type StatusBar } from "./statusBar.js";

/**
 * The extension's own command ids. They use the `ifai-lsp.` prefix because the language client
 * registers the server's `ifai.*` commands (executeCommandProvider) under their own names.
 */
export const Commands = {
  openChat: "ifai-lsp.openChat",
  askAboutSelection: "ifai-lsp.askAboutSelection",
  newChat: "ifai-lsp.newChat",
  switchBackend: "ifai-lsp.switchBackend",
  showStatus: "ifai-lsp.showStatus",
  modelsList: "ifai-lsp.models.list",
  modelsPull: "ifai-lsp.models.pull",
  modelsRemove: "ifai-lsp.models.remove",
  loadModel: "ifai-lsp.loadModel",
  unloadModel: "ifai-lsp.unloadModel",
  reindex: "ifai-lsp.reindex",
  showRouteLog: "ifai-lsp.showRouteLog",
  explainRoute: "ifai-lsp.explainRoute",
  restartServer: "ifai-lsp.restartServer",
  showOutput: "ifai-lsp.showOutput",
  nextEditRequest: "ifai-lsp.nextEdit.request",
  nextEditJump: "ifai-lsp.nextEdit.jump",
  nextEditAccept: "ifai-lsp.nextEdit.accept",
  nextEditDismiss: "ifai-lsp.nextEdit.dismiss",
} as const;

export interface CommandContext {
  client: LanguageClient;
  statusBar: StatusBar;
  chatView: ChatViewProvider;
  output: vscode.OutputChannel;
  nextEdit: NextEditController;
  restart(): Promise<void>;
}

const ROUTER_TASKS = ["chat", "explain", "completion", "simpleRefactor", "unitTests", "fix", "docs", "architecture", "deepRefactor"];

/** Shows a JSON report in a read-only-looking untitled editor beside the current one. */
async function showReport(value: unknown): Promise<void> {
  const doc = await vscode.workspace.openTextDocument({ language: "json", content: `${JSON.stringify(value, null, 2)}\n` });
  await vscode.window.showTextDocument(doc, { preview: true, viewColumn: vscode.ViewColumn.Beside });
}

/** Wraps a command so that a failure reaches the user instead of vanishing in a rejected promise. */
function guarded(ctx: CommandContext, name: string, run: (...args: unknown[]) => Promise<unknown>): (...args: unknown[]) => Promise<unknown> {
  return async (...args) => {
    try {
      return await run(...args);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      ctx.output.appendLine(`[${name}] ${message}`);
      void vscode.window.showErrorMessage(`ifai: ${name} failed: ${message}`, "Show Output").then((a) => a && ctx.output.show());
    }
  };
}

export function registerCommands(ctx: CommandContext): vscode.Disposable[] {
  const { client } = ctx;
  const handlers: Record<string, (...args: unknown[]) => Promise<unknown>> = {
    [Commands.openChat]: async () => vscode.commands.executeCommand(`${ChatViewProvider.viewId}.focus`),
    [Commands.newChat]: async () => ctx.chatView.clear(),
    [Commands.askAboutSelection]: async () => {
      const editor = vscode.window.activeTextEditor;
      if (!editor) return;
      const question = await vscode.window.showInputBox({ title: "ifai: ask about the selection", value: "Explain this code.", prompt: "The selected code goes with the question." });
      if (!question) return;
      const { start, end } = editor.selection;
      await ctx.chatView.askFromCommand(question, {
        textDocument: { uri: editor.document.uri.toString() },
        selection: { start: { line: start.line, character: start.character }, end: { line: end.line, character: end.character } },
      });
    },
    [Commands.switchBackend]: async () => {
      const result = await pickBackend(client, ctx.statusBar.status()?.backend?.preference);
      if (result) void vscode.window.showInformationMessage(`ifai: backend ${result.previous} → ${result.preference}. ${result.summary.join(" ")}`);
    },
    [Commands.showStatus]: async () => {
      const [model, index] = await Promise.all([
        serverCommand<ModelStatusResult>(client, ServerCommands.modelStatus),
        client.sendRequest<IndexStatusResult>(IndexStatusRequest.method, {}),
      ]);
      const backend = ctx.statusBar.status()?.backend;
      const summary = `model ${model.state}${model.gpu ? ` (${model.gpu})` : ""} · index ${index.state} (${index.mode}) · backend ${backend?.preference ?? "auto"}`;
      const answer = await vscode.window.showInformationMessage(`ifai: ${summary}`, "Details");
      if (answer) await showReport({ model, index, backend, status: ctx.statusBar.status() });
    },
    [Commands.modelsList]: () => listModels(client),
    [Commands.modelsPull]: (id) => pullModel(client, typeof id === "string" ? id : undefined),
    [Commands.modelsRemove]: (id) => removeModel(client, typeof id === "string" ? id : undefined),
    [Commands.loadModel]: () => setModelLoaded(client, true),
    [Commands.unloadModel]: () => setModelLoaded(client, false),
    [Commands.reindex]: async () => {
      const result = await serverCommand<IndexStatusResult>(client, ServerCommands.reindex);
      void vscode.window.showInformationMessage(`ifai: reindexing (${result.state}, ${result.mode}, ${result.folders.length} folder(s)).`);
    },
    [Commands.showRouteLog]: async () => showReport(await client.sendRequest<RouteLogResult>(RouteLogRequest.method, {})),
    [Commands.explainRoute]: async () => {
      const task = await vscode.window.showQuickPick(ROUTER_TASKS, { title: "ifai: explain the route of which task?" });
      if (!task) return;
      const uri = vscode.window.activeTextEditor?.document.uri.toString();
      const decision = await serverCommand<ExplainRouteResult>(client, ServerCommands.explainRoute, [{ task, ...(uri ? { uri } : {}) }]);
      const text = `${decision.task} → ${decision.backend}${decision.provider ? ` (${decision.provider})` : ""}: ${decision.reasons.join("; ")}`;
      const answer = await vscode.window.showInformationMessage(`ifai: ${text}`, "Details");
      if (answer) await showReport(decision);
    },
    [Commands.restartServer]: () => ctx.restart(),
    [Commands.showOutput]: async () => ctx.output.show(),
    // Next edits: asked for by the user (answered even where automatic ones are quiet), then jumped
    // to, accepted or dismissed; each returns whether it did something (false: nothing showed).
    [Commands.nextEditRequest]: async () => (await ctx.nextEdit.request(true)) !== undefined,
    [Commands.nextEditJump]: async () => ctx.nextEdit.jump(),
    [Commands.nextEditAccept]: () => ctx.nextEdit.accept(),
    [Commands.nextEditDismiss]: async () => ctx.nextEdit.dismiss(),
  };
  return Object.entries(handlers).map(([id, run]) => vscode.commands.registerCommand(id, guarded(ctx, id, run)));
}
