import fs from "node:fs";
import path from "node:path";
import { Writable } from "node:stream";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureGeneratedModel, TINY_SHAPE } from "../src/devtools/gguf/qwen2Model.js";
import { LocalCompletionBackend } from "../src/inference/local/LocalCompletionBackend.js";
import { LocalModel } from "../src/inference/local/LocalModel.js";
import type { ModelStatus } from "../src/inference/types.js";
import { silentLogger } from "../src/util/logger.js";
import { engineOptions, tempDir, tinyModel } from "./helpers/models.js";
import { testModelCache } from "./helpers/paths.js";

const never = new AbortController().signal;
const dir = tempDir("ifai-model-watch-");
let original: string;
let other: string;

beforeAll(async () => {
  original = await tinyModel();
  other = await ensureGeneratedModel(testModelCache, { shape: TINY_SHAPE, quant: "Q8_0", vocab: "byte", seed: 11 });
});
afterAll(() => dir.cleanup());

/** Collects values and resolves waiters on the first one that matches (including earlier ones). */
function collector<T>(): { push: (value: T) => void; until: (predicate: (value: T) => boolean) => Promise<T> } {
  const seen: T[] = [];
  let waiters: Array<{ predicate: (value: T) => boolean; resolve: (value: T) => void }> = [];
  return {
    push(value) {
      seen.push(value);
      waiters = waiters.filter((w) => (w.predicate(value) ? (w.resolve(value), false) : true));
    },
    until(predicate) {
      const found = seen.find(predicate);
      return found !== undefined ? Promise.resolve(found) : new Promise((resolve) => waiters.push({ predicate, resolve }));
    },
  };
}

describe("LocalModel and its file", () => {
  it("keeps serving from memory while a request holds a model whose file was truncated, then unloads it and loads the new file", async () => {
    const file = path.join(dir.path, "held.gguf");
    fs.copyFileSync(original, file);
    const logs = collector<string>();
    const logger = pino({ level: "warn" }, new Writable({ write: (chunk: Buffer, _enc, done) => (logs.push(chunk.toString()), done()) }));
    const model = new LocalModel(engineOptions(file), logger);
    const backend = new LocalCompletionBackend(model, silentLogger());
    const statuses = collector<ModelStatus>();
    model.onStatus((s) => statuses.push(s));

    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const inside = new Promise<void>((resolve) => (entered = resolve));
    const using = model.use(never, async () => {
      entered();
      await held;
    });
    await inside;

    fs.writeFileSync(file, "");
    await logs.until((line) => /model file changed on disk/.test(line));
    // Still loaded while in use, and its weights do not depend on the (now empty) file.
    expect(model.status().state).toBe("ready");
    const result = await backend.generate(
      { prompt: [{ kind: "special", token: "fim_prefix" }, { kind: "text", text: "const a = " }, { kind: "special", token: "fim_suffix" }, { kind: "special", token: "fim_middle" }], maxTokens: 4, maxTimeMs: 30_000, temperature: 0 },
      never,
    );
    expect(result.generatedTokens).toBeGreaterThan(0);

    release();
    await using;
    await statuses.until((s) => s.state === "unloaded" && /changed on disk/.test(s.message ?? ""));

    fs.copyFileSync(other, file);
    await model.load();
    expect(model.status().state).toBe("ready");
    await model.dispose();
  });
});
