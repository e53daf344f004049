import type { LlamaModel } from "node-llama-cpp";
import vm from "node:vm";
import { afterEach, describe, expect, it, vi } from "vitest";
import { exposedGc, NativeGarbage } from "../src/inference/local/nativeGarbage.js";

/** Only the vocabulary size is read from the model: n_vocab × 12 bytes per evaluation call. */
const modelWithVocab = (n: number): LlamaModel => ({ fileInfo: { metadata: { tokenizer: { ggml: { tokens: new Array<string>(n).fill("t") } } } } }) as unknown as LlamaModel;
const qwen = modelWithVocab(151_936); // 1.82 MB per evaluation

describe("NativeGarbage", () => {
  afterEach(() => void vi.useRealTimers());

  it("gets V8's full collector on this runtime, without --expose-gc", () => {
    const gc = exposedGc();
    expect(typeof gc).toBe("function");
    expect(() => gc!({ type: "major", execution: "sync", flavor: "regular" })).not.toThrow();
    // The flag is switched off again: contexts made later (workers, vm) get no gc global.
    if (!process.execArgv.some((a) => a.replace(/_/g, "-") === "--expose-gc")) expect(vm.runInNewContext("typeof gc")).toBe("undefined");
  });

  it("collects once enough sampler memory is pending and generation pauses, not before", () => {
    vi.useFakeTimers();
    const calls: string[] = [];
    const garbage = new NativeGarbage((o) => calls.push(o?.flavor ?? "?"), 400);
    garbage.noteEvaluations(qwen, 5); // 9 MB: below the threshold
    vi.advanceTimersByTime(1000);
    expect(calls).toEqual([]);
    garbage.noteEvaluations(qwen, 10); // 27 MB: due at the next pause
    vi.advanceTimersByTime(300);
    garbage.noteEvaluations(qwen, 1); // typing goes on: the pause starts again
    vi.advanceTimersByTime(300);
    expect(calls).toEqual([]);
    vi.advanceTimersByTime(100);
    expect(calls).toEqual(["regular"]);
    expect(garbage.pendingBytes()).toBe(0);
  });

  it("waits for running model work before an idle collection", () => {
    vi.useFakeTimers();
    const calls: string[] = [];
    const garbage = new NativeGarbage((o) => calls.push(o?.flavor ?? "?"), 400);
    garbage.noteEvaluations(qwen, 20); // 36 MB: due at the next pause
    const done = garbage.working(); // a long generation starts before the pause is over
    vi.advanceTimersByTime(1500);
    expect(calls).toEqual([]);
    done();
    done(); // ending twice counts once
    vi.advanceTimersByTime(400);
    expect(calls).toEqual(["regular"]);
  });

  it("collects at once past the hard limit, even without a pause", () => {
    const calls: string[] = [];
    const garbage = new NativeGarbage((o) => calls.push(o?.flavor ?? "?"), 60_000);
    garbage.noteEvaluations(qwen, 100); // 182 MB
    expect(calls).toEqual(["regular"]);
  });

  it("asks for a heap-shrinking collection after a model load", () => {
    vi.useFakeTimers();
    const calls: string[] = [];
    const garbage = new NativeGarbage((o) => calls.push(o?.flavor ?? "?"), 400);
    garbage.collectSoon();
    vi.advanceTimersByTime(400);
    expect(calls).toEqual(["last-resort"]);
  });

  it("does nothing where no collector is available", () => {
    const garbage = new NativeGarbage(null, 400);
    garbage.noteEvaluations(qwen, 1000);
    expect(garbage.pendingBytes()).toBe(0);
  });
});
