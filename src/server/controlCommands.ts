import { routerSummary } from "../inference/router/summary.js";
import { isTaskType } from "../config/tasks.js";
import type { Preference } from "../inference/router/types.js";
import { ModelUnavailableError, type ModelControl } from "../inference/types.js";
import type { CommandHandler, CommandsApi } from "./commands.js";
import type { IndexApi } from "./indexHandlers.js";
import {
  ServerCommands,
  type ExplainRouteArgs,
  type ExplainRouteResult,
  type IndexStatusResult,
  type ModelStatusResult,
  type SwitchBackendResult,
} from "./protocol.js";
import type { RouterApi } from "./routerHandlers.js";
import { InvalidParamsError } from "./guard.js";

export interface ControlCommandDeps {
  commands: CommandsApi;
  model: ModelControl;
  /** The engine's mode and, when shared, its process (ifai.modelStatus shows them). */
  engineInfo?: () => ModelStatusResult["engine"];
  routing: RouterApi;
  index: () => IndexApi | undefined;
  /** The model manager's pull (ifai.models.pull), reused for ifai.downloadModel. */
  pull: CommandHandler;
  /** Something a status line shows changed (ifai/status). */
  onChange: () => void;
}

const PREFERENCES: Record<string, Preference> = { local: "local", cloud: "cloud", auto: "auto" };

/**
 * The model, backend and index commands of `workspace/executeCommand`: load/unload/download the
 * model and report its status, switch the router's global preference at runtime, restart
 * indexing, and explain where a task would be routed (without running it).
 */
export function registerControlCommands(deps: ControlCommandDeps): void {
  const { commands, model, routing } = deps;
  const modelStatus = (): ModelStatusResult => {
    const s = model.status();
    return {
      state: s.state,
      path: s.modelPath,
      ...(s.message ? { message: s.message } : {}),
      ...(s.gpu ? { gpu: s.gpu } : {}),
      ...(s.threads ? { threads: s.threads } : {}),
      ...(s.loadMs !== undefined ? { loadMs: s.loadMs } : {}),
      ...(s.contextSize ? { contextSize: s.contextSize } : {}),
      ...(s.lastTokensPerSecond ? { lastTokensPerSecond: s.lastTokensPerSecond } : {}),
      ...(s.notice ? { notice: s.notice } : {}),
      ...(deps.engineInfo ? { engine: deps.engineInfo() } : {}),
    };
  };

  commands.add(ServerCommands.loadModel, async (_args, signal) => {
    try {
      await model.load(signal);
    } catch (error) {
      // A model that cannot load is an answer (state "error" with the fix), not a failed command.
      if (!(error instanceof ModelUnavailableError)) throw error;
    }
    return modelStatus();
  });

  commands.add(ServerCommands.unloadModel, async () => {
    await model.unload();
    return modelStatus();
  });

  commands.add(ServerCommands.modelStatus, async () => modelStatus());

  commands.add(ServerCommands.downloadModel, deps.pull);

  commands.add(ServerCommands.switchBackend, async (args): Promise<SwitchBackendResult> => {
    const raw = typeof args[0] === "string" ? args[0] : typeof (args[0] as { backend?: unknown })?.backend === "string" ? (args[0] as { backend: string }).backend : "";
    const preference = PREFERENCES[raw.trim().toLowerCase()];
    if (!preference) throw new InvalidParamsError(`${ServerCommands.switchBackend} needs "Local", "Cloud" or "Auto" as its argument (got ${JSON.stringify(args[0] ?? null)})`);
    const previous = routing.setPreference(preference);
    deps.onChange();
    return { preference, previous, summary: routerSummary(routing.router.settings(), routing.cloud) };
  });

  commands.add(ServerCommands.reindex, async (): Promise<IndexStatusResult> => {
    const index = deps.index();
    if (!index) throw new Error("the codebase index is not running");
    // The pass runs in the background; its progress shows in ifai/status and ifai/indexStatus.
    void index.service.restart();
    return index.service.status();
  });

  commands.add(ServerCommands.explainRoute, async (args): Promise<ExplainRouteResult> => {
    const a = (args[0] && typeof args[0] === "object" ? args[0] : {}) as ExplainRouteArgs;
    const task = a.task === undefined ? "chat" : a.task;
    if (!isTaskType(task)) throw new InvalidParamsError(`${ServerCommands.explainRoute}: unknown task "${String(task)}"`);
    const contextTokens = typeof a.contextTokens === "number" && a.contextTokens >= 0 ? Math.round(a.contextTokens) : 0;
    const override = a.backend === "local" || a.backend === "cloud" ? a.backend : undefined;
    const { id: _id, time: _time, ...decision } = routing.router.decide({
      task,
      contextTokens,
      ...(override ? { override } : {}),
      ...(typeof a.uri === "string" ? { uri: a.uri } : {}),
    });
    return decision;
  });
}
