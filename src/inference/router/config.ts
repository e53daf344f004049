import type { Settings } from "../../config/schema.js";
import { localOnlyMode } from "../../privacy/localOnly.js";
import { taskList } from "../../config/cloudSettings.js";
import { defaultRules } from "./rules.js";
import { TASK_TYPES, type TaskType } from "../../config/tasks.js";
import type { Preference, RouterConfig } from "./types.js";

/** The router's configuration from the settings (router.*, privacy.localOnly, cloud.cooldownSeconds). */
export function routerConfig(settings: Settings, env: NodeJS.ProcessEnv = process.env): RouterConfig {
  const taskPreference: Partial<Record<TaskType, Preference>> = {};
  const all = settings as unknown as Record<string, unknown>;
  for (const task of TASK_TYPES) {
    const value = all[`router.taskPreference.${task}`];
    if (value === "auto" || value === "local" || value === "cloud") taskPreference[task] = value;
  }
  return {
    preference: settings["router.preference"] as Preference,
    taskPreference,
    rules: defaultRules({
      completionLocalMaxTokens: settings["router.completionLocalMaxTokens"],
      simpleRefactorLocalMaxTokens: settings["router.simpleRefactorLocalMaxTokens"],
      unitTestsLocalMaxTokens: settings["router.unitTestsLocalMaxTokens"],
      cloudAboveTokens: settings["router.cloudAboveTokens"],
      cloudTasks: taskList(settings["router.cloudTasks"]),
    }),
    // IFAI_LOCAL_ONLY=1 lets an administrator enforce local-only mode whatever the editor sends.
    ...localOnlyFields(localOnlyMode(settings["privacy.localOnly"], env)),
    minLocalTokensPerSecond: settings["router.minLocalTokensPerSecond"],
    fallback: settings["router.fallback"],
    cooldownMs: settings["cloud.cooldownSeconds"] * 1000,
    logSize: settings["router.logSize"],
  };
}

function localOnlyFields(mode: ReturnType<typeof localOnlyMode>): Pick<RouterConfig, "localOnly" | "localOnlyBy"> {
  if (!mode.on) return { localOnly: false };
  return { localOnly: true, localOnlyBy: mode.source === "environment" ? "IFAI_LOCAL_ONLY" : "privacy.localOnly" };
}
