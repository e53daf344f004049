import type { CloudRegistry } from "../cloud/CloudRegistry.js";
import { formatCount } from "./rules.js";
import { TASK_LABELS, TASK_TYPES } from "../../config/tasks.js";
import type { RouterConfig } from "./types.js";

/** The router's current settings in words, for `ifai/routeLog` and `ifai-lsp route`. */
export function routerSummary(config: RouterConfig, cloud: CloudRegistry): string[] {
  const lines: string[] = [];
  lines.push(`preference: ${config.preference}`);
  const per = TASK_TYPES.filter((t) => config.taskPreference[t]).map((t) => `${t}=${config.taskPreference[t]}`);
  if (per.length > 0) lines.push(`per task: ${per.join(", ")}`);
  lines.push(`local-only privacy mode: ${config.localOnly ? "on (no cloud calls)" : "off"}`);
  const names = cloud.names();
  lines.push(`cloud providers: ${names.length > 0 ? names.join(", ") : "none configured"}`);
  for (const problem of cloud.configurationProblems()) lines.push(`  problem: ${problem}`);
  lines.push("rules (auto, first match wins):");
  for (const rule of config.rules) {
    const tasks = rule.tasks ? rule.tasks.map((t) => TASK_LABELS[t]).join(", ") : "any task";
    const size = rule.below !== undefined ? `, < ${formatCount(rule.below)} tokens` : rule.above !== undefined ? `, > ${formatCount(rule.above)} tokens` : "";
    lines.push(`  ${rule.id}: ${tasks}${size} → ${rule.backend}`);
  }
  lines.push("  otherwise: cloud when a provider is configured and allowed, else local");
  if (config.minLocalTokensPerSecond > 0) lines.push(`low-end hardware: local under ${config.minLocalTokensPerSecond} tokens/s → cloud in auto`);
  lines.push(`fallback: ${config.fallback ? "on" : "off"}`);
  return lines;
}
