import { DidChangeConfigurationNotification, MessageType, type Connection } from "vscode-languageserver/node";
import { defaultSettings, type Settings } from "../config/schema.js";
import { environmentLayer, environmentProblem } from "../config/environment.js";
import { applySettings } from "../config/validate.js";
import type { Logger } from "../util/logger.js";
import { guardNotification } from "./guard.js";

export interface SettingsApi {
  current(): Settings;
  /** Called after every change, with the previous settings. */
  onChange(listener: (next: Settings, previous: Settings) => void | Promise<void>): void;
  /** Pulls workspace/configuration once the client is initialized. */
  initialized(): Promise<void>;
}

/**
 * Configuration from the three places editors put it: `initializationOptions`, the
 * `workspace/configuration` pull (section "ifai"), and `workspace/didChangeConfiguration` pushes.
 * Later layers override earlier ones. The environment (src/config/environment.ts) adds a layer
 * under them (IFAI_MODEL replaces the default model path) and one over them (IFAI_LOCAL_ONLY,
 * IFAI_LOG_LEVEL). Invalid values are reported to the user in one message naming the keys, and
 * the previous values stay.
 */
export function registerSettings(
  connection: Connection,
  logger: Logger,
  initializationOptions: unknown,
  capabilities: { configuration: boolean; dynamicConfigurationRegistration: boolean },
  env: NodeJS.ProcessEnv = process.env,
): SettingsApi {
  const listeners: Array<(next: Settings, previous: Settings) => void | Promise<void>> = [];
  const initLayer: unknown = initializationOptions;
  let workspaceLayer: unknown = undefined;

  const resolve = (report: boolean): Settings => {
    const fromEnvironment = applySettings(environmentLayer(env, "default"), defaultSettings());
    const fromInit = applySettings(initLayer, fromEnvironment.settings);
    const fromWorkspace = applySettings(workspaceLayer, fromInit.settings);
    const enforced = applySettings(environmentLayer(env, "enforced"), fromWorkspace.settings);
    const problems = [
      ...fromEnvironment.problems.map(environmentProblem),
      ...fromInit.problems,
      ...fromWorkspace.problems,
      ...enforced.problems.map(environmentProblem),
    ];
    if (report && problems.length > 0) {
      for (const problem of problems) logger.warn(problem);
      void connection.sendNotification("window/showMessage", { type: MessageType.Warning, message: problems.join(" ") });
    }
    return enforced.settings;
  };

  let settings = resolve(true);
  const update = async (): Promise<void> => {
    const previous = settings;
    settings = resolve(true);
    for (const listener of listeners) await listener(settings, previous);
  };

  const pull = async (): Promise<void> => {
    if (!capabilities.configuration) return;
    try {
      const [section] = await connection.workspace.getConfiguration([{ section: "ifai" }]);
      workspaceLayer = section ?? undefined;
    } catch (error) {
      logger.warn({ err: error }, "workspace/configuration failed; keeping the current settings");
    }
  };

  connection.onDidChangeConfiguration(
    guardNotification(logger, "workspace/didChangeConfiguration", async (params: { settings?: unknown }) => {
      const pushed = params.settings as Record<string, unknown> | null | undefined;
      if (pushed && typeof pushed === "object" && "ifai" in pushed) {
        workspaceLayer = pushed["ifai"];
      } else if (capabilities.configuration) {
        // Pull-model clients send an empty notification meaning "settings changed, ask again".
        await pull();
      } else if (pushed && typeof pushed === "object" && Object.keys(pushed).length > 0) {
        workspaceLayer = pushed;
      }
      await update();
    }),
  );

  return {
    current: () => settings,
    onChange: (listener) => void listeners.push(listener),
    async initialized() {
      if (capabilities.dynamicConfigurationRegistration) {
        await connection.client.register(DidChangeConfigurationNotification.type, { section: "ifai" }).catch(() => undefined);
      }
      if (capabilities.configuration) {
        await pull();
        if (workspaceLayer !== undefined) await update();
      }
    },
  };
}
