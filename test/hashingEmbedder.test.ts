import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { writeHashingEmbedder } from "../src/devtools/onnx/hashingEmbeddingModel.js";
import { createEmbedder } from "../src/index/embedding/createEmbedder.js";
import { silentLogger } from "../src/util/logger.js";
import { cosine, hasMiniLmTokenizer, miniLmTokenizerDir } from "./helpers/embedder.js";

const work = fs.mkdtempSync(path.join(os.tmpdir(), "ifai-hashing-"));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

// The benchmark's "embedder with a real signal": texts that share words point the same way,
// through the real onnxruntime session and tokenizer the index uses.
const cases: Array<[string, string | undefined]> = [["the built-in WordPiece tokenizer", undefined]];
if (hasMiniLmTokenizer) cases.push(["all-MiniLM-L6-v2's tokenizer (../shared/models)", miniLmTokenizerDir]);

describe.each(cases)("hashed bag-of-subwords embedder with %s", (_name, tokenizerDir) => {
  it("gives related code and text close vectors, unrelated ones distant, the same text the same vector", async () => {
    const dir = path.join(work, tokenizerDir ? "minilm" : "builtin");
    const made = await writeHashingEmbedder(dir, { dimensions: 128, ...(tokenizerDir ? { tokenizerDir } : {}) });
    expect(made.dimensions).toBe(128);
    const embedder = await createEmbedder({ modelDir: dir, logger: silentLogger() });
    try {
      expect(embedder.dimensions).toBe(128);
      const [query] = await embedder.embed(["load the user settings file"], "query");
      const [related, unrelated, again] = await embedder.embed(
        ["function loadUserSettings(file) {\n  return readSettings(file);\n}", "function drawCircle(radius) {\n  return Math.PI * radius;\n}", "function loadUserSettings(file) {\n  return readSettings(file);\n}"],
        "document",
      );
      expect(cosine(query!, related!)).toBeGreaterThan(cosine(query!, unrelated!) + 0.2);
      expect(cosine(related!, again!)).toBeCloseTo(1, 5);
    } finally {
      await embedder.dispose();
    }
  });
});
