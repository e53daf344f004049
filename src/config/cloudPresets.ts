/**
 * Known OpenAI-compatible endpoints. A provider names a preset and overrides what it needs
 * (usually only the model); everything a preset sets can be set by hand for any other server.
 * Model names change over time: the defaults here are starting points, check the provider's list.
 */

/** How a provider serves code completion: a suffix-aware `/completions` endpoint, or a chat prompt. */
export type CompletionApi = "completions" | "chat";

export interface ProviderPreset {
  /** Shown in messages and docs. */
  title: string;
  baseUrl: string;
  /** Environment variable holding the API key; empty for local servers that need none. */
  apiKeyEnv: string;
  /** Default chat model; empty when the user must choose one. */
  model: string;
  completionApi: CompletionApi;
  /** Where the completion endpoint lives when it differs from baseUrl (DeepSeek's FIM beta). */
  completionBaseUrl?: string;
  completionModel?: string;
}

export const PROVIDER_PRESETS = {
  openai: { title: "OpenAI", baseUrl: "https://api.openai.com/v1", apiKeyEnv: "OPENAI_API_KEY", model: "gpt-4o-mini", completionApi: "chat" },
  anthropic: {
    title: "Anthropic (OpenAI-compatible endpoint)",
    baseUrl: "https://api.anthropic.com/v1",
    apiKeyEnv: "ANTHROPIC_API_KEY",
    model: "claude-3-5-haiku-latest",
    completionApi: "chat",
  },
  zhipu: { title: "Zhipu GLM", baseUrl: "https://open.bigmodel.cn/api/paas/v4", apiKeyEnv: "ZHIPUAI_API_KEY", model: "glm-4-flash", completionApi: "chat" },
  deepseek: {
    title: "DeepSeek",
    baseUrl: "https://api.deepseek.com/v1",
    apiKeyEnv: "DEEPSEEK_API_KEY",
    model: "deepseek-chat",
    completionApi: "completions",
    completionBaseUrl: "https://api.deepseek.com/beta",
    completionModel: "deepseek-chat",
  },
  ollama: { title: "Ollama", baseUrl: "http://127.0.0.1:11434/v1", apiKeyEnv: "", model: "qwen2.5-coder:1.5b", completionApi: "completions" },
  vllm: { title: "vLLM", baseUrl: "http://127.0.0.1:8000/v1", apiKeyEnv: "", model: "", completionApi: "completions" },
  llamacpp: { title: "llama.cpp server", baseUrl: "http://127.0.0.1:8080/v1", apiKeyEnv: "", model: "default", completionApi: "completions" },
  lmstudio: { title: "LM Studio", baseUrl: "http://127.0.0.1:1234/v1", apiKeyEnv: "", model: "", completionApi: "chat" },
} as const satisfies Record<string, ProviderPreset>;

export type PresetName = keyof typeof PROVIDER_PRESETS;
export const PRESET_NAMES = Object.keys(PROVIDER_PRESETS) as PresetName[];
