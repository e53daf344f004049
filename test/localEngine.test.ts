import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ModelUnavailableError, type GenerateRequest, type ModelStatus, type PromptPart } from "../src/inference/types.js";
import { autoThreads } from "../src/inference/local/llamaRuntime.js";
import { createEngine, tempDir, tinyModel } from "./helpers/models.js";
import { sharedModels } from "./helpers/paths.js";

const fim = (prefix: string, suffix: string): PromptPart[] => [
  { kind: "special", token: "fim_prefix" },
  { kind: "text", text: prefix },
  { kind: "special", token: "fim_suffix" },
  { kind: "text", text: suffix },
  { kind: "special", token: "fim_middle" },
];
const request = (prompt: PromptPart[], extra: Partial<GenerateRequest> = {}): GenerateRequest => ({
  prompt,
  maxTokens: 8,
  maxTimeMs: 30_000,
  temperature: 0,
  ...extra,
});
const never = new AbortController().signal;
const code = "function fibonacci(n: number): number {\n  if (n < 2) return n;\n  return fibonacci(n - 1) + fibonacci(n - 2);\n}\n\nconst x = ";

describe("local engine on the generated tiny Qwen2 model", () => {
  let modelPath: string;
  let engine: ReturnType<typeof createEngine>;
  const statuses: ModelStatus[] = [];

  beforeAll(async () => {
    modelPath = await tinyModel();
    engine = createEngine(modelPath);
    engine.model.onStatus((s) => statuses.push(s));
  });
  afterAll(async () => {
    await engine.model.dispose();
  });

  it("loads lazily on first use and reports loading then ready", async () => {
    expect(engine.backend.status().state).toBe("unloaded");
    const tokenizer = await engine.backend.tokenizer(never);
    expect(tokenizer.countTokens("hello")).toBeGreaterThan(0);
    expect(statuses.map((s) => s.state)).toEqual(["loading", "ready"]);
    expect(engine.backend.status()).toMatchObject({ state: "ready", gpu: "cpu", threads: 1 });
  });

  it("generates a bounded completion and counts every prompt token as evaluated the first time", async () => {
    const result = await engine.backend.generate(request(fim("cold start " + code, "\n}")), never);
    expect(result.generatedTokens).toBeGreaterThan(0);
    expect(result.generatedTokens).toBeLessThanOrEqual(8);
    expect(["max-tokens", "stop-token", "end-of-generation"]).toContain(result.stopReason);
    expect(result.reusedTokens).toBe(0);
    expect(result.evaluatedTokens).toBe(result.promptTokens);
    expect(result.firstTokenMs).toBeGreaterThan(0);
  });

  it("reuses the KV cache: a keystroke costs only the new tokens and the suffix", async () => {
    const suffix = ";\nconsole.log(x);\n";
    const first = await engine.backend.generate(request(fim(code, suffix)), never);
    const second = await engine.backend.generate(request(fim(code + "f", suffix)), never);
    const suffixTokens = (await engine.backend.tokenizer(never)).countTokens(suffix);
    // Everything up to the end of the old prefix is reused; only "f", the suffix and 2 markers are new.
    expect(second.reusedTokens).toBeGreaterThanOrEqual(first.promptTokens - suffixTokens - 2);
    expect(second.evaluatedTokens).toBeLessThanOrEqual(suffixTokens + 4);
    expect(second.evaluatedTokens + second.reusedTokens).toBe(second.promptTokens);
  });

  it("re-evaluates only the last token when the same prompt comes again", async () => {
    const prompt = fim(code, "");
    await engine.backend.generate(request(prompt), never);
    const again = await engine.backend.generate(request(prompt), never);
    expect(again.evaluatedTokens).toBe(1);
    expect(again.reusedTokens).toBe(again.promptTokens - 1);
  });

  it("is deterministic with greedy sampling", async () => {
    const a = await engine.backend.generate(request(fim("determinism " + code, "")), never);
    await engine.backend.generate(request(fim("something else", "")), never);
    const b = await engine.backend.generate(request(fim("determinism " + code, "")), never);
    expect(b.text).toBe(a.text);
  });

  it("stops when shouldStop says so and at maxTokens", async () => {
    const seen: string[] = [];
    const stopped = await engine.backend.generate(
      request(fim(code, ""), { maxTokens: 50, shouldStop: (t) => (seen.push(t), t.length >= 3) }),
      never,
    );
    if (stopped.stopReason === "should-stop") expect(stopped.text.length).toBeGreaterThanOrEqual(3);
    else expect(stopped.stopReason).toBe("stop-token");
    expect(seen.every((t, i) => i === 0 || t.length >= seen[i - 1]!.length)).toBe(true);
    const capped = await engine.backend.generate(request(fim(code + "1", ""), { maxTokens: 2 }), never);
    expect(capped.generatedTokens).toBeLessThanOrEqual(2);
  });

  it("ends a completion on a Qwen special token and never shows it", async () => {
    // Random weights give near-uniform logits over the small vocabulary, in which 9 of the
    // tokens are special: over 40 prompts some generation hits one.
    const results = [];
    for (let i = 0; i < 40; i++) results.push(await engine.backend.generate(request(fim(`v${i} = `, ""), { maxTokens: 24 }), never));
    const stopped = results.filter((r) => r.stopReason === "stop-token");
    expect(stopped.length).toBeGreaterThan(0);
    for (const r of results) expect(r.text).not.toMatch(/<\|(fim_|repo_name|file_sep|endoftext|im_)/);
    for (const r of stopped) expect(r.generatedTokens).toBeLessThan(24);
  });

  it("tokenizes user text literally: a special token's spelling in a file is not a control token", async () => {
    const tokenizer = await engine.backend.tokenizer(never);
    expect(tokenizer.countTokens("<|fim_middle|>")).toBe("<|fim_middle|>".length);
  });

  it("cancels between evaluation steps; the evaluated part is reused by the next request", async () => {
    const longPrefix = code.repeat(12);
    const controller = new AbortController();
    const pending = engine.backend.generate(request(fim(longPrefix, "")), controller.signal);
    controller.abort();
    const cancelled = await pending;
    expect(cancelled.stopReason).toBe("aborted");
    expect(cancelled.generatedTokens).toBe(0);

    const partial = new AbortController();
    const unique = "/* a prefix no earlier prompt shares */\n" + longPrefix;
    const running = engine.backend.generate(
      request(fim(unique, ""), { onPromptProgress: (evaluated) => evaluated >= 64 && partial.abort() }),
      partial.signal,
    );
    const aborted = await running;
    expect(aborted.stopReason).toBe("aborted");
    expect(aborted.evaluatedTokens).toBeLessThan(aborted.promptTokens);
    expect(aborted.evaluatedTokens).toBeGreaterThanOrEqual(64);
    const next = await engine.backend.generate(request(fim(unique, "")), never);
    // The fim_prefix marker plus every token evaluated before the cancel is reused.
    expect(next.reusedTokens).toBe(aborted.evaluatedTokens + 1);
    expect(next.stopReason).not.toBe("aborted");
  });

  it("returns aborted at once for a request cancelled before it starts", async () => {
    const controller = new AbortController();
    controller.abort();
    const result = await engine.backend.generate(request(fim(code, "")), controller.signal);
    expect(result).toMatchObject({ stopReason: "aborted", generatedTokens: 0, evaluatedTokens: 0 });
  });

  it("rejects a prompt that cannot fit the context with a clear error", async () => {
    const huge = "a".repeat(5000);
    await expect(engine.backend.generate(request(fim(huge, "")), never)).rejects.toThrow(/does not fit the 4096-token context/);
    // The engine stays usable.
    const ok = await engine.backend.generate(request(fim(code, "")), never);
    expect(ok.generatedTokens).toBeGreaterThan(0);
  });
});

