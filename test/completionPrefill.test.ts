import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultSettings } from "../src/config/schema.js";
import { CompletionService, type PrefillRecord } from "../src/features/completion/CompletionService.js";
import { topWindowEnd } from "../src/features/completion/contextWindow.js";
import type { SnippetSource } from "../src/features/completion/snippets.js";
import { completionRequest } from "./helpers/completionRequest.js";
import type { CompletionBackend, PrefillRequest, PromptPart } from "../src/inference/types.js";
import { PREFILL_FIRST_STEP, PREFILL_STEP } from "../src/inference/local/LocalCompletionBackend.js";
import { SequencePool } from "../src/inference/local/SequencePool.js";
import { completionSettings } from "../src/server/server.js";
import { silentLogger } from "../src/util/logger.js";
import { createEngine, tinyModel } from "./helpers/models.js";

const never = new AbortController().signal;

/** A module of `lines` distinct lines (the tiny model's vocabulary is bytes: one token per character). */
function moduleText(name: string, lines: number): string {
  return Array.from({ length: lines }, (_, i) => `export const ${name}${i} = compute(${i}, "${name}-${i}");`).join("\n") + "\n";
}

const request = (uri: string, text: string, offset: number) => completionRequest(uri, text, offset);

describe("sequence pool", () => {
  it("keeps a sequence per slot and gives the least recently used one away", () => {
    const pool = new SequencePool<string>();
    const seqs = ["s0", "s1"];
    expect(pool.take(seqs, "a")).toBe("s0");
    expect(pool.take(seqs, "b")).toBe("s1");
    expect(pool.take(seqs, "a")).toBe("s0");
    // c takes b's sequence: a was used more recently.
    expect(pool.take(seqs, "c")).toBe("s1");
    expect(pool.slots()).toEqual(["c", "a"]);
    // New sequences (a model reload) start empty.
    expect(pool.take(["t0"], "a")).toBe("t0");
    expect(pool.slots()).toEqual(["a"]);
  });

  it("gives a new slot an idle sequence rather than one a running request holds", () => {
    const pool = new SequencePool<string>();
    const seqs = ["s0", "s1"];
    pool.take(seqs, "a");
    pool.take(seqs, "b");
    // a is the least recently used, but a request is still running on it.
    expect(pool.take(seqs, "c", (s) => s === "s0")).toBe("s1");
    // With every sequence busy, the least recently used one is shared (its request is waited for).
    expect(pool.take(seqs, "d", () => true)).toBe("s0");
  });
});

describe("the top window", () => {
  it("ends on a line boundary within 75% of the budget and advances over every line", () => {
    const count = (t: string): number => t.length;
    const text = "aaaa\nbbbb\ncccc\n";
    expect(topWindowEnd(text, 20, count)).toBe(15);
    expect(topWindowEnd(text, 8, count)).toBe(5);
    expect(topWindowEnd(text, 4, count)).toBe(0);
    expect(topWindowEnd("", 100, count)).toBe(0);
    expect(topWindowEnd("no newline at all", 100, count)).toBe(17);
  });
});

