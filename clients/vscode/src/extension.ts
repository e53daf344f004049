import os from "node:os";
import * as vscode from "vscode";
import {
  DidChangeConfigurationNotification,
  LanguageClient,
  State,
  type Executable,
  type LanguageClientOptions,
} from "vscode-languageclient/node";
import {
  DidFocusNotification,
  DidShowCompletionNotification,
  StatusNotification,
  type ChatParams,
  type ChatResponse,
  type DidFocusParams,
  type StatusParams,
} from "../../../src/server/protocol.js";
import { sendChat } from "./chat.js";
import { ChatViewProvider } from "./chatView.js";
import { serverSettingsOf } from "./clientSettings.js";
import { pipeServerLog, pipeServerStdout } from "./serverLog.js";
import { Commands, registerCommands } from "./commands.js";
import { StatusBar } from "./statusBar.js";
import { NextEditController, type RenderedNextEdit, type ShownNextEdit } from "./nextEdit.js";
import { ShownTracker } from "./shownTracker.js";

/** What `activate` returns: `vscode.extensions.getExtension("ifai.ifai-lsp-vscode").exports`. */
export interface IfaiExtensionApi {
  /** Resolves once the language client is running (initialize done); rejects with the start error. */
  ready: Promise<void>;
  client: LanguageClient;
  /** Sends one ifai/chat request, calling onDelta for each streamed piece; the chat view uses the same function. */
  chat(params: ChatParams, onDelta: (delta: string) => void, token?: vscode.CancellationToken): Promise<ChatResponse>;
  /** The status bar item's current text. */
  statusText(): string;
  /** Stops the server (shutdown + exit) and resolves when it has stopped. */
  stop(): Promise<void>;
  /** The next-edit suggestion showing, what its decorations draw, and the controller's counters. */
  nextEdit: { shown(): ShownNextEdit | undefined; rendered(): RenderedNextEdit | undefined; stats: NextEditController["stats"] };
}

const SECTION = "ifai";
let client: LanguageClient | undefined;

/** The server settings as VS Code holds them now (nested objects), without the client's own keys. */
function currentServerSettings(): Record<string, unknown> {
  return serverSettingsOf(vscode.workspace.getConfiguration(SECTION));
}

/**
 * How to start the server, from ifai.server.*. No `transport` is given on purpose: with
 * TransportKind.stdio the client would append a second `--stdio` to the user's arguments.
 */
function executable(): Executable {
  const config = vscode.workspace.getConfiguration(SECTION);
  const rawPath = config.get<string>("server.path") || "ifai-lsp";
  const command = rawPath.startsWith("~") ? os.homedir() + rawPath.slice(1) : rawPath;
  const args = config.get<string[]>("server.args") ?? ["--stdio"];
  const env = { ...process.env, ...config.get<Record<string, string>>("server.env") };
  // npm installs ifai-lsp as a .cmd shim on Windows, which only a shell can start.
  const shell = process.platform === "win32" && !/\.(exe|com)$/i.test(command);
  return { command, args, options: { env, shell } };
}

/** The extension's own next-edit settings (ifai.client.*). */
function nextEditOptions(): { enabled: boolean; delayMs: number } {
  const config = vscode.workspace.getConfiguration(SECTION);
  return { enabled: config.get<boolean>("client.nextEdits") ?? true, delayMs: config.get<number>("client.nextEditDelayMs") ?? 600 };
}

/**
 * Tells the server which ghost text VS Code got to show (`textDocument/didShowCompletion`).
 * VS Code's stable API reports neither an item shown nor one dismissed, so an item handed to
 * VS Code counts as shown; acceptance comes from the item's command, which VS Code runs.
 */
function reportShown(client: () => LanguageClient | undefined, tracker: ShownTracker) {
  return async (
    document: vscode.TextDocument,
    position: vscode.Position,
    context: vscode.InlineCompletionContext,
    token: vscode.CancellationToken,
    next: (document: vscode.TextDocument, position: vscode.Position, context: vscode.InlineCompletionContext, token: vscode.CancellationToken) => vscode.ProviderResult<vscode.InlineCompletionItem[] | vscode.InlineCompletionList>,
  ): Promise<vscode.InlineCompletionItem[] | vscode.InlineCompletionList | null | undefined> => {
    const result = await next(document, position, context, token);
    const items = Array.isArray(result) ? result : (result?.items ?? []);
    const first = items[0];
    const running = client();
    if (!first || !running || token.isCancellationRequested) return result;
    const text = typeof first.insertText === "string" ? first.insertText : first.insertText.value;
    const start = first.range?.start ?? position;
    const before = document.lineAt(start.line).text.slice(0, start.character);
    const seen = tracker.note({ uri: document.uri.toString(), line: start.line, before, text, args: first.command?.arguments });
    // The rest of a suggestion being typed through keeps the id it was shown with.
    if (first.command) first.command = { ...first.command, arguments: seen.args };
    if (seen.report && first.command) {
      const item = { insertText: text, command: { title: first.command.title, command: first.command.command, arguments: seen.args } };
      void running.sendNotification(DidShowCompletionNotification.method, { item }).catch(() => undefined);
    }
    return result;
  };
}

