import * as vscode from "vscode";
import type { ChatParams, ChatResponse } from "../../../src/server/protocol.js";
import { describeResponse } from "./chat.js";

type Chat = (params: ChatParams, onDelta: (delta: string) => void, token?: vscode.CancellationToken) => Promise<ChatResponse>;
type Message = ChatParams["messages"][number];

/** Messages from the webview's script. */
type FromView =
  | { type: "ask"; text: string; codebase: boolean }
  | { type: "stop" }
  | { type: "clear" }
  | { type: "open"; uri: string; line: number; character: number; endLine: number; endCharacter: number };

/**
 * The chat view: a webview with an input box, an @codebase toggle and a Stop button. Answers
 * stream into it as they arrive; sources are links that open the file at the range. The
 * conversation lives here, so every request carries the turns before it.
 */
export class ChatViewProvider implements vscode.WebviewViewProvider, vscode.Disposable {
  static readonly viewId = "ifai-lsp.chat";
  private view: vscode.WebviewView | undefined;
  private history: Message[] = [];
  private running: vscode.CancellationTokenSource | undefined;
  private queued: Array<{ text: string; context?: Pick<ChatParams, "textDocument" | "selection"> }> = [];

  constructor(
    private readonly chat: Chat,
    private readonly extensionUri: vscode.Uri,
  ) {}

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    view.webview.options = { enableScripts: true, localResourceRoots: [vscode.Uri.joinPath(this.extensionUri, "media")] };
    view.webview.html = html(view.webview);
    view.webview.onDidReceiveMessage((message: FromView) => void this.onMessage(message));
    view.onDidDispose(() => (this.view = undefined));
    // Questions asked before the view existed (ask about selection) run once it does.
    const queued = this.queued;
    this.queued = [];
    for (const q of queued) void this.ask(q.text, false, q.context);
  }

  /** Asks a question from outside the view (the "ask about selection" command). */
  async askFromCommand(text: string, context?: Pick<ChatParams, "textDocument" | "selection">): Promise<void> {
    if (!this.view) {
      this.queued.push({ text, context });
      await vscode.commands.executeCommand(`${ChatViewProvider.viewId}.focus`);
      return;
    }
    this.view.show(true);
    await this.ask(text, false, context);
  }

  clear(): void {
    this.running?.cancel();
    this.history = [];
    void this.view?.webview.postMessage({ type: "clear" });
  }

  private async onMessage(message: FromView): Promise<void> {
    switch (message.type) {
      case "ask":
        return this.ask(message.text, message.codebase);
      case "stop":
        this.running?.cancel();
        return;
      case "clear":
        return this.clear();
      case "open": {
        const range = new vscode.Range(message.line, message.character, message.endLine, message.endCharacter);
        await vscode.window.showTextDocument(vscode.Uri.parse(message.uri), { selection: range, preview: true });
        return;
      }
    }
  }

  private async ask(text: string, codebase: boolean, context?: Pick<ChatParams, "textDocument" | "selection">): Promise<void> {
    if (!text.trim()) return;
    if (this.running) {
      void vscode.window.showInformationMessage("ifai: an answer is still streaming; stop it first.");
      return;
    }
    const post = (m: unknown): void => void this.view?.webview.postMessage(m);
    const source = new vscode.CancellationTokenSource();
    this.running = source;
    this.history.push({ role: "user", content: text });
    post({ type: "start", question: text, context: context?.textDocument ? vscode.workspace.asRelativePath(vscode.Uri.parse(context.textDocument.uri)) : undefined });
    try {
      const params: ChatParams = { messages: [...this.history], ...(codebase ? { codebase: true } : {}), ...context };
      const response = await this.chat(params, (delta) => post({ type: "delta", delta }), source.token);
      this.history.push({ role: "assistant", content: response.content });
      post({
        type: "done",
        content: response.content,
        meta: describeResponse(response),
        notices: response.notices,
        sources: response.sources.map((s) => ({ uri: s.uri, label: `${s.path}:${s.range.start.line + 1}${s.symbol ? ` ${s.symbol}` : ""}`, range: s.range })),
      });
    } catch (error) {
      // The question stays out of the history so a retry does not send it twice.
      this.history.pop();
      post({ type: "error", message: error instanceof Error ? error.message : String(error) });
    } finally {
      source.dispose();
      this.running = undefined;
    }
  }

  dispose(): void {
    this.running?.cancel();
  }
}