describe("background prefill on the tiny model", () => {
  let engine: ReturnType<typeof createEngine>;
  const settings = { ...completionSettings(defaultSettings()), debounceMs: 0, maxTokens: 4, maxMultilineTokens: 4, maxPrefixTokens: 1500 };
  /** The real backend, with a hook on the prefill's progress (the test's only way to act mid-prefill). */
  let onProgress: ((evaluated: number) => void) | undefined;
  let backend: CompletionBackend;

  beforeAll(async () => {
    engine = createEngine(await tinyModel(), { sequences: 3 });
    const real = engine.backend;
    backend = {
      status: () => real.status(),
      tokenizer: (s) => real.tokenizer(s),
      generate: (r, s) => real.generate(r, s),
      prefill: (r: PrefillRequest, s) => real.prefill({ ...r, onProgress: (n) => onProgress?.(n) }, s),
    };
  });
  afterAll(async () => {
    await engine.model.dispose();
  });

  it("never loads the model by itself", async () => {
    const service = new CompletionService(backend, settings, silentLogger());
    const text = moduleText("a", 5);
    const record = await service.prefill(request("file:///p/a.ts", text, text.length), "open");
    expect(record.state).toBe("skipped");
    expect(record.detail).toMatch(/not loaded/);
    expect(engine.model.status().state).toBe("unloaded");
  });

  it("makes the first request evaluate only what changed after the prefilled prefix", async () => {
    await engine.backend.tokenizer(never);
    const service = new CompletionService(backend, settings, silentLogger());
    const uri = "file:///p/prefilled.ts";
    const text = moduleText("p", 12);
    const record = await service.prefill(request(uri, text, 0), "open", "top");
    expect(record.state).toBe("done");
    expect(record.evaluatedTokens).toBeGreaterThan(text.length / 2);

    // A new line in the middle of the file, as a user starts typing there.
    const at = text.indexOf("\n", text.length / 2);
    const typed = text.slice(0, at) + "\nexport const x" + text.slice(at);
    const outcome = await service.complete(request(uri, typed, at + "\nexport const x".length), never);
    expect(outcome.metrics.source).toBe("model");
    // Everything up to the edit was in the KV cache; only the typed characters, the suffix
    // (at most its budget) and the FIM markers were evaluated.
    expect(outcome.metrics.reusedTokens).toBeGreaterThanOrEqual(at);
    expect(outcome.metrics.evaluatedTokens).toBeLessThanOrEqual("\nexport const x".length + settings.maxSuffixTokens + 3);
  });

  it("starts with short steps and doubles them up to the most, so a keystroke after a short pause waits for a short step", async () => {
    await engine.backend.tokenizer(never);
    const service = new CompletionService(backend, settings, silentLogger());
    const text = moduleText("s", 10);
    const seen: number[] = [];
    onProgress = (evaluated) => seen.push(evaluated);
    const record = await service.prefill(request("file:///p/steps.ts", text, 0), "open", "top");
    onProgress = undefined;
    expect(record.state).toBe("done");
    const steps = seen.map((n, i) => n - (seen[i - 1] ?? 0));
    expect(steps.slice(0, 4)).toEqual([PREFILL_FIRST_STEP, PREFILL_FIRST_STEP * 2, PREFILL_FIRST_STEP * 4, PREFILL_FIRST_STEP * 8]);
    expect(steps.slice(4, -1).every((n) => n === PREFILL_STEP)).toBe(true);
    expect(steps.at(-1)).toBeLessThanOrEqual(PREFILL_STEP);
    expect(seen.at(-1)).toBe(record.evaluatedTokens);
  });

  it("yields to a real request at once, and keeps what it evaluated for the next prefill", async () => {
    await engine.backend.tokenizer(never);
    const service = new CompletionService(backend, settings, silentLogger());
    const uri = "file:///p/long.ts";
    const text = moduleText("l", 30);
    const other = "const y = compute(";
    let answered: ReturnType<CompletionService["complete"]> | undefined;
    let evaluatedWhenPreempted = 0;
    onProgress = (evaluated) => {
      if (answered || evaluated < 96) return;
      evaluatedWhenPreempted = evaluated;
      // A keystroke in another file while the prefill runs.
      answered = service.complete(request("file:///p/other.ts", other, other.length), never);
    };
    const record = await service.prefill(request(uri, text, 0), "open", "top");
    onProgress = undefined;
    expect(answered).toBeDefined();
    const outcome = await answered!;
    expect(outcome.metrics.source).toBe("model");
    expect(record.state).toBe("aborted");
    // It stopped at the step it was in: not one more step after the request arrived.
    expect(record.evaluatedTokens).toBe(evaluatedWhenPreempted);
    expect(record.evaluatedTokens).toBeLessThan(record.promptTokens);

    // The other file used another sequence, so the partial prefill is still there.
    const again = await service.prefill(request(uri, text, 0), "focus", "top");
    expect(again.state).toBe("done");
    expect(again.reusedTokens).toBeGreaterThanOrEqual(evaluatedWhenPreempted);
    expect(service.recentPrefillRecords().map((r) => r.state)).toEqual(["aborted", "done"]);
  });

  it("keeps the prefill's snippets for the first request's line, then lets the source choose again", async () => {
    await engine.backend.tokenizer(never);
    // An index whose best snippet depends on the cursor's line, as a real one's does.
    const byLine: SnippetSource = {
      select: (query) => [{ path: `lib/near-line-${query.cursorLine}.ts`, text: `export const nearLine${query.cursorLine} = ${query.cursorLine};\n`, score: 1 }],
    };
    const service = new CompletionService(backend, settings, silentLogger(), byLine);
    const uri = "file:///p/pinned.ts";
    const text = moduleText("n", 12);
    expect((await service.prefill(request(uri, text, 0), "open", "top")).state).toBe("done");

    const at = text.indexOf("\n", text.length / 2);
    const typed = text.slice(0, at) + "\nlet v" + text.slice(at);
    const firstRequest = await service.complete(request(uri, typed, at + 6), never);
    // The prefill assumed another line; its snippet was kept, so the prompt was warm up to the edit.
    expect(firstRequest.metrics.reusedTokens).toBeGreaterThanOrEqual(at);

    const sameLine = typed.slice(0, at + 6) + "a" + typed.slice(at + 6);
    const second = await service.complete(request(uri, sameLine, at + 7), never);
    expect(second.metrics.reusedTokens).toBeGreaterThanOrEqual(at + 6);

    // On another line the source chooses again (its snippet changes, and the prompt is cold from there).
    const top = text.indexOf("\n") + 1;
    const elsewhere = await service.complete(request(uri, sameLine, top), never);
    expect(elsewhere.metrics.reusedTokens).toBeLessThan(40);
  });

  it("switching back to a file finds its prompt still evaluated", async () => {
    // The full prompt on every request (the first-prompt lane has tests of its own below).
    const service = new CompletionService(backend, { ...settings, firstPrefixTokens: 0 }, silentLogger());
    const a = moduleText("sa", 8);
    const b = moduleText("sb", 8);
    const first = await service.complete(request("file:///p/sa.ts", a + "const q", a.length + 7), never);
    await service.complete(request("file:///p/sb.ts", b + "const r", b.length + 7), never);
    const back = await service.complete(request("file:///p/sa.ts", a + "const qu", a.length + 8), never);
    expect(first.metrics.source).toBe("model");
    expect(back.metrics.source).toBe("model");
    expect(back.metrics.reusedTokens).toBeGreaterThanOrEqual(a.length + 7);
    expect(back.metrics.evaluatedTokens).toBeLessThanOrEqual(1 + settings.maxSuffixTokens + 3);
  });

  it("runs requests on different slots at the same time: one does not wait for the other's whole answer", async () => {
    await engine.backend.tokenizer(never);
    const prompt = (text: string): PromptPart[] => [
      { kind: "special", token: "fim_prefix" },
      { kind: "text", text },
      { kind: "special", token: "fim_suffix" },
      { kind: "text", text: "\n" },
      { kind: "special", token: "fim_middle" },
    ];
    const order: string[] = [];
    let second: Promise<unknown> | undefined;
    let secondAnswered = false;
    // A long answer in window A; once it has a token, window B asks on another slot. A keeps
    // going until B has a token of its own: with one request at a time it would reach its cap.
    const first = engine.backend.generate(
      {
        // Prompts after which the tiny model answers long (A) and that are short to evaluate (B).
        prompt: prompt("x"),
        maxTokens: 400,
        maxTimeMs: 60_000,
        temperature: 0,
        slot: "window-a",
        shouldStop: () => {
          if (!second) {
            order.push("a:first token");
            second = engine.backend.generate(
              {
                prompt: prompt("aaaa"),
                maxTokens: 2,
                maxTimeMs: 60_000,
                temperature: 0,
                slot: "window-b",
                shouldStop: () => {
                  if (!secondAnswered) order.push("b:first token");
                  secondAnswered = true;
                  return false;
                },
              },
              never,
            );
          }
          return secondAnswered;
        },
      },
      never,
    );
    const a = await first.then((result) => {
      order.push("a:answered");
      return result;
    });
    await second;
    // B's first token came while A was still answering (A then stopped, at the verdict or its own end).
    expect(order).toEqual(["a:first token", "b:first token", "a:answered"]);
    expect(a.generatedTokens).toBeLessThan(400);
  });

  describe("a first suggestion before the full prompt is evaluated", () => {
    const lanes = { ...settings, firstPrefixTokens: 64, maxSnippetTokens: 0 };
    const typedAt = (text: string, line: number, typed: string): { text: string; offset: number } => {
      let at = -1;
      for (let i = 0; i <= line; i++) at = text.indexOf("\n", at + 1);
      return { text: text.slice(0, at) + typed + text.slice(at), offset: at + typed.length };
    };

    it("uses the short first prompt, and the full prompt once a pause has evaluated it", async () => {
      await engine.backend.tokenizer(never);
      const service = new CompletionService(backend, lanes, silentLogger());
      const uri = "file:///p/lanes.ts";
      const base = moduleText("ln", 24);
      const one = typedAt(base, 20, "\nconst z");
      const cold = await service.complete(request(uri, one.text, one.offset), never);
      expect(cold.metrics.source).toBe("model");
      expect(cold.metrics.lane).toBe("first");
      // The first prompt's window is at most its budget (one token per character here), and it has no snippets.
      expect(cold.metrics.promptTokens).toBeLessThanOrEqual(lanes.firstPrefixTokens + lanes.maxSuffixTokens + 3);

      // The next keystroke stays on the warm first prompt.
      const two = typedAt(base, 20, "\nconst ze");
      const next = await service.complete(request(uri, two.text, two.offset), never);
      expect(next.metrics.lane).toBe("first");
      expect(next.metrics.evaluatedTokens).toBeLessThanOrEqual(1 + lanes.maxSuffixTokens + 3);

      // A pause: the first prompt is warm, so only the full prompt is evaluated.
      const paused = await service.prefill(request(uri, two.text, two.offset), "pause");
      expect(paused).toMatchObject({ lane: "full", state: "done" });
      expect(paused.promptTokens).toBeGreaterThan(two.offset / 2);

      const three = typedAt(base, 20, "\nconst zet");
      const warm = await service.complete(request(uri, three.text, three.offset), never);
      expect(warm.metrics.lane).toBe("full");
      expect(warm.metrics.reusedTokens).toBeGreaterThanOrEqual(paused.promptTokens - lanes.maxSuffixTokens - 3);
      expect(warm.metrics.evaluatedTokens).toBeLessThanOrEqual(1 + lanes.maxSuffixTokens + 3);
    });

    it("evaluates the full prompt in the background after an answer from the first prompt", async () => {
      await engine.backend.tokenizer(never);
      const service = new CompletionService(backend, lanes, silentLogger());
      const uri = "file:///p/upgrade.ts";
      const base = moduleText("up", 24);
      const one = typedAt(base, 20, "\nlet q");
      expect((await service.complete(request(uri, one.text, one.offset), never)).metrics.lane).toBe("first");
      // Nothing else runs: the upgrade starts once the answer is out, and finishes.
      let upgrade: PrefillRecord | undefined;
      while (!(upgrade = service.recentPrefillRecords().find((r) => r.reason === "upgrade" && r.state !== "aborted"))) await new Promise(setImmediate);
      expect(upgrade).toMatchObject({ lane: "full", state: "done" });

      const two = typedAt(base, 20, "\nlet qu");
      const next = await service.complete(request(uri, two.text, two.offset), never);
      expect(next.metrics.lane).toBe("full");
      expect(next.metrics.evaluatedTokens).toBeLessThanOrEqual(1 + lanes.maxSuffixTokens + 3);
    });

    it("prefills the first prompt before the full one when the cursor is known", async () => {
      await engine.backend.tokenizer(never);
      const service = new CompletionService(backend, lanes, silentLogger());
      const uri = "file:///p/focused.ts";
      const text = moduleText("fo", 24);
      const at = typedAt(text, 18, "").offset;
      const record = await service.prefill(request(uri, text, at), "focus");
      expect(record).toMatchObject({ lane: "full", state: "done" });
      expect(service.recentPrefillRecords().map((r) => [r.lane, r.state])).toEqual([
        ["first", "done"],
        ["full", "done"],
      ]);
      // Both are warm; the full prompt serves the keystroke.
      const typed = typedAt(text, 18, "\nx");
      const outcome = await service.complete(request(uri, typed.text, typed.offset), never);
      expect(outcome.metrics.lane).toBe("full");
      expect(outcome.metrics.evaluatedTokens).toBeLessThanOrEqual(2 + lanes.maxSuffixTokens + 3);
    });

    it("keeps the full prompt when it is nearly evaluated, and when the lane is off", async () => {
      await engine.backend.tokenizer(never);
      const small = moduleText("sm", 1);
      const service = new CompletionService(backend, lanes, silentLogger());
      // A prompt within the first budget is the full prompt.
      const short = await service.complete(request("file:///p/small.ts", small + "let a", small.length + 5), never);
      expect(short.metrics.lane).toBe("full");

      const off = new CompletionService(backend, { ...lanes, firstPrefixTokens: 0 }, silentLogger());
      const base = moduleText("of", 24);
      const typed = typedAt(base, 20, "\nconst o");
      const outcome = await off.complete(request("file:///p/off.ts", typed.text, typed.offset), never);
      expect(outcome.metrics.lane).toBe("full");
      expect(outcome.metrics.promptTokens).toBeGreaterThan(typed.offset / 2);

      // On a GPU a cold full prompt is fast: it always serves.
      const onGpu: CompletionBackend = { ...backend, status: () => ({ ...backend.status(), gpu: "metal" }) };
      const gpu = new CompletionService(onGpu, lanes, silentLogger());
      const cold = typedAt(base, 21, "\nconst g");
      const fromGpu = await gpu.complete(request("file:///p/gpu.ts", cold.text, cold.offset), never);
      expect(fromGpu.metrics.lane).toBe("full");
      expect(fromGpu.metrics.promptTokens).toBeGreaterThan(cold.offset / 2);
    });
  });
});