function clientOptions(output: vscode.LogOutputChannel): LanguageClientOptions {
  return {
    // The server works for any language, so every file and untitled buffer is synced.
    documentSelector: [{ scheme: "file" }, { scheme: "untitled" }],
    outputChannel: output,
    // The server's stderr is its pino log: each line at its own level, not all as errors.
    stdioOptions: { stdout: pipeServerStdout, stderr: pipeServerLog },
    initializationOptions: () => currentServerSettings(),
    middleware: {
      provideInlineCompletionItems: reportShown(() => client, new ShownTracker()),
      workspace: {
        // The `workspace/configuration` pull: the server warns about keys it does not know.
        configuration: async (params, token, next) => {
          const result = await next(params, token);
          if (!Array.isArray(result)) return result;
          return result.map((value, i) => (params.items[i]?.section === SECTION ? serverSettingsOf(value) : value));
        },
        // Pushes (after the server registers for section "ifai") carry the same filtered settings.
        didChangeConfiguration: async (sections, next) => {
          if (!sections?.includes(SECTION) || !client) return next(sections);
          await client.sendNotification(DidChangeConfigurationNotification.type, { settings: { [SECTION]: currentServerSettings() } });
        },
      },
    },
  };
}

/** How long the cursor must rest before the server is told where it is. */
const FOCUS_REST_MS = 1000;

export function activate(context: vscode.ExtensionContext): IfaiExtensionApi {
  const output = vscode.window.createOutputChannel("ifai-lsp", { log: true });
  const statusBar = new StatusBar(Commands.switchBackend);
  // One Executable object that restart refreshes in place, since the client keeps the reference.
  const server = executable();
  const languageClient = new LanguageClient("ifai", "ifai-lsp", { run: server, debug: server }, clientOptions(output));
  client = languageClient;

  // The server still reports (the model unloading) while it shuts down; the item says "stopped" then.
  let stopping = false;
  languageClient.onNotification(StatusNotification.method, (status: StatusParams) => {
    if (!stopping) statusBar.update(status);
  });
  languageClient.onDidChangeState(({ newState }) => {
    stopping = newState === State.Stopped;
    if (newState === State.Starting) statusBar.showState("starting", "$(sync~spin)");
    if (newState === State.Stopped) statusBar.showState("stopped", "$(circle-slash)");
  });

  let restTimer: ReturnType<typeof setTimeout> | undefined;
  let focusedAt = "";
  const focus = (editor: vscode.TextEditor, onlyIfMoved = false): void => {
    if (!languageClient.isRunning()) return;
    const { line, character } = editor.selection.active;
    const uri = editor.document.uri.toString();
    const at = `${uri}:${line}:${character}`;
    if (onlyIfMoved && at === focusedAt) return;
    focusedAt = at;
    const params: DidFocusParams = { textDocument: { uri }, position: { line, character } };
    void languageClient.sendNotification(DidFocusNotification.method, params).catch(() => undefined);
  };

  const chat = (params: ChatParams, onDelta: (delta: string) => void, token?: vscode.CancellationToken): Promise<ChatResponse> =>
    sendChat(languageClient, params, onDelta, token);
  const chatView = new ChatViewProvider(chat, context.extensionUri);
  const nextEdit = new NextEditController(languageClient, nextEditOptions);

  const start = async (): Promise<void> => {
    try {
      await languageClient.start();
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      statusBar.showState("failed", "$(error)", `ifai-lsp did not start: ${message}. Check ifai.server.path.`);
      output.appendLine(`ifai-lsp did not start: ${message}`);
      throw error;
    }
  };
  const ready = start();
  // The API's `ready` reports the failure to whoever waits on it; this keeps it from being unhandled.
  ready.catch(() => undefined);

  context.subscriptions.push(
    output,
    statusBar,
    chatView,
    nextEdit,
    vscode.window.registerWebviewViewProvider(ChatViewProvider.viewId, chatView, { webviewOptions: { retainContextWhenHidden: true } }),
    ...registerCommands({
      client: languageClient,
      statusBar,
      chatView,
      output,
      nextEdit,
      restart: async () => {
        Object.assign(server, executable());
        if (languageClient.isRunning()) await languageClient.restart();
        else await start();
      },
    }),
    // The server evaluates the prompt of the file in front of the user ahead of the first
    // keystroke: when an editor becomes active, and when the cursor rests somewhere new (where
    // the user stops moving is usually where they are about to type).
    vscode.window.onDidChangeActiveTextEditor((editor) => {
      if (editor) focus(editor);
    }),
    // A window that comes to the front says so: a shared engine then serves it before other windows.
    vscode.window.onDidChangeWindowState((state) => {
      const editor = vscode.window.activeTextEditor;
      if (state.focused && editor) focus(editor);
    }),
    vscode.window.onDidChangeTextEditorSelection((event) => {
      if (restTimer) clearTimeout(restTimer);
      restTimer = setTimeout(() => {
        restTimer = undefined;
        if (vscode.window.activeTextEditor === event.textEditor) focus(event.textEditor, true);
      }, FOCUS_REST_MS);
    }),
    { dispose: () => restTimer && clearTimeout(restTimer) },
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (!event.affectsConfiguration(`${SECTION}.server`)) return;
      void vscode.window
        .showInformationMessage("ifai: the server settings changed; restart the server to use them.", "Restart")
        .then((answer) => answer && vscode.commands.executeCommand(Commands.restartServer));
    }),
  );

  return {
    ready,
    client: languageClient,
    chat,
    statusText: () => statusBar.text(),
    nextEdit: { shown: () => nextEdit.shown(), rendered: () => nextEdit.rendered(), stats: nextEdit.stats },
    stop: async () => {
      if (languageClient.state !== State.Stopped) await languageClient.stop();
    },
  };
}

export async function deactivate(): Promise<void> {
  if (client && client.state !== State.Stopped) await client.stop();
  client = undefined;
}
