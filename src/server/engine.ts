import { MessageType, type Connection } from "vscode-languageserver/node";
import type { Settings } from "../config/schema.js";
import { resolveModelPath } from "../config/paths.js";
import { LocalChatBackend } from "../inference/local/LocalChatBackend.js";
import { LocalCompletionBackend } from "../inference/local/LocalCompletionBackend.js";
import { LocalModel, type LocalModelOptions } from "../inference/local/LocalModel.js";
import { LocalNextEditBackend, type LocalNextEditOptions } from "../inference/local/LocalNextEditBackend.js";
import { autoThreads, type GpuSetting } from "../inference/local/llamaRuntime.js";
import type { ChatBackend, CompletionBackend, ModelControl, ModelStatus } from "../inference/types.js";
import type { EngineKey } from "../engine/wire.js";
import { sharedEngine } from "./sharedEngine.js";
import type { ModelStatusResult } from "./protocol.js";
import type { Logger } from "../util/logger.js";

export interface EngineApi {
  model: ModelControl;
  backend: CompletionBackend;
  /** Chat and code actions on the model's own chat context (never the completion sequence). */
  chat: ChatBackend;
  /** Next edits on a context of their own (never the completion sequences). */
  nextEdit: CompletionBackend;
  /** The documents whose KV state the model holds, most recently used first. */
  warmSlots(): string[];
  /**
   * The user brought this window to the front (ifai/didFocus). A shared engine runs this window's
   * completions before other windows'; in process there is nothing to order.
   */
  focus(): void;
  /** The mode, the shared engine's process once connected, or why it fell back to in process. */
  info(): NonNullable<ModelStatusResult["engine"]>;
  configure(settings: Settings): Promise<void>;
  dispose(): Promise<void>;
}

export function modelOptions(settings: Settings): LocalModelOptions {
  return {
    modelPath: resolveModelPath(settings["model.path"]),
    gpu: settings["model.gpu"] as GpuSetting,
    threads: settings["model.threads"] > 0 ? settings["model.threads"] : autoThreads(),
    contextSize: settings["model.contextSize"],
    batchSize: settings["model.batchSize"],
    // One more for the short first prompts, so a document's first prompt never takes the
    // sequence of another document's full prompt when switching between files. Always one more:
    // turning first prompts on or off must not reload the model.
    sequences: settings["completion.warmDocuments"] + 1,
    idleUnloadMs: settings["model.idleUnloadMinutes"] * 60_000,
    keepLoaded: settings["model.keepLoaded"],
    memoryCheck: settings["model.memoryCheck"],
  };
}

export function engineKey(settings: Settings): EngineKey {
  const { freeMemory: _unused, ...model } = modelOptions(settings);
  return { model, chat: chatOptions(settings), nextEdit: nextEditOptions(settings) };
}

export function nextEditOptions(settings: Settings): LocalNextEditOptions {
  return {
    contextSize: settings["nextEdit.contextSize"],
    speculative: settings["nextEdit.speculative"],
    ...(settings["chat.threads"] > 0 ? { threads: settings["chat.threads"] } : {}),
  };
}

function chatOptions(settings: Settings): { contextSize: number; threads?: number } {
  return { contextSize: settings["chat.contextSize"], ...(settings["chat.threads"] > 0 ? { threads: settings["chat.threads"] } : {}) };
}

/**
 * Where the model runs. "auto" is the shared engine where a Unix socket private to the user can
 * be had (Linux, macOS), in process elsewhere; a shared engine that cannot start falls back to
 * in process for the session (sharedEngine.ts).
 */
export function engineMode(settings: Settings, platform: NodeJS.Platform = process.platform): "shared" | "in-process" {
  const mode = settings["engine.mode"];
  if (mode === "auto") return platform === "win32" ? "in-process" : "shared";
  return mode === "shared" ? "shared" : "in-process";
}

/**
 * The local engine as the server sees it. A model that cannot be loaded is reported to the user
 * once per distinct problem (window/showMessage), not once per keystroke.
 */
export function registerEngine(connection: Connection, logger: Logger, settings: Settings, onStatus: (status: ModelStatus) => void, label = "server"): EngineApi {
  const api = engineMode(settings) === "shared" ? sharedEngine(logger, settings, label) : inProcessEngine(logger, settings);
  const shown = new Set<string>();
  api.model.onStatus((status) => {
    onStatus(status);
    if (status.state === "error" && status.message && !shown.has(status.message)) {
      shown.add(status.message);
      void connection.sendNotification("window/showMessage", { type: MessageType.Warning, message: `ifai: ${status.message}` });
    }
  });
  return api;
}

export function inProcessEngine(logger: Logger, settings: Settings): EngineApi {
  const model = new LocalModel(modelOptions(settings), logger.child({ component: "local-model" }));
  const backend = new LocalCompletionBackend(model, logger.child({ component: "completion-backend" }));
  let chatSettings = { contextSize: settings["chat.contextSize"], threads: settings["chat.threads"] };
  const chat = new LocalChatBackend(model, logger.child({ component: "chat-backend" }), () => ({
    contextSize: chatSettings.contextSize,
    ...(chatSettings.threads > 0 ? { threads: chatSettings.threads } : {}),
  }));
  let nextEditSettings = nextEditOptions(settings);
  const nextEdit = new LocalNextEditBackend(model, logger.child({ component: "next-edit-backend" }), () => nextEditSettings);
  return {
    model,
    backend,
    chat,
    nextEdit,
    warmSlots: () => backend.warmSlots(),
    focus: () => undefined,
    info: () => ({ mode: "in-process" }),
    configure: async (next) => {
      // A new chat context size applies from the next load (the chat context lives as long as the model).
      chatSettings = { contextSize: next["chat.contextSize"], threads: next["chat.threads"] };
      nextEditSettings = nextEditOptions(next);
      await model.configure(modelOptions(next));
    },
    dispose: () => model.dispose(),
  };
}
