import * as vscode from "vscode";
import { ExecuteCommandRequest, type LanguageClient } from "vscode-languageclient/node";
import { ServerCommands, type StatusParams, type SwitchBackendResult } from "../../../src/server/protocol.js";

type Backend = "auto" | "local" | "cloud";

/**
 * The status bar item: backend preference · model state · tokens/s, from the server's
 * `ifai/status` notifications, with the details in the tooltip. Clicking it opens the backend
 * quick pick.
 */
export class StatusBar implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  private last: StatusParams | undefined;

  constructor(switchCommand: string) {
    this.item = vscode.window.createStatusBarItem("ifai-lsp.status", vscode.StatusBarAlignment.Right, 100);
    this.item.name = "ifai";
    this.item.command = switchCommand;
    this.showState("starting", "$(sync~spin)");
    this.item.show();
  }

  /** The item's current text (the extension API exposes it for tests). */
  text(): string {
    return this.item.text;
  }

  status(): StatusParams | undefined {
    return this.last;
  }

  /** For client states without a server status: starting, stopped, failed. */
  showState(state: string, icon = "$(hubot)", detail?: string): void {
    this.item.text = `${icon} ifai · ${state}`;
    this.item.tooltip = detail ?? `ifai-lsp: ${state}`;
    this.item.backgroundColor = state === "failed" ? new vscode.ThemeColor("statusBarItem.errorBackground") : undefined;
  }

  update(status: StatusParams): void {
    this.last = status;
    const { model } = status;
    const backend = status.backend?.preference ?? "auto";
    const tps = status.chat?.lastTokensPerSecond ?? model.lastTokensPerSecond;
    const busy = status.chat?.busy || model.state === "loading";
    const icon = model.state === "error" ? "$(error)" : busy ? "$(sync~spin)" : "$(hubot)";
    const parts: string[] = [backend, model.state];
    if (tps !== undefined && tps > 0) parts.push(`${tps.toFixed(tps < 10 ? 1 : 0)} tok/s`);
    this.item.text = `${icon} ${parts.join(" · ")}`;
    this.item.backgroundColor = model.state === "error" ? new vscode.ThemeColor("statusBarItem.errorBackground") : undefined;
    this.item.tooltip = tooltip(status);
  }

  dispose(): void {
    this.item.dispose();
  }
}

function tooltip(status: StatusParams): vscode.MarkdownString {
  const { model } = status;
  const md = new vscode.MarkdownString(undefined, true);
  const row = (name: string, value: string | number | undefined): void => {
    if (value !== undefined && value !== "") md.appendMarkdown(`**${name}:** `).appendText(String(value)).appendMarkdown("  \n");
  };
  md.appendMarkdown("**ifai-lsp**  \n");
  row("Model", `${model.state}${model.path ? ` — ${model.path}` : ""}`);
  row("Problem", model.message);
  row("GPU", model.gpu);
  row("Threads", model.threads);
  row("Local speed", model.lastTokensPerSecond !== undefined ? `${model.lastTokensPerSecond.toFixed(1)} tok/s` : undefined);
  if (status.backend) {
    row("Backend", `${status.backend.preference} (from ${status.backend.source})${status.backend.localOnly ? ", local only" : ""}`);
  }
  row("Completion", `${status.completion.enabled ? "on" : "off"}${status.completion.inline ? ", inline" : ""}`);
  if (status.index) row("Index", `${status.index.state}, ${status.index.mode}, ${status.index.chunks} chunks`);
  if (status.chat?.lastServedBy) {
    const tps = status.chat.lastTokensPerSecond;
    row("Last chat", `${status.chat.lastServedBy}${tps !== undefined ? `, ${tps.toFixed(1)} tok/s` : ""}`);
  }
  md.appendMarkdown("\n_Click to switch the backend._");
  return md;
}

/** The quick pick behind the status bar item: Auto / Local / Cloud, the current one marked. */
export async function pickBackend(client: LanguageClient, current: Backend | undefined): Promise<SwitchBackendResult | undefined> {
  const choices: Array<vscode.QuickPickItem & { value: "Auto" | "Local" | "Cloud" }> = [
    { value: "Auto", label: "Auto", detail: "The router decides per request (size, task, speed)." },
    { value: "Local", label: "Local", detail: "Always the local model; nothing leaves this machine." },
    { value: "Cloud", label: "Cloud", detail: "A configured cloud provider (ifai.cloud.providers)." },
  ];
  for (const choice of choices) {
    if (choice.value.toLowerCase() === current) choice.description = "$(check) current";
  }
  const picked = await vscode.window.showQuickPick(choices, { title: "ifai: where should requests run?", placeHolder: `Current: ${current ?? "unknown"}` });
  if (!picked) return undefined;
  return client.sendRequest(ExecuteCommandRequest.type, { command: ServerCommands.switchBackend, arguments: [picked.value] }) as Promise<SwitchBackendResult>;
}
