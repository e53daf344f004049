/**
 * The one configuration schema of ifai-lsp. Every key has a type, a default and a description;
 * the validator, docs/configuration.md and (later) the VS Code settings are all derived from
 * this table, so adding a key here is the only step needed to expose it everywhere.
 */

export type SettingType = "boolean" | "number" | "string";

export interface SettingSpec<T = unknown> {
  type: SettingType;
  default: T;
  description: string;
  /** Allowed values for string settings. */
  enum?: readonly string[];
  minimum?: number;
  maximum?: number;
  /** Integer-valued number settings reject fractions. */
  integer?: boolean;
}

function setting<T>(spec: SettingSpec<T>): SettingSpec<T> {
  return spec;
}

export const settingsSchema = {
  "log.level": setting({
    type: "string",
    default: "info",
    enum: ["trace", "debug", "info", "warn", "error", "fatal", "silent"],
    description:
      "Log level. The environment variable IFAI_LOG_LEVEL overrides it. Logs go to stderr (or log.file), never to stdout, which carries the protocol.",
  }),
  "log.file": setting({
    type: "string",
    default: "",
    description: "Write logs to this file instead of stderr. Empty: stderr. The environment variable IFAI_LOG_FILE overrides it.",
  }),
  "model.path": setting({
    type: "string",
    default: "",
    description:
      "Path of the local GGUF completion model (Qwen2.5-Coder). Empty: <cache>/models/qwen2.5-coder-0.5b-q4_k_m.gguf, where <cache> is $IFAI_CACHE_DIR, else $XDG_CACHE_HOME/ifai-lsp, else ~/.cache/ifai-lsp. A leading ~ is expanded.",
  }),
  "model.gpu": setting({
    type: "string",
    default: "auto",
    enum: ["auto", "cpu", "metal", "cuda", "vulkan"],
    description: "Compute backend for the local model. auto picks Metal, CUDA or Vulkan when available and falls back to the CPU.",
  }),
  "model.threads": setting({
    type: "number",
    default: 0,
    integer: true,
    minimum: 0,
    maximum: 256,
    description:
      "CPU threads for the local model. 0: automatic (all cores on machines with 2 or fewer, else cores - 1, at most 8). Never more than the physical cores: oversubscription makes llama.cpp up to 100x slower.",
  }),
  "model.contextSize": setting({
    type: "number",
    default: 4096,
    integer: true,
    minimum: 512,
    maximum: 131072,
    description: "Context window (tokens) of the completion sequence. Larger costs memory; prompts are budgeted to fit.",
  }),
  "model.batchSize": setting({
    type: "number",
    default: 64,
    integer: true,
    minimum: 8,
    maximum: 4096,
    description:
      "Tokens evaluated per step of a prompt. A cancelled request stops at the next step, so smaller steps cancel faster; larger steps evaluate cold prompts slightly faster.",
  }),
  "model.idleUnloadMinutes": setting({
    type: "number",
    default: 10,
    minimum: 0,
    maximum: 10080,
    description: "Unload the local model after this many idle minutes to free memory. 0: never unload (same as model.keepLoaded).",
  }),
  "model.keepLoaded": setting({
    type: "boolean",
    default: false,
    description: "Keep the local model loaded even when idle.",
  }),
  "completion.enabled": setting({
    type: "boolean",
    default: true,
    description: "Offer AI completions.",
  }),
  "completion.inline": setting({
    type: "string",
    default: "auto",
    enum: ["auto", "on", "off"],
    description:
      "Inline (ghost text) completion, LSP 3.18 textDocument/inlineCompletion. auto: only when the client advertises it; on: always register (for clients that support it without advertising); off: never. Read from initializationOptions only, since capabilities are fixed at initialize.",
  }),
  "completion.items": setting({
    type: "boolean",
    default: true,
    description: "Also answer textDocument/completion with one AI item, for editors without inline completion (Helix, Zed, eglot, Neovim < 0.12).",
  }),
  "completion.debounceMs": setting({
    type: "number",
    default: 40,
    integer: true,
    minimum: 0,
    maximum: 2000,
    description: "Wait this long after a request before running the model; a newer request in the meantime supersedes it.",
  }),
  "completion.maxPrefixTokens": setting({
    type: "number",
    default: 1024,
    integer: true,
    minimum: 16,
    maximum: 32768,
    description: "Token budget for the text before the cursor. The window's start stays put while you type so the KV cache is reused.",
  }),
  "completion.maxSuffixTokens": setting({
    type: "number",
    default: 24,
    integer: true,
    minimum: 0,
    maximum: 8192,
    description:
      "Token budget for the text after the cursor (the rest of the line, then whole lines). Every suffix token is evaluated again on each keystroke (about 5 ms each for the 0.5B model on 2 CPU cores), so this is the main knob for latency on a CPU; raise it on a GPU.",
  }),
  "completion.maxSnippetTokens": setting({
    type: "number",
    default: 512,
    integer: true,
    minimum: 0,
    maximum: 32768,
    description: "Token budget for cross-file snippets (from other open documents) placed before the current file. 0 turns them off.",
  }),
  "completion.maxTokens": setting({
    type: "number",
    default: 64,
    integer: true,
    minimum: 1,
    maximum: 4096,
    description: "Most tokens generated for a single-line suggestion.",
  }),
  "completion.maxMultilineTokens": setting({
    type: "number",
    default: 160,
    integer: true,
    minimum: 1,
    maximum: 4096,
    description: "Most tokens generated for a multi-line suggestion.",
  }),
  "completion.maxTimeMs": setting({
    type: "number",
    default: 3000,
    integer: true,
    minimum: 50,
    maximum: 120000,
    description: "Stop generating after this long and show what was generated so far.",
  }),
  "completion.temperature": setting({
    type: "number",
    default: 0,
    minimum: 0,
    maximum: 2,
    description: "Sampling temperature. 0: greedy, the usual choice for code completion.",
  }),
  "completion.cacheSize": setting({
    type: "number",
    default: 100,
    integer: true,
    minimum: 0,
    maximum: 10000,
    description: "Completions remembered (LRU) so returning to an earlier context answers without the model.",
  }),
} as const;

export type SettingKey = keyof typeof settingsSchema;

type ValueOf<K extends SettingKey> = (typeof settingsSchema)[K]["default"] extends boolean
  ? boolean
  : (typeof settingsSchema)[K]["default"] extends number
    ? number
    : string;

/** The resolved settings: every key present, validated. */
export type Settings = { [K in SettingKey]: ValueOf<K> };

export function defaultSettings(): Settings {
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(settingsSchema)) out[key] = spec.default;
  return out as Settings;
}

export const settingKeys = Object.keys(settingsSchema) as SettingKey[];
