import type { Settings } from "../../config/schema.js";
import type { ProvidersSetting } from "../../config/cloudSettings.js";
import type { Logger } from "../../util/logger.js";
import type { TaskType } from "../../config/tasks.js";
import { CloudClient, type CloudOptions } from "./CloudClient.js";
import { resolveProviders } from "./providers.js";

export function cloudOptions(settings: Settings): CloudOptions {
  return {
    timeoutMs: settings["cloud.timeoutMs"],
    maxRetries: settings["cloud.maxRetries"],
    retryBaseMs: settings["cloud.retryBaseMs"],
    maxRetryDelayMs: settings["cloud.maxRetryDelayMs"],
  };
}

/**
 * The configured cloud providers and a client for each. Everything is resolved when the settings
 * change (environment variables included), so choosing a provider per request is a map lookup.
 */
export class CloudRegistry {
  private clients = new Map<string, CloudClient>();
  private problems = new Map<string, string>();
  private order: string[] = [];
  private defaultName = "";
  private completionName = "";

  constructor(
    private readonly logger: Logger,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  configure(settings: Settings): void {
    const providers = settings["cloud.providers"] as ProvidersSetting;
    const resolved = resolveProviders(providers);
    const options = cloudOptions(settings);
    this.clients = new Map();
    this.problems = new Map(resolved.problems);
    this.order = Object.keys(providers);
    for (const [name, provider] of resolved.providers) {
      if (provider.apiKeyEnv && !this.env[provider.apiKeyEnv]) {
        this.problems.set(name, `cloud provider "${name}" needs an API key: set the environment variable ${provider.apiKeyEnv} where the editor starts the server`);
        continue;
      }
      this.clients.set(name, new CloudClient(provider, options, this.logger.child({ provider: name }), this.env));
    }
    this.defaultName = settings["cloud.provider"];
    this.completionName = settings["cloud.completionProvider"];
  }

  /** Sentences describing providers that cannot be used (shown to the user once). */
  configurationProblems(): string[] {
    const out = [...this.problems.values()];
    for (const [setting, name] of [["cloud.provider", this.defaultName], ["cloud.completionProvider", this.completionName]] as const) {
      if (name && !this.order.includes(name)) out.push(`${setting} names "${name}", which is not in cloud.providers (${this.order.join(", ") || "empty"})`);
    }
    return out;
  }

  /** The provider a cloud route of this task uses, or why there is none. */
  providerFor(task: TaskType): { name: string } | { problem: string } {
    const name = (task === "completion" && this.completionName) || this.defaultName || this.order[0];
    if (!name) return { problem: "no cloud provider is configured (cloud.providers is empty)" };
    if (this.clients.has(name)) return { name };
    const problem = this.problems.get(name);
    if (problem) return { problem };
    return { problem: `cloud provider "${name}" is not in cloud.providers` };
  }

  client(name: string): CloudClient | undefined {
    return this.clients.get(name);
  }

  names(): string[] {
    return [...this.order];
  }
}
