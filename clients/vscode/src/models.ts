import * as vscode from "vscode";
import { ExecuteCommandRequest, type LanguageClient } from "vscode-languageclient/node";
import {
  ModelCommands,
  ServerCommands,
  type ModelInfo,
  type ModelsListResult,
  type ModelsPullResult,
  type ModelsRemoveResult,
  type ModelStatusResult,
} from "../../../src/server/protocol.js";

/** Runs one of the server's `workspace/executeCommand` commands and returns its typed result. */
export function serverCommand<T>(client: LanguageClient, command: string, args: unknown[] = [], token?: vscode.CancellationToken): Promise<T> {
  const params = { command, arguments: args };
  return (token ? client.sendRequest(ExecuteCommandRequest.type, params, token) : client.sendRequest(ExecuteCommandRequest.type, params)) as Promise<T>;
}

const size = (bytes: number): string => (bytes >= 1e9 ? `${(bytes / 1e9).toFixed(1)} GB` : `${Math.round(bytes / 1e6)} MB`);

type ModelItem = vscode.QuickPickItem & { model: ModelInfo };

function modelItems(list: ModelsListResult, filter: (m: ModelInfo) => boolean): ModelItem[] {
  return list.models.filter(filter).map((model) => ({
    model,
    label: `${model.inUse ? "$(star-full) " : model.installed ? "$(check) " : "$(cloud-download) "}${model.name}`,
    description: [model.id, model.parameters, model.quantization, size(model.installed ? model.installedBytes : model.approxBytes)].filter(Boolean).join(" · "),
    detail: [model.installed ? `installed: ${model.path}` : model.partialBytes > 0 ? `partly downloaded (${size(model.partialBytes)})` : "not installed", model.roles.join(", "), model.description]
      .filter(Boolean)
      .join(" — "),
  }));
}

/** Models: List — every catalogue and custom model; picking one offers what can be done with it. */
export async function listModels(client: LanguageClient): Promise<void> {
  const list = await serverCommand<ModelsListResult>(client, ModelCommands.list);
  const picked = await vscode.window.showQuickPick(modelItems(list, () => true), {
    title: `ifai models (${list.modelsDir})`,
    matchOnDescription: true,
    matchOnDetail: true,
  });
  if (!picked) return;
  const actions = picked.model.installed ? ["Verify", "Remove"] : ["Download"];
  const action = await vscode.window.showQuickPick(actions, { title: picked.model.name });
  if (action === "Download") await pullModel(client, picked.model.id);
  if (action === "Remove") await removeModel(client, picked.model.id);
  if (action === "Verify") {
    const result = await serverCommand<{ ok: boolean; files: Array<{ path: string; status: string; detail: string }> }>(client, ModelCommands.verify, [picked.model.id]);
    const summary = result.files.map((f) => `${f.path}: ${f.status}`).join("; ");
    void (result.ok ? vscode.window.showInformationMessage(`ifai: ${picked.model.name} verified. ${summary}`) : vscode.window.showWarningMessage(`ifai: ${summary}`));
  }
}

/**
 * Models: Download — a catalogue id (picked) or an https URL (typed). The server reports the
 * download as `$/progress` on a token it creates, which the language client shows as a
 * cancellable notification; this notification shows the request itself until it is done.
 */
export async function pullModel(client: LanguageClient, id?: string): Promise<void> {
  if (!id) {
    const list = await serverCommand<ModelsListResult>(client, ModelCommands.list);
    const items: Array<vscode.QuickPickItem & { model?: ModelInfo }> = modelItems(list, (m) => !m.installed);
    items.push({ label: "$(link) Download from a URL…", alwaysShow: true });
    const picked = await vscode.window.showQuickPick(items, { title: "ifai: download a model", matchOnDescription: true });
    if (!picked) return;
    id = picked.model?.id ?? (await vscode.window.showInputBox({ title: "GGUF URL", placeHolder: "https://…/model.gguf", validateInput: (v) => (/^https:\/\//.test(v) ? undefined : "An https URL") }));
    if (!id) return;
  }
  const modelId = id;
  const result = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Window, title: `ifai: downloading ${modelId}`, cancellable: false },
    () => serverCommand<ModelsPullResult>(client, ModelCommands.pull, [modelId]),
  );
  const bytes = result.files.reduce((sum, f) => sum + f.bytes, 0);
  void vscode.window.showInformationMessage(`ifai: ${result.id} is in ${result.path} (${size(bytes)}).`);
}

export async function removeModel(client: LanguageClient, id?: string): Promise<void> {
  if (!id) {
    const list = await serverCommand<ModelsListResult>(client, ModelCommands.list);
    const picked = await vscode.window.showQuickPick(modelItems(list, (m) => m.installed), { title: "ifai: remove a model" });
    if (!picked) return;
    id = picked.model.id;
  }
  const answer = await vscode.window.showWarningMessage(`Remove the model ${id} from disk?`, { modal: true }, "Remove");
  if (answer !== "Remove") return;
  const result = await serverCommand<ModelsRemoveResult>(client, ModelCommands.remove, [id]);
  void vscode.window.showInformationMessage(`ifai: removed ${result.id}, freed ${size(result.freedBytes)}.`);
}

/** Load / Unload Model: the local model's state afterwards, in a notification. */
export async function setModelLoaded(client: LanguageClient, load: boolean): Promise<void> {
  const run = (): Promise<ModelStatusResult> => serverCommand<ModelStatusResult>(client, load ? ServerCommands.loadModel : ServerCommands.unloadModel);
  const status = load ? await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: "ifai: loading the model…" }, run) : await run();
  const detail = [status.path, status.gpu, status.loadMs !== undefined ? `${status.loadMs} ms` : undefined, status.message ?? status.notice].filter(Boolean).join(" · ");
  const show = status.state === "error" ? vscode.window.showErrorMessage : vscode.window.showInformationMessage;
  void show(`ifai: model ${status.state}${detail ? ` — ${detail}` : ""}`);
}
