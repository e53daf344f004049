import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalModel } from "../src/inference/local/LocalModel.js";
import { LocalNextEditBackend } from "../src/inference/local/LocalNextEditBackend.js";
import type { GenerateRequest } from "../src/inference/types.js";
import { silentLogger } from "../src/util/logger.js";
import { engineOptions, tinyModel } from "./helpers/models.js";
import { sharedModels } from "./helpers/paths.js";

const never = new AbortController().signal;
const stories = path.join(sharedModels, "stories260K.gguf");

/** Two engines on the same file, one decoding with prompt lookup and one without. */
async function pair(modelPath: string): Promise<{ plain: LocalNextEditBackend; speculative: LocalNextEditBackend; dispose: () => Promise<void> }> {
  const a = new LocalModel(engineOptions(modelPath, { contextSize: 1024 }), silentLogger());
  const b = new LocalModel(engineOptions(modelPath, { contextSize: 1024 }), silentLogger());
  return {
    plain: new LocalNextEditBackend(a, silentLogger(), () => ({ contextSize: 1024, speculative: false })),
    speculative: new LocalNextEditBackend(b, silentLogger(), () => ({ contextSize: 1024, speculative: true })),
    dispose: async () => {
      await a.dispose();
      await b.dispose();
    },
  };
}

const request = (region: string, extra: Partial<GenerateRequest> = {}): GenerateRequest => ({
  prompt: [{ kind: "text", text: `Rewrite:\n${region}\nRewritten:\n` }],
  maxTokens: 48,
  maxTimeMs: 60_000,
  temperature: 0,
  copySource: region,
  ...extra,
});

describe("LocalNextEditBackend: prompt-lookup decoding leaves greedy output unchanged", () => {
  let tiny: Awaited<ReturnType<typeof pair>>;
  beforeAll(async () => {
    tiny = await pair(await tinyModel());
  });
  afterAll(async () => {
    await tiny.dispose();
  });

  it("gives the same text and token count with and without speculation (tiny random model)", async () => {
    for (const region of ["function add(a, b) {\n  return a + b;\n}", "let x = 1;\nlet y = x + 1;\n"]) {
      const plain = await tiny.plain.generate(request(region), never);
      const spec = await tiny.speculative.generate(request(region), never);
      expect(spec.text).toBe(plain.text);
      expect(spec.generatedTokens).toBe(plain.generatedTokens);
      expect(plain.predictions).toBeUndefined();
      expect(spec.predictions).toBeDefined();
    }
  });

  it("stops on shouldStop, reuses the KV cache of the previous prompt, and stops at once when aborted", async () => {
    const first = await tiny.plain.generate(request("a\nb\n", { shouldStop: (t) => t.length > 0 }), never);
    expect(first.stopReason === "should-stop" || first.generatedTokens === 0).toBe(true);
    const again = await tiny.plain.generate(request("a\nb\n", { shouldStop: (t) => t.length > 0 }), never);
    expect(again.reusedTokens).toBeGreaterThan(0);
    const controller = new AbortController();
    controller.abort();
    expect((await tiny.plain.generate(request("a"), controller.signal)).stopReason).toBe("aborted");
  });

  it("names the missing special token when a format needs one the model lacks", async () => {
    if (!fs.existsSync(stories)) return;
    const models = await pair(stories);
    try {
      await expect(models.plain.generate(request("x", { prompt: [{ kind: "special", token: "file_sep" }] }), never)).rejects.toThrow(/<\|file_sep\|>/);
    } finally {
      await models.dispose();
    }
  });
});

describe.skipIf(!fs.existsSync(stories))("prompt lookup on a trained model (../shared/models/stories260K.gguf)", () => {
  it("confirms copied tokens and gives the same greedy text", async () => {
    const models = await pair(stories);
    try {
      const story = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends.";
      const req = request(story, { prompt: [{ kind: "text", text: `${story}\n${story}\nOnce upon a time, there was` }], maxTokens: 64 });
      const plain = await models.plain.generate(req, never);
      const spec = await models.speculative.generate(req, never);
      expect(spec.text).toBe(plain.text);
      // The story's retelling copies the prompt: some predicted tokens are confirmed.
      expect(spec.predictions!.validated).toBeGreaterThan(0);
    } finally {
      await models.dispose();
    }
  });
});
