import { afterEach, describe, expect, it } from "vitest";
import { getLlamaRuntime } from "../src/inference/local/llamaRuntime.js";
import { estimateMemory, InsufficientMemoryError, planContext, type MemoryEstimate } from "../src/inference/local/memoryGuard.js";
import { ModelUnavailableError } from "../src/inference/types.js";
import { silentLogger } from "../src/util/logger.js";
import { createEngine, tinyModel } from "./helpers/models.js";

const MB = 1e6;
/** A linear model of context memory: 1 MB per 64 tokens, weights 100 MB. */
const linear: MemoryEstimate = { modelBytes: 100 * MB, contextBytes: async (ctx) => (ctx / 64) * MB };

describe("planContext", () => {
  it("keeps the requested context when it fits", async () => {
    expect(await planContext(4096, linear, 200 * MB, "m.gguf")).toEqual({ contextSize: 4096 });
  });

  it("halves the context until it fits and says so", async () => {
    const plan = await planContext(4096, linear, 140 * MB, "m.gguf");
    expect(plan.contextSize).toBe(2048);
    expect(plan.notice).toMatch(/Context shrunk from 4096 to 2048 tokens.*m\.gguf.*164 MB.*140 MB are free/);
  });

  it("refuses with the need, the free memory and the fixes when even 512 tokens do not fit", async () => {
    const error = await planContext(4096, linear, 105 * MB, "big.gguf").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InsufficientMemoryError);
    expect((error as Error).message).toMatch(/Not enough free memory to load big\.gguf: it needs about 108 MB \(weights 100 MB \+ a 512-token context 8 MB\) and 105 MB are free.*models list.*model\.memoryCheck/);
  });
});

describe("the memory guard in LocalModel (real node-llama-cpp, generated model)", () => {
  const engines: Array<{ model: { dispose(): Promise<void> } }> = [];
  afterEach(async () => {
    for (const e of engines.splice(0)) await e.model.dispose();
  });

  it("estimates from the GGUF header, shrinks the context when memory is short and refuses when it is far too short", async () => {
    const path = await tinyModel();
    const llama = await getLlamaRuntime("cpu", 1, silentLogger());
    const estimate = await estimateMemory(llama, path, 512);
    expect(estimate.modelBytes).toBeGreaterThan(0);
    const ctx4096 = await estimate.contextBytes(4096);
    const ctx1024 = await estimate.contextBytes(1024);
    expect(ctx4096).toBeGreaterThan(ctx1024);

    const roomy = createEngine(path, { contextSize: 4096, freeMemory: () => 1e12 });
    engines.push(roomy);
    const a = await roomy.model.load();
    expect(a.context.contextSize).toBe(4096);
    expect(roomy.model.status().notice).toBeUndefined();

    const tight = createEngine(path, { contextSize: 4096, freeMemory: () => estimate.modelBytes + ctx1024 + 1000 });
    engines.push(tight);
    const b = await tight.model.load();
    expect(b.context.contextSize).toBeLessThanOrEqual(1024);
    expect(tight.model.status()).toMatchObject({ state: "ready", contextSize: b.context.contextSize });
    expect(tight.model.status().notice).toMatch(/Context shrunk from 4096 to 1024 tokens/);

    const starved = createEngine(path, { freeMemory: () => 1000 });
    engines.push(starved);
    const error = await starved.model.load().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelUnavailableError);
    expect((error as Error).message).toMatch(/^Not enough free memory to load qwen2-tiny/);
    expect(starved.model.status()).toMatchObject({ state: "error" });

    // The check can be turned off.
    const unchecked = createEngine(path, { contextSize: 2048, memoryCheck: false, freeMemory: () => 1000 });
    engines.push(unchecked);
    expect((await unchecked.model.load()).context.contextSize).toBe(2048);
  });
});
