import type { LlamaContextSequence, LlamaModel, Token } from "node-llama-cpp";
import { defaultSettings } from "../../config/schema.js";
import { PrefixWindows } from "../../features/completion/contextWindow.js";
import { LocalModel } from "../../inference/local/LocalModel.js";
import { autoThreads } from "../../inference/local/llamaRuntime.js";
import { silentLogger } from "../../util/logger.js";
import type { DocumentState } from "./naiveBaseline.js";

export interface FloorFigures {
  /** Per keystroke: evaluating only the tokens the keystroke changed, plus one decode, on a warm sequence. */
  firstTokenMs: number[];
  /** How many tokens each keystroke changed. */
  changedTokens: number[];
  /** Prompt evaluation speed by step size (tokens per evaluation call), tokens/s. */
  stepTokensPerSecond: Array<{ step: number; tokensPerSecond: number }>;
}

/**
 * The floor of a keystroke on this engine (issue 14): the sequence already holds the prompt up to
 * the previous keystroke's cursor, and the keystroke costs only the tokens it changed and one
 * decode step. No suffix, no server, no tokenizing of the whole prompt: nothing any design could
 * leave out. Measured on the same model file, threads and context settings as the server.
 * Also measures prompt evaluation speed by step size, the knob of cold prompts and prefills.
 */
export async function runFloor(modelPath: string, pairs: ReadonlyArray<{ before: DocumentState; after: DocumentState }>, uri: string): Promise<FloorFigures> {
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
  const signal = new AbortController().signal;
  try {
    return await model.use(signal, async ({ model: llama, sequence }) => {
      const fimPrefix = llama.tokenize("<|fim_prefix|>", true);
      const count = (t: string): number => (t ? llama.tokenize(t, false).length : 0);
      const prompt = (state: DocumentState, windows: PrefixWindows): Token[] => [
        ...fimPrefix,
        ...llama.tokenize(windows.select(uri, state.text, state.offset, settings["completion.maxPrefixTokens"], count), false),
      ];
      const firstTokenMs: number[] = [];
      const changedTokens: number[] = [];
      for (const { before, after } of pairs) {
        const windows = new PrefixWindows();
        const old = prompt(before, windows);
        const next = prompt(after, windows);
        let common = 0;
        while (common < old.length && common < next.length && old[common] === next[common]) common++;
        // At least one token is evaluated, and the one before the change must be in the cache.
        common = Math.min(common, next.length - 1);
        await sequence.clearHistory();
        await evaluateInSteps(sequence, next.slice(0, common), 512);
        const started = performance.now();
        const iterator = sequence.evaluate(next.slice(common), { temperature: 0 });
        await iterator.next();
        firstTokenMs.push(performance.now() - started);
        await iterator.return();
        changedTokens.push(next.length - common);
      }
      const stepTokensPerSecond = await measureSteps(llama, sequence, pairs.at(-1)?.after.text ?? "");
      return { firstTokenMs, changedTokens, stepTokensPerSecond };
    });
  } finally {
    await model.dispose();
  }
}

async function evaluateInSteps(sequence: LlamaContextSequence, tokens: readonly Token[], step: number): Promise<void> {
  for (let i = 0; i < tokens.length; i += step) await sequence.evaluateWithoutGeneratingNewTokens(tokens.slice(i, i + step));
}

/** Evaluates the same 512 tokens from an empty cache in steps of each size; best of two runs per size. */
async function measureSteps(model: LlamaModel, sequence: LlamaContextSequence, text: string): Promise<Array<{ step: number; tokensPerSecond: number }>> {
  const tokens = model.tokenize(text, false).slice(0, 512);
  if (tokens.length < 512) return [];
  const out: Array<{ step: number; tokensPerSecond: number }> = [];
  for (const step of [4, 8, 16, 32, 64, 128, 512]) {
    let best = Number.POSITIVE_INFINITY;
    for (let run = 0; run < 2; run++) {
      await sequence.clearHistory();
      const started = performance.now();
      await evaluateInSteps(sequence, tokens, step);
      best = Math.min(best, performance.now() - started);
    }
    out.push({ step, tokensPerSecond: Math.round((tokens.length * 1000) / best) });
  }
  return out;
}
