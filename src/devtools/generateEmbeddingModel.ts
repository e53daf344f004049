#!/usr/bin/env node
/**
 * Generates an embedding model folder with seeded random weights (model.onnx and/or
 * model_quantized.onnx, tokenizer.json, config.json), for trying the index's vector search and for
 * benchmarks. Its vectors carry no meaning.
 *
 *   node dist/devtools/generateEmbeddingModel.js --out DIR [--shape tiny|minilm|base] [--precision fp32|int8|both]
 *                                                [--tokenizer DIR] [--seed N]
 *
 * tiny: the test graph (hidden 32, no attention). minilm: all-MiniLM-L6-v2's exact shape (6 layers
 * × 384). base: 12 layers × 768, the size of jina-embeddings-v2-base-code and CodeRankEmbed.
 * hashing: a hashed bag of subwords (256 dims, hashingEmbeddingModel.ts), the one generated model
 * whose vectors carry meaning (weakly); --precision and --seed do not apply to it.
 * Without --tokenizer the folder gets a small built-in WordPiece tokenizer.
 */
import { parseArgs } from "node:util";
import { writeHashingEmbedder } from "./onnx/hashingEmbeddingModel.js";
import { writeTinyEmbedder, type TinyEmbedderOptions } from "./onnx/tinyEmbeddingModel.js";

const SHAPES: Record<string, Pick<TinyEmbedderOptions, "hidden" | "bert">> = {
  tiny: { hidden: 32 },
  minilm: { hidden: 384, bert: { layers: 6, heads: 12, intermediate: 1536 } },
  base: { hidden: 768, bert: { layers: 12, heads: 12, intermediate: 3072 } },
};
const PRECISIONS = ["fp32", "int8", "both"] as const;
const USAGE = `usage: generateEmbeddingModel --out DIR [--shape ${[...Object.keys(SHAPES), "hashing"].join("|")}] [--precision ${PRECISIONS.join("|")}] [--tokenizer DIR] [--seed N]`;

function fail(message: string): never {
  process.stderr.write(`${message}\n${USAGE}\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        out: { type: "string" },
        shape: { type: "string", default: "tiny" },
        precision: { type: "string", default: "fp32" },
        tokenizer: { type: "string" },
        seed: { type: "string", default: "1" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    }));
  } catch (error) {
    fail((error as Error).message);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (values.shape === "hashing") {
    if (values.out === undefined) fail("missing --out");
    const made = await writeHashingEmbedder(values.out, values.tokenizer ? { tokenizerDir: values.tokenizer } : {});
    process.stdout.write(`wrote ${values.out}: hashed bag of subwords (${made.dimensions} dims, ${made.vocabSize} tokens from ${made.tokenizer})\n`);
    return;
  }
  const shape = SHAPES[values.shape];
  if (shape === undefined) fail(`unknown --shape ${values.shape}`);
  const precision = PRECISIONS.find((p) => p === values.precision);
  if (precision === undefined) fail(`unknown --precision ${values.precision}`);
  if (values.out === undefined) fail("missing --out");
  const seed = Number(values.seed);
  if (!Number.isSafeInteger(seed) || seed < 0 || seed > 0xffffffff) fail(`--seed must be an integer in [0, 2^32), got ${values.seed}`);
  const started = performance.now();
  await writeTinyEmbedder(values.out, { ...shape, precision, seed, ...(values.tokenizer ? { tokenizerDir: values.tokenizer } : {}) });
  process.stdout.write(
    `wrote ${values.out}: ${values.shape} (${shape.hidden} dims) ${precision}, ${values.tokenizer ? `tokenizer from ${values.tokenizer}` : "built-in WordPiece tokenizer"}, ` +
      `seed ${seed}, in ${((performance.now() - started) / 1000).toFixed(1)} s\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`generateEmbeddingModel: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
