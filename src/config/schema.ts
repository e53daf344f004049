/**
 * The one configuration schema of ifai-lsp. Every key has a type, a default and a description;
 * the validator, docs/configuration.md and (later) the VS Code settings are all derived from
 * this table, so adding a key here is the only step needed to expose it everywhere.
 */

import { parseProviders, parseTaskList, type ProvidersSetting } from "./cloudSettings.js";
import { TASK_TYPES } from "./tasks.js";

export type SettingType = "boolean" | "number" | "string" | "object";

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
  /**
   * Checks and normalizes a value beyond its type (structured settings, lists in a string): the
   * value to keep, or the reason it is rejected.
   */
  parse?: (raw: unknown) => { ok: true; value: unknown } | { ok: false; reason: string };
}

function setting<T>(spec: SettingSpec<T>): SettingSpec<T> {
  return spec;
}

/**
 * One `router.taskPreference.<task>` setting per router task type, generated from the task list
 * so a new task type gets its setting (and its line in docs/configuration.md) automatically.
 */
function taskPreferenceSettings<const T extends readonly string[]>(
  tasks: T,
): { [K in T[number] as `router.taskPreference.${K}`]: SettingSpec<string> } {
  const out: Record<string, SettingSpec<string>> = {};
  for (const task of tasks) {
    out[`router.taskPreference.${task}`] = setting({
      type: "string",
      default: "default",
      enum: ["default", "auto", "local", "cloud"],
      description: `Where ${task} tasks run; default follows router.preference.`,
    });
  }
  return out as { [K in T[number] as `router.taskPreference.${K}`]: SettingSpec<string> };
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
    default: 2048,
    integer: true,
    minimum: 512,
    maximum: 131072,
    description:
      "Context window (tokens) of each completion sequence (there are completion.warmDocuments of them). It must hold the prompt budgets plus the suggestion: the defaults need about 1,800. Each token costs KV memory (12 KiB for the 0.5B model, 24 MiB per sequence at 2048); prompts are budgeted to fit.",
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
  "engine.mode": setting({
    type: "string",
    default: "auto",
    enum: ["auto", "shared", "in-process"],
    description:
      'Where the local model runs. "shared": one engine process per user holds the model once, with one thread budget, for every editor window; servers start it on demand through a Unix socket only this user can reach, and it exits shortly after the last window closes (where it cannot start, the server runs the model itself and says why in ifai.modelStatus). "in-process": each language server (each window) loads its own copy. "auto": shared on Linux and macOS, in process on Windows. Read when the server starts.',
  }),
  "model.keepLoaded": setting({
    type: "boolean",
    default: false,
    description: "Keep the local model loaded even when idle.",
  }),
  "model.memoryCheck": setting({
    type: "boolean",
    default: true,
    description:
      "Before loading the local model, compare its estimated memory need (weights plus context, from the GGUF file) with the free memory: shrink the context to fit, or refuse with a message when even a 512-token context does not fit. Turn off only if the estimate is wrong for your system.",
  }),
  "models.mirrors": setting({
    type: "string",
    default: "",
    description:
      "Comma-separated base URLs of Hugging Face-compatible mirrors ({base}/{repo}/resolve/{revision}/{file}), tried first when downloading models, e.g. an internal mirror. Empty: none.",
  }),
  "models.publicMirrors": setting({
    type: "boolean",
    default: true,
    description:
      "When downloading models, also try huggingface.co, hf-mirror.com and (for Qwen's own files) modelscope.cn, in that order, after models.mirrors. Downloads are refused altogether in privacy.localOnly mode.",
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
    default: 0,
    integer: true,
    minimum: 0,
    maximum: 2000,
    description:
      "While the model is still working on an earlier keystroke, wait this long before running it for a new request (a newer request in the meantime supersedes it). An idle model starts at once: latest-wins cancellation stops it within one evaluation step if another keystroke follows. 0 by default: a keystroke costs the local model only the tokens it changed (completion.middleLines), so starting at once is cheaper than waiting (bench:completion: first token p50 75 → 54 ms). Set 40–75 when completions go to a cloud provider, to send fewer requests while typing fast.",
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
      "Token budget for the text after the cursor (the rest of the line, then whole lines). Every suffix token is evaluated again when the cursor moves to a new place (about 5 ms each for the 0.5B model on 2 CPU cores), and on every keystroke when completion.middleLines is 0; raise it on a GPU.",
  }),
  "completion.middleLines": setting({
    type: "number",
    default: 8,
    integer: true,
    minimum: 0,
    maximum: 64,
    description:
      "Text typed since the cursor came to rest (its line, and up to this many new lines after it) goes into the local model's prompt after the fill-in-the-middle marker, as text the model has begun to write, instead of before the suffix. The model reads the same text, but a keystroke then changes only the end of the prompt, so the suffix is not evaluated again on every keystroke (llama.vim lays out the cursor's line the same way). 0: the whole prefix before the suffix.",
  }),
  "completion.firstPrefixTokens": setting({
    type: "number",
    default: 128,
    integer: true,
    minimum: 0,
    maximum: 32768,
    description:
      "Token budget for the text before the cursor in a first suggestion whose full prompt is not evaluated yet (a file just opened, or a cursor far from where the model last looked), when the model runs on the CPU: a short prompt without cross-file snippets answers in well under a second, and the full prompt is evaluated in the background between keystrokes, taking over once it is ready. On a GPU the full prompt always serves. 0 turns this off (the first suggestion waits for the full prompt).",
  }),
  "completion.maxSnippetTokens": setting({
    type: "number",
    default: 512,
    integer: true,
    minimum: 0,
    maximum: 32768,
    description: "Token budget for cross-file snippets (from other open documents and the code index) placed before the current file. 0 turns them off.",
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
  "completion.warmDocuments": setting({
    type: "number",
    default: 3,
    integer: true,
    minimum: 1,
    maximum: 16,
    description:
      "Documents whose prompt the local model keeps evaluated (one context sequence each, least recently used out), so switching back to a file is as fast as a keystroke. Each costs a KV cache of model.contextSize tokens (24 MiB for the 0.5B model at 2048); there is one more, for short first prompts (completion.firstPrefixTokens). Applies from the next model load.",
  }),
  "completion.prefill": setting({
    type: "boolean",
    default: true,
    description:
      "Work ahead of the user: when a document is opened or focused (ifai/didFocus), or the user pauses after an edit, evaluate its prompt in the background while the model is idle, so the first suggestion there does not pay for the whole prompt. A completion request always stops it at once. Never loads the model by itself.",
  }),
  "completion.cacheSize": setting({
    type: "number",
    default: 100,
    integer: true,
    minimum: 0,
    maximum: 10000,
    description: "Completions remembered (LRU) so returning to an earlier context answers without the model.",
  }),
  "nextEdit.enabled": setting({
    type: "boolean",
    default: true,
    description: "Answer textDocument/copilotInlineEdit with next-edit suggestions from the model. Off: every request is answered with no edits.",
  }),
  "nextEdit.format": setting({
    type: "string",
    default: "auto",
    enum: ["auto", "instruct", "zeta", "sweep"],
    description:
      "Prompt format of next-edit suggestions. auto: zeta or sweep when the model file's name says it is Zed's Zeta or Sweep's next-edit model, else instruct (any instruction-tuned model, such as the default Qwen2.5-Coder instruct GGUF).",
  }),
  "nextEdit.maxTokens": setting({
    type: "number",
    default: 384,
    integer: true,
    minimum: 16,
    maximum: 4096,
    description: "Tokens a next-edit answer may have: the rewritten region, so about 12 per line of it. A longer answer is cut off and shows nothing.",
  }),
  "nextEdit.maxTimeMs": setting({
    type: "number",
    default: 8000,
    integer: true,
    minimum: 100,
    maximum: 120000,
    description: "Stop a next-edit generation after this long; an answer cut off shows nothing.",
  }),
  "nextEdit.linesAbove": setting({
    type: "number",
    default: 10,
    integer: true,
    minimum: 0,
    maximum: 200,
    description: "Lines above the cursor's line that a next edit may change (the editable region).",
  }),
  "nextEdit.linesBelow": setting({
    type: "number",
    default: 10,
    integer: true,
    minimum: 0,
    maximum: 200,
    description: "Lines below the cursor's line that a next edit may change.",
  }),
  "nextEdit.contextLines": setting({
    type: "number",
    default: 40,
    integer: true,
    minimum: 0,
    maximum: 2000,
    description: "Read-only lines shown above and below the editable region.",
  }),
  "nextEdit.historyEdits": setting({
    type: "number",
    default: 8,
    integer: true,
    minimum: 0,
    maximum: 64,
    description: "Recent edits (across open files, merged per burst of typing) shown to the model.",
  }),
  "nextEdit.contextSize": setting({
    type: "number",
    default: 4096,
    integer: true,
    minimum: 512,
    maximum: 131072,
    description:
      "Tokens of the next-edit context, a context of its own beside completion's and chat's (so neither loses its KV cache to a next edit); it costs memory besides model.contextSize and applies from the next model load.",
  }),
  "nextEdit.speculative": setting({
    type: "boolean",
    default: true,
    description: "Prompt-lookup speculative decoding for next edits: spans the answer copies from the region are confirmed several tokens at a time. The answer is the same either way.",
  }),
  "feedback.store": setting({
    type: "boolean",
    default: true,
    description:
      "Keep counts of the suggestions shown, accepted, partially accepted and dismissed (per kind and language) in feedback.json in the cache folder, shared by every editor window and shown by `ifai-lsp stats`. Nothing in it is ever sent anywhere. Off: counted for this session only.",
  }),
  "feedback.quiet": setting({
    type: "boolean",
    default: true,
    description:
      "Stay quiet where suggestions keep being dismissed: when too few of the latest shown ghost texts (or next edits) in a language were accepted, the editor's automatic requests of that kind there get none for a while (the model does not run). Requests the user makes are always answered. Off: never.",
  }),
  "feedback.quietWindow": setting({
    type: "number",
    default: 20,
    integer: true,
    minimum: 2,
    maximum: 200,
    description: "How many of the latest shown suggestions of a kind in a language the quiet rule looks at; it applies only once that many were shown.",
  }),
  "feedback.quietBelow": setting({
    type: "number",
    default: 0.1,
    minimum: 0,
    maximum: 1,
    description: "Go quiet when the share of those suggestions accepted (fully or in part) is below this (0.1: fewer than 2 of 20).",
  }),
  "feedback.quietMinutes": setting({
    type: "number",
    default: 15,
    minimum: 0.01,
    maximum: 1440,
    description: "How long a quiet period lasts; afterwards the count starts afresh.",
  }),
  "chat.contextSize": setting({
    type: "number",
    default: 4096,
    integer: true,
    minimum: 512,
    maximum: 131072,
    description:
      "Tokens of the local model's chat context (prompt plus answer). Chat and code actions run on this context of their own, so they never evict the completion cache; it costs memory besides model.contextSize. Longer conversations are trimmed to fit, with a notice.",
  }),
  "chat.threads": setting({
    type: "number",
    default: 0,
    integer: true,
    minimum: 0,
    maximum: 256,
    description:
      "Threads of the local chat context (at most model.threads). 0: half of model.threads, at least 1, so completions keep cores of their own while a chat streams. Like the model's threads, this applies from the next model load.",
  }),
  "chat.maxTokens": setting({
    type: "number",
    default: 1024,
    integer: true,
    minimum: 1,
    maximum: 32768,
    description: "Most tokens of one chat answer (the local model gets at most half of chat.contextSize).",
  }),
  "chat.maxTimeMs": setting({
    type: "number",
    default: 120000,
    integer: true,
    minimum: 100,
    maximum: 3600000,
    description: "Longest time one chat answer may take; the text so far is returned when it runs out.",
  }),
  "chat.maxPromptTokens": setting({
    type: "number",
    default: 24000,
    integer: true,
    minimum: 256,
    maximum: 1000000,
    description:
      "Most tokens (estimated) of a chat prompt before routing: older messages are left out and an oversized message is cut in its middle, with a notice in the result. The local model trims further to chat.contextSize.",
  }),
  "chat.temperature": setting({
    type: "number",
    default: 0.7,
    minimum: 0,
    maximum: 2,
    description: "Sampling temperature of chat answers (Qwen's recommendation for its chat models is 0.7).",
  }),
  "chat.topP": setting({
    type: "number",
    default: 0.8,
    minimum: 0,
    maximum: 1,
    description: "Nucleus sampling of local chat answers.",
  }),
  "chat.topK": setting({
    type: "number",
    default: 20,
    integer: true,
    minimum: 0,
    maximum: 1000,
    description: "Top-k sampling of local chat answers (0: off).",
  }),
  "chat.repeatPenalty": setting({
    type: "number",
    default: 1.05,
    minimum: 1,
    maximum: 2,
    description: "Repetition penalty of local chat answers over the last 64 generated tokens (1: off).",
  }),
  "chat.codebaseChunks": setting({
    type: "number",
    default: 6,
    integer: true,
    minimum: 1,
    maximum: 50,
    description: "Most chunks of the codebase index added to a chat prompt when codebase retrieval is on (@codebase or the request's codebase flag).",
  }),
  "chat.codebaseTokens": setting({
    type: "number",
    default: 1500,
    integer: true,
    minimum: 100,
    maximum: 100000,
    description: "Token budget of the codebase context added to a chat prompt.",
  }),
  "actions.enabled": setting({
    type: "boolean",
    default: true,
    description:
      "Offer the AI code actions (simplify / improve, documentation comment, extract function, unit tests, a fix per diagnostic, explain). The list costs no model call; the edit is generated when an action is resolved or run.",
  }),
  "actions.maxTokens": setting({
    type: "number",
    default: 1024,
    integer: true,
    minimum: 16,
    maximum: 32768,
    description: "Most tokens of one code action's answer; an answer cut off at this limit is refused rather than applied.",
  }),
  "actions.maxTimeMs": setting({
    type: "number",
    default: 120000,
    integer: true,
    minimum: 100,
    maximum: 3600000,
    description: "Longest time one code action may generate; an answer cut off by it is refused rather than applied.",
  }),
  "actions.temperature": setting({
    type: "number",
    default: 0.2,
    minimum: 0,
    maximum: 2,
    description: "Sampling temperature of code actions (low: edits should be predictable).",
  }),
  "actions.contextTokens": setting({
    type: "number",
    default: 1500,
    integer: true,
    minimum: 0,
    maximum: 100000,
    description: "Most tokens of related code from the codebase index added to a code action's prompt (0: none).",
  }),
  "actions.cloudRetry": setting({
    type: "boolean",
    default: true,
    description:
      "When the local model's reply cannot be used (its edit would add syntax errors, it was cut off, it is not the code asked for), ask the cloud once more where the router allows it (a provider is configured, the task's preference is not local, not local-only mode, not a sensitive or ignored file).",
  }),
  "index.enabled": setting({
    type: "boolean",
    default: true,
    description:
      "Index the workspace folders (tree-sitter chunks in an embedded LanceDB) for cross-file context: completion snippets, @codebase questions, code actions. Full-text search works with no model at all; an embedding model (index.embeddingModelDir) makes it hybrid.",
  }),
  "index.uri": setting({
    type: "string",
    default: "",
    description:
      "Where the index lives: a LanceDB URI (a folder, s3://, gs://, az://, db://) so a team can share one that CI builds with `ifai-lsp index`. Empty: <cache>/index/<folder>-<hash> per workspace folder. With several workspace folders each uses <uri>/<folder name>. A leading ~ is expanded.",
  }),
  "index.readOnly": setting({
    type: "boolean",
    default: false,
    description: "Use the index at index.uri without writing to it (consumers of a shared index): no scanning, no watching, no updates.",
  }),
  "index.embeddingModelDir": setting({
    type: "string",
    default: "",
    description:
      "Folder of an ONNX sentence-embedding model (model.onnx or model_quantized.onnx plus tokenizer.json) for hybrid search (vector + full-text, reciprocal-rank fusion). Empty: full-text search only. Changing the model re-embeds into a new table. A leading ~ is expanded.",
  }),
  "index.embeddingModel": setting({
    type: "string",
    default: "",
    description:
      "Catalogue id of the embedding model in index.embeddingModelDir (pooling and query/document prefixes), e.g. jina-embeddings-v2-base-code, CodeRankEmbed, all-MiniLM-L6-v2, Qwen3-Embedding-0.6B. Empty: recognised from the folder.",
  }),
  "index.search.lexicalWeight": setting({
    type: "number",
    default: 1,
    minimum: 0,
    maximum: 100,
    description:
      "Hybrid search: weight of the full-text ranking when it is fused with the vector ranking (weighted reciprocal ranks over more candidates per side than the answer needs).",
  }),
  "index.search.vectorWeight": setting({
    type: "number",
    default: 0.2,
    minimum: 0,
    maximum: 100,
    description:
      "Hybrid search: weight of the vector ranking. On each query it is scaled down (to a fifth at least) when the embedding model's top 20 candidates share fewer than 3 chunks with full-text search's top 20, so a weak or mismatched model cannot bury good full-text hits. Raise it for a strong code embedding model; 0: full-text ranking only (the model is still loaded).",
  }),
  "index.search.candidates": setting({
    type: "number",
    default: 0,
    integer: true,
    minimum: 0,
    maximum: 500,
    description: "Hybrid search: candidates each side contributes before fusion. 0: five times the number of results asked for, at least 50.",
  }),
  "index.maxFileBytes": setting({
    type: "number",
    default: 1000000,
    integer: true,
    minimum: 1000,
    maximum: 100000000,
    description: "Files larger than this are not indexed.",
  }),
  "index.maxFiles": setting({
    type: "number",
    default: 200000,
    integer: true,
    minimum: 1,
    maximum: 10000000,
    description:
      "Most files indexed per workspace folder (a guard against opening a home directory); the rest are left out with a message. docs/index.md gives the time and memory a large tree takes.",
  }),
  "index.watch": setting({
    type: "boolean",
    default: true,
    description:
      "Watch the workspace folders for changes (one watch per folder). Off: the index follows the editor's workspace/didChangeWatchedFiles notifications (registered with the editor when it allows) and saved buffers.",
  }),
  "index.completionSnippets": setting({
    type: "boolean",
    default: true,
    description:
      "Add cross-file snippets from the index to completion prompts (besides other open documents). They are served from a periodically refreshed cache, so a completion never waits for the index.",
  }),
  "privacy.localOnly": setting({
    type: "boolean",
    default: false,
    description:
      "Local-only privacy mode: nothing leaves the machine. No cloud API calls (requests the router would send to the cloud are served locally or refused with the reason), no model downloads, no other outside connection. The environment variable IFAI_LOCAL_ONLY=1 turns it on too, whatever this setting says.",
  }),
  "router.preference": setting({
    type: "string",
    default: "auto",
    enum: ["auto", "local", "cloud"],
    description:
      "Where AI tasks run. local or cloud: always there (an explicit choice beats the rules). auto: the router's rules decide (small completions, refactors and test generation local; architecture design, deep refactors and large contexts to the cloud; other tasks to the cloud when a provider is configured, else local).",
  }),
  ...taskPreferenceSettings(TASK_TYPES),
  "router.completionLocalMaxTokens": setting({
    type: "number",
    default: 2048,
    integer: true,
    minimum: 0,
    maximum: 1000000,
    description: "In auto, a code completion whose context has fewer tokens than this runs on the local model.",
  }),
  "router.simpleRefactorLocalMaxTokens": setting({
    type: "number",
    default: 4096,
    integer: true,
    minimum: 0,
    maximum: 1000000,
    description: "In auto, a simple refactor whose context has fewer tokens than this runs on the local model.",
  }),
  "router.unitTestsLocalMaxTokens": setting({
    type: "number",
    default: 3072,
    integer: true,
    minimum: 0,
    maximum: 1000000,
    description: "In auto, unit-test generation whose context has fewer tokens than this runs on the local model.",
  }),
  "router.cloudAboveTokens": setting({
    type: "number",
    default: 6144,
    integer: true,
    minimum: 0,
    maximum: 1000000,
    description: "In auto, any task whose context has more tokens than this goes to the cloud (when one is configured and allowed).",
  }),
  "router.cloudTasks": setting({
    type: "string",
    default: "architecture,deepRefactor",
    parse: parseTaskList,
    description: `In auto, these task types (comma-separated) go to the cloud. Task types: ${["completion","simpleRefactor","unitTests","architecture","deepRefactor","chat","explain","fix","docs"].join(", ")}.`,
  }),
  "router.minLocalTokensPerSecond": setting({
    type: "number",
    default: 8,
    minimum: 0,
    maximum: 10000,
    description:
      "Low-end hardware: when the local model's measured generation speed is below this many tokens/s, auto prefers the cloud where one is configured. 0 turns this off.",
  }),
  "router.fallback": setting({
    type: "boolean",
    default: true,
    description:
      "Fall back when the chosen backend fails: a missing or failing local model to the cloud (where allowed: not in local-only mode, not for sensitive files, not when you chose local), a cloud that is unreachable, rate-limited, failing or timing out after its retries to the local model.",
  }),
  "router.logSize": setting({
    type: "number",
    default: 200,
    integer: true,
    minimum: 1,
    maximum: 100000,
    description: "Routing decisions kept for the ifai/routeLog request.",
  }),
  "cloud.providers": setting({
    type: "object",
    default: {} as ProvidersSetting,
    parse: parseProviders,
    description:
      'Cloud (OpenAI-compatible) providers by name, e.g. { "deepseek": { "preset": "deepseek" }, "work": { "baseUrl": "https://llm.example.com/v1", "model": "qwen2.5-coder-32b", "apiKeyEnv": "WORK_LLM_KEY" } }. Fields: preset (openai, anthropic, zhipu, deepseek, ollama, vllm, llamacpp, lmstudio), baseUrl, model, apiKeyEnv (the name of the environment variable holding the key; keys never go in settings), completionApi (completions: a suffix-aware /completions endpoint; chat: a chat prompt), completionBaseUrl, completionModel. See docs/cloud.md.',
  }),
  "cloud.provider": setting({
    type: "string",
    default: "",
    description: "The provider (a name in cloud.providers) that cloud routes use. Empty: the first one listed.",
  }),
  "cloud.completionProvider": setting({
    type: "string",
    default: "",
    description: "The provider for code completion (e.g. one with a fill-in-the-middle endpoint). Empty: cloud.provider.",
  }),
  "cloud.timeoutMs": setting({
    type: "number",
    default: 10000,
    integer: true,
    minimum: 100,
    maximum: 600000,
    description: "How long one attempt waits for the provider to start answering (and between streamed chunks) before it counts as timed out.",
  }),
  "cloud.maxRetries": setting({
    type: "number",
    default: 2,
    integer: true,
    minimum: 0,
    maximum: 10,
    description: "Retries after a connection failure, time-out, HTTP 408/409/429 or 5xx, with exponential backoff; then the router falls back to the local model.",
  }),
  "cloud.retryBaseMs": setting({
    type: "number",
    default: 300,
    integer: true,
    minimum: 0,
    maximum: 60000,
    description: "Backoff before the first retry; doubled for each further retry (with up to 25% jitter). A Retry-After header is honoured up to cloud.maxRetryDelayMs.",
  }),
  "cloud.maxRetryDelayMs": setting({
    type: "number",
    default: 4000,
    integer: true,
    minimum: 0,
    maximum: 600000,
    description: "Longest wait between two attempts.",
  }),
  "cloud.cooldownSeconds": setting({
    type: "number",
    default: 30,
    minimum: 0,
    maximum: 86400,
    description:
      "After a cloud request fails (after its retries), auto routes use the local model for this long instead of waiting on the failing provider for every keystroke. 0 turns this off.",
  }),
} as const;

export type SettingKey = keyof typeof settingsSchema;

type ValueOf<K extends SettingKey> = (typeof settingsSchema)[K]["default"] extends boolean
  ? boolean
  : (typeof settingsSchema)[K]["default"] extends number
    ? number
    : (typeof settingsSchema)[K]["default"] extends string
      ? string
      : (typeof settingsSchema)[K]["default"];

/** The resolved settings: every key present, validated. */
export type Settings = { [K in SettingKey]: ValueOf<K> };

export function defaultSettings(): Settings {
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(settingsSchema)) out[key] = spec.default;
  return out as Settings;
}

export const settingKeys = Object.keys(settingsSchema) as SettingKey[];
