import { describe, expect, it } from "vitest";
import { LocalChatBackend } from "../src/inference/local/LocalChatBackend.js";
import { ModelUnloadedError, type ChatRequest, type PromptPart } from "../src/inference/types.js";
import { silentLogger } from "../src/util/logger.js";
import { createEngine, tinyModel } from "./helpers/models.js";

const never = new AbortController().signal;
const chatRequest = (extra: Partial<ChatRequest> = {}): ChatRequest => ({
  messages: [{ role: "user", content: "Count to one thousand." }],
  maxTokens: 200,
  maxTimeMs: 60_000,
  temperature: 0,
  ...extra,
});
const fim: PromptPart[] = [
  { kind: "special", token: "fim_prefix" },
  { kind: "text", text: "def area(w, h):\n    return " },
  { kind: "special", token: "fim_suffix" },
  { kind: "text", text: "\n" },
  { kind: "special", token: "fim_middle" },
];

/**
 * ifai.unloadModel, a configuration change or the idle timer unloading the model while requests
 * run on it: the unload is started from inside a generation (its streaming callback), so it always
 * lands while the model is in use.
 */
describe("unloading the local model while requests use it", () => {
  it("a chat cut short by the unload rejects with ModelUnloadedError, the unload waits for it, and a chat asked meanwhile reloads the model", async () => {
    const engine = createEngine(await tinyModel());
    const chat = new LocalChatBackend(engine.model, silentLogger(), () => ({ contextSize: 1024 }));
    try {
      let unloading: Promise<void> | undefined;
      let during: Promise<unknown> | undefined;
      const running = chat.chat(
        chatRequest({
          onText: () => {
            if (unloading) return;
            unloading = engine.model.unload();
            // A request that arrives while the model unloads.
            during = chat.chat(chatRequest({ maxTokens: 4 }), never);
          },
        }),
        never,
      );
      const failure = await running.then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(unloading).toBeDefined();
      expect(failure).toBeInstanceOf(ModelUnloadedError);
      expect((failure as Error).message).toMatch(/was unloaded while this request ran/);
      await unloading;
      const next = (await during) as { stopReason: string; generatedTokens: number };
      expect(next.stopReason).not.toBe("aborted");
      expect(engine.model.status().state).toBe("ready");
    } finally {
      await engine.model.dispose();
    }
  });

  it("a completion cut short by the unload is answered as aborted; the next one reloads the model", async () => {
    const engine = createEngine(await tinyModel());
    try {
      let unloading: Promise<void> | undefined;
      const result = await engine.backend.generate(
        {
          prompt: fim,
          maxTokens: 200,
          maxTimeMs: 60_000,
          temperature: 0,
          shouldStop: () => {
            unloading ??= engine.model.unload();
            return false;
          },
        },
        never,
      );
      expect(unloading).toBeDefined();
      expect(result.stopReason).toBe("aborted");
      await unloading;
      expect(engine.model.status().state).toBe("unloaded");
      const next = await engine.backend.generate({ prompt: fim, maxTokens: 4, maxTimeMs: 60_000, temperature: 0 }, never);
      expect(next.stopReason).not.toBe("aborted");
      expect(engine.model.status().state).toBe("ready");
    } finally {
      await engine.model.dispose();
    }
  });
});