function html(webview: vscode.Webview): string {
  const nonce = Array.from({ length: 32 }, () => Math.floor(Math.random() * 36).toString(36)).join("");
  const csp = `default-src 'none'; style-src ${webview.cspSource} 'nonce-${nonce}'; script-src 'nonce-${nonce}';`;
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<style nonce="${nonce}">
html, body { height: 100%; margin: 0; }
/* The log scrolls above a form that stays put, so Stop does not move while an answer streams in. */
body { display: flex; flex-direction: column; box-sizing: border-box; padding: 0 8px; font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); color: var(--vscode-foreground); }
#log { flex: 1 1 auto; min-height: 0; overflow-y: auto; display: flex; flex-direction: column; gap: 10px; padding-bottom: 8px; }
.q, .a { white-space: pre-wrap; overflow-wrap: anywhere; }
.q { font-weight: 600; }
.q small { font-weight: normal; opacity: .7; }
.a { font-family: var(--vscode-editor-font-family); font-size: var(--vscode-editor-font-size); }
.meta, .notice { opacity: .7; font-size: .9em; }
.err { color: var(--vscode-errorForeground); }
.sources a { display: block; color: var(--vscode-textLink-foreground); cursor: pointer; }
form { flex: none; padding: 6px 0; display: flex; flex-direction: column; gap: 4px; }
textarea { width: 100%; box-sizing: border-box; resize: vertical; color: var(--vscode-input-foreground); background: var(--vscode-input-background); border: 1px solid var(--vscode-input-border, transparent); }
.grow { flex: 1; }
.row { display: flex; gap: 6px; align-items: center; }
button { color: var(--vscode-button-foreground); background: var(--vscode-button-background); border: none; padding: 3px 10px; cursor: pointer; }
button:disabled { opacity: .5; cursor: default; }
</style></head>
<body>
<div id="log"></div>
<form id="form">
  <textarea id="input" rows="3" placeholder="Ask about your code (Enter to send, Shift+Enter for a new line; @codebase searches the index)"></textarea>
  <div class="row"><label><input type="checkbox" id="codebase"> @codebase</label><span class="grow"></span>
  <button type="button" id="stop" disabled>Stop</button><button type="submit" id="send">Send</button></div>
</form>
<script nonce="${nonce}">
const vscode = acquireVsCodeApi();
const $ = (id) => document.getElementById(id);
const log = $("log"), input = $("input");
let answer;
const toEnd = () => { log.scrollTop = log.scrollHeight; };
const add = (cls, text) => { const el = document.createElement("div"); el.className = cls; el.textContent = text; log.appendChild(el); toEnd(); return el; };
const busy = (on) => { $("stop").disabled = !on; $("send").disabled = on; };
$("form").addEventListener("submit", (e) => { e.preventDefault(); const text = input.value.trim(); if (!text) return; vscode.postMessage({ type: "ask", text, codebase: $("codebase").checked }); input.value = ""; });
input.addEventListener("keydown", (e) => { if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("form").requestSubmit(); } });
$("stop").addEventListener("click", () => vscode.postMessage({ type: "stop" }));
window.addEventListener("message", ({ data: m }) => {
  if (m.type === "clear") { log.textContent = ""; busy(false); }
  if (m.type === "start") { const q = add("q", m.question); if (m.context) { const s = document.createElement("small"); s.textContent = " — " + m.context; q.appendChild(s); } answer = add("a", ""); busy(true); }
  if (m.type === "delta" && answer) { answer.textContent += m.delta; toEnd(); }
  if (m.type === "done") {
    if (answer) answer.textContent = m.content;
    add("meta", m.meta);
    for (const n of m.notices) add("notice", n);
    if (m.sources.length) {
      const box = add("sources", "Sources:");
      for (const s of m.sources) {
        const a = document.createElement("a"); a.textContent = s.label; a.title = s.uri;
        a.addEventListener("click", () => vscode.postMessage({ type: "open", uri: s.uri, line: s.range.start.line, character: s.range.start.character, endLine: s.range.end.line, endCharacter: s.range.end.character }));
        box.appendChild(a);
      }
    }
    busy(false);
  }
  if (m.type === "error") { add("err", m.message); busy(false); }
});
</script></body></html>`;
}
