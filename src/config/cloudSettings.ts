import { PRESET_NAMES, type CompletionApi, type PresetName } from "./cloudPresets.js";
import { TASK_TYPES, isTaskType, type TaskType } from "./tasks.js";

/** One entry of the `cloud.providers` setting, as the user writes it. */
export interface ProviderSetting {
  /** A preset name (openai, anthropic, zhipu, deepseek, ollama, vllm, llamacpp, lmstudio). */
  preset?: PresetName;
  baseUrl?: string;
  model?: string;
  /** Name of the environment variable holding the API key (never the key itself). */
  apiKeyEnv?: string;
  completionApi?: CompletionApi;
  completionBaseUrl?: string;
  completionModel?: string;
}

export type ProvidersSetting = Readonly<Record<string, ProviderSetting>>;

type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

const STRING_FIELDS = ["baseUrl", "model", "apiKeyEnv", "completionBaseUrl", "completionModel"] as const;
const KNOWN_FIELDS = new Set<string>(["preset", "completionApi", ...STRING_FIELDS]);

/**
 * Checks `cloud.providers`: a map from a provider name to its settings. Keys in the settings are
 * refused on purpose, so they never end up in a settings file, a log or a bug report.
 */
export function parseProviders(raw: unknown): Parsed<ProvidersSetting> {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    return { ok: false, reason: 'expected an object mapping provider names to settings, e.g. { "deepseek": { "preset": "deepseek" } }' };
  }
  const out: Record<string, ProviderSetting> = {};
  for (const [name, entry] of Object.entries(raw)) {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(name)) return { ok: false, reason: `provider name "${name.slice(0, 40)}" must be letters, digits, "-", "_" or "."` };
    if (typeof entry !== "object" || entry === null || Array.isArray(entry)) return { ok: false, reason: `provider "${name}" must be an object` };
    const fields = entry as Record<string, unknown>;
    if ("apiKey" in fields || "key" in fields) {
      return { ok: false, reason: `provider "${name}" has an API key in the settings; put the key in an environment variable and name it in "apiKeyEnv"` };
    }
    const unknown = Object.keys(fields).filter((k) => !KNOWN_FIELDS.has(k));
    if (unknown.length > 0) return { ok: false, reason: `provider "${name}" has unknown field(s) ${unknown.join(", ")}; known: ${[...KNOWN_FIELDS].join(", ")}` };
    const provider: ProviderSetting = {};
    if (fields.preset !== undefined) {
      if (typeof fields.preset !== "string" || !(PRESET_NAMES as string[]).includes(fields.preset)) {
        return { ok: false, reason: `provider "${name}": preset must be one of ${PRESET_NAMES.join(", ")}` };
      }
      provider.preset = fields.preset as PresetName;
    }
    if (fields.completionApi !== undefined) {
      if (fields.completionApi !== "completions" && fields.completionApi !== "chat") {
        return { ok: false, reason: `provider "${name}": completionApi must be "completions" or "chat"` };
      }
      provider.completionApi = fields.completionApi;
    }
    for (const field of STRING_FIELDS) {
      const value = fields[field];
      if (value === undefined) continue;
      if (typeof value !== "string") return { ok: false, reason: `provider "${name}": ${field} must be a string` };
      if ((field === "baseUrl" || field === "completionBaseUrl") && value) {
        const problem = checkHttpUrl(value);
        if (problem) return { ok: false, reason: `provider "${name}": ${field} ${problem}` };
      }
      if (field === "apiKeyEnv" && value && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(value)) {
        return { ok: false, reason: `provider "${name}": apiKeyEnv must be the name of an environment variable (letters, digits, _), not the key itself` };
      }
      provider[field] = value;
    }
    if (!provider.preset && !provider.baseUrl) return { ok: false, reason: `provider "${name}" needs a "preset" or a "baseUrl"` };
    out[name] = provider;
  }
  return { ok: true, value: out };
}

/** Why a base URL cannot be used, or undefined when it is an http(s) URL. */
export function checkHttpUrl(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `"${value.slice(0, 80)}" is not a URL; write it in full, e.g. https://api.openai.com/v1 or http://127.0.0.1:8080/v1`;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return `"${value.slice(0, 80)}" must start with http:// or https://`;
  if (url.username || url.password) return "must not carry credentials; name the key's environment variable in apiKeyEnv";
  return undefined;
}

/** Checks a comma-separated list of task types (e.g. `router.cloudTasks`). */
export function parseTaskList(raw: unknown): Parsed<string> {
  if (typeof raw !== "string") return { ok: false, reason: "expected a comma-separated list of task types" };
  const items = splitList(raw);
  const bad = items.filter((item) => !isTaskType(item));
  if (bad.length > 0) return { ok: false, reason: `unknown task type(s) ${bad.join(", ")}; known: ${TASK_TYPES.join(", ")}` };
  return { ok: true, value: items.join(",") };
}

export function splitList(value: string): string[] {
  return value
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

export function taskList(value: string): TaskType[] {
  return splitList(value).filter(isTaskType);
}
