import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ensureGeneratedModel, TINY_SHAPE } from "../../src/devtools/gguf/qwen2Model.js";
import { LocalModel, type LocalModelOptions } from "../../src/inference/local/LocalModel.js";
import { LocalCompletionBackend } from "../../src/inference/local/LocalCompletionBackend.js";
import { silentLogger } from "../../src/util/logger.js";
import { testModelCache } from "./paths.js";

/** The tiny Qwen2-architecture model with random weights and a byte-level vocabulary that the suite runs on. */
export function tinyModel(): Promise<string> {
  return ensureGeneratedModel(testModelCache, { shape: TINY_SHAPE, quant: "Q8_0", vocab: "byte", seed: 7 });
}

export function engineOptions(modelPath: string, overrides: Partial<LocalModelOptions> = {}): LocalModelOptions {
  return {
    modelPath,
    gpu: "cpu",
    threads: 1,
    contextSize: 4096,
    batchSize: 32,
    idleUnloadMs: 0,
    keepLoaded: true,
    ...overrides,
  };
}

export function createEngine(modelPath: string, overrides: Partial<LocalModelOptions> = {}): { model: LocalModel; backend: LocalCompletionBackend } {
  const model = new LocalModel(engineOptions(modelPath, overrides), silentLogger());
  return { model, backend: new LocalCompletionBackend(model, silentLogger()) };
}

export function tempDir(prefix = "ifai-test-"): { path: string; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { path: dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}
