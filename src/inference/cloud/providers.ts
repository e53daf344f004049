import type { ProviderSetting, ProvidersSetting } from "../../config/cloudSettings.js";
import { checkHttpUrl } from "../../config/cloudSettings.js";
import { PROVIDER_PRESETS, type CompletionApi } from "../../config/cloudPresets.js";

/** A provider with its preset applied: everything a request needs except the key's value. */
export interface ResolvedProvider {
  name: string;
  title: string;
  baseUrl: string;
  model: string;
  apiKeyEnv: string;
  completionApi: CompletionApi;
  completionBaseUrl: string;
  completionModel: string;
}

export interface ResolvedProviders {
  providers: Map<string, ResolvedProvider>;
  /** One sentence per provider that cannot be used, naming the fix. */
  problems: Map<string, string>;
}

export function resolveProviders(setting: ProvidersSetting): ResolvedProviders {
  const providers = new Map<string, ResolvedProvider>();
  const problems = new Map<string, string>();
  for (const [name, entry] of Object.entries(setting)) {
    const resolved = resolveProvider(name, entry);
    if (typeof resolved === "string") problems.set(name, resolved);
    else providers.set(name, resolved);
  }
  return { providers, problems };
}

function resolveProvider(name: string, entry: ProviderSetting): ResolvedProvider | string {
  const preset = entry.preset ? PROVIDER_PRESETS[entry.preset] : undefined;
  const baseUrl = trimSlash(entry.baseUrl || preset?.baseUrl || "");
  const model = entry.model || preset?.model || "";
  if (!baseUrl) return `cloud provider "${name}" has no baseUrl; set "baseUrl" or a "preset"`;
  const bad = checkHttpUrl(baseUrl);
  if (bad) return `cloud provider "${name}": baseUrl ${bad}`;
  if (!model) return `cloud provider "${name}" has no model; set "model" to one the server offers (its /models list)`;
  const completionApi = entry.completionApi ?? preset?.completionApi ?? "chat";
  const presetCompletionBase = preset && "completionBaseUrl" in preset && !entry.baseUrl ? preset.completionBaseUrl : undefined;
  const presetCompletionModel = preset && "completionModel" in preset && !entry.model ? preset.completionModel : undefined;
  return {
    name,
    title: preset?.title ?? name,
    baseUrl,
    model,
    apiKeyEnv: entry.apiKeyEnv ?? preset?.apiKeyEnv ?? "",
    completionApi,
    completionBaseUrl: trimSlash(entry.completionBaseUrl || presetCompletionBase || baseUrl),
    completionModel: entry.completionModel || presetCompletionModel || model,
  };
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, "");
}