describe("model lifecycle", () => {
  const dir = tempDir();
  afterAll(() => dir.cleanup());

  it("unloads after the idle time and reloads on the next use", async () => {
    const { model, backend } = createEngine(await tinyModel(), { keepLoaded: false, idleUnloadMs: 30 });
    const unloaded = new Promise<void>((resolve) => model.onStatus((s) => s.state === "unloaded" && resolve()));
    await backend.generate(request(fim("idle", ""), { maxTokens: 1 }), never);
    await unloaded;
    expect(model.status().state).toBe("unloaded");
    const again = await backend.generate(request(fim("idle", ""), { maxTokens: 1 }), never);
    expect(again.reusedTokens).toBe(0);
    await model.dispose();
  });

  it("a missing model is reported with what to configure, and retried once the file appears", async () => {
    const file = path.join(dir.path, "later.gguf");
    const { model, backend } = createEngine(file);
    await expect(backend.tokenizer(never)).rejects.toBeInstanceOf(ModelUnavailableError);
    await expect(backend.tokenizer(never)).rejects.toThrow(/no model file at .*later\.gguf.*model\.path/);
    expect(model.status()).toMatchObject({ state: "error" });
    fs.copyFileSync(await tinyModel(), file);
    await expect(backend.tokenizer(never)).resolves.toBeDefined();
    expect(model.status().state).toBe("ready");
    await model.dispose();
  });

  it("a file that is not GGUF, a truncated GGUF and a folder give clear errors, not crashes", async () => {
    const text = path.join(dir.path, "notes.gguf");
    fs.writeFileSync(text, "this is not a model");
    await expect(createEngine(text).backend.tokenizer(never)).rejects.toThrow(/is not a GGUF model file/);
    const truncated = path.join(dir.path, "truncated.gguf");
    fs.writeFileSync(truncated, fs.readFileSync(await tinyModel()).subarray(0, 4096));
    await expect(createEngine(truncated).backend.tokenizer(never)).rejects.toThrow(/failed to load/);
    await expect(createEngine(dir.path).backend.tokenizer(never)).rejects.toThrow(/is a folder/);
  });

  it.skipIf(!fs.existsSync(path.join(sharedModels, "stories260K.gguf")))(
    "a real model without fill-in-the-middle tokens is refused with a clear reason (needs ../shared/models/stories260K.gguf, absent in a user's clone)",
    async () => {
      const { model, backend } = createEngine(path.join(sharedModels, "stories260K.gguf"));
      await expect(backend.tokenizer(never)).rejects.toThrow(/no fill-in-the-middle token <\|fim_prefix\|>/);
      await model.dispose();
    },
  );

  it("automatic thread count never oversubscribes a small machine", () => {
    expect(autoThreads(1)).toBe(1);
    expect(autoThreads(2)).toBe(2);
    expect(autoThreads(4)).toBe(3);
    expect(autoThreads(64)).toBe(8);
  });
});
