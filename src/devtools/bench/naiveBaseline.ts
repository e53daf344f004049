import { defaultSettings } from "../../config/schema.js";
import { PrefixWindows, selectSuffix } from "../../features/completion/contextWindow.js";
import { buildFimPrompt } from "../../features/completion/prompt.js";
import { LocalCompletionBackend } from "../../inference/local/LocalCompletionBackend.js";
import { LocalModel } from "../../inference/local/LocalModel.js";
import { autoThreads } from "../../inference/local/llamaRuntime.js";
import { silentLogger } from "../../util/logger.js";

export interface DocumentState {
  text: string;
  offset: number;
}

/**
 * The baseline a simple integration gets: for each keystroke, the same prompt evaluated from an
 * empty KV cache (as a fresh infill call does). Runs the project's own engine with the sequence
 * cleared before every request, so the only difference measured is the reuse.
 */
export async function runNaiveBaseline(modelPath: string, states: readonly DocumentState[], uri: string): Promise<{ firstTokenMs: number[]; promptTokens: number[] }> {
  const settings = defaultSettings();
  const model = new LocalModel(
    {
      modelPath,
      gpu: "cpu",
      threads: autoThreads(),
      contextSize: settings["model.contextSize"],
      batchSize: settings["model.batchSize"],
      idleUnloadMs: 0,
      keepLoaded: true,
    },
    silentLogger(),
  );
  const backend = new LocalCompletionBackend(model, silentLogger());
  const signal = new AbortController().signal;
  const tokenizer = await backend.tokenizer(signal);
  const count = (t: string): number => tokenizer.countTokens(t);
  const firstTokenMs: number[] = [];
  const promptTokens: number[] = [];
  try {
    for (const state of states) {
      const prefix = new PrefixWindows().select(uri, state.text, state.offset, settings["completion.maxPrefixTokens"], count);
      const suffix = selectSuffix(state.text, state.offset, settings["completion.maxSuffixTokens"], count);
      await model.use(signal, (loaded) => loaded.sequence.clearHistory());
      const result = await backend.generate(
        { prompt: buildFimPrompt({ prefix, suffix, snippets: [], repoName: "bench", filePath: "linkedMap.js" }), maxTokens: 1, maxTimeMs: 60_000, temperature: 0 },
        signal,
      );
      if (result.firstTokenMs !== undefined) firstTokenMs.push(result.firstTokenMs);
      promptTokens.push(result.evaluatedTokens);
    }
  } finally {
    await model.dispose();
  }
  return { firstTokenMs, promptTokens };
}
