#!/usr/bin/env node
/**
 * Generates a Qwen2-architecture GGUF model with seeded random weights.
 *
 *   node dist/devtools/generateModel.js --shape tiny|qwen2.5-coder-0.5b --quant Q8_0 [--vocab PATH] [--seed N] --out FILE
 *
 * Without --vocab the model gets the small byte vocabulary (256 byte tokens plus the Qwen special
 * tokens); with it, the whole tokenizer is copied from the given vocabulary GGUF.
 */
import { stat } from "node:fs/promises";
import { parseArgs } from "node:util";
import {
  QWEN25_CODER_05B_SHAPE,
  TINY_SHAPE,
  writeQwen2Gguf,
  type GgmlQuant,
  type Qwen2Shape,
} from "./gguf/qwen2Model.js";

const SHAPES: Record<string, Qwen2Shape> = {
  [TINY_SHAPE.name]: TINY_SHAPE,
  [QWEN25_CODER_05B_SHAPE.name]: QWEN25_CODER_05B_SHAPE,
};
const QUANTS: readonly GgmlQuant[] = ["F32", "F16", "Q8_0", "Q4_0"];

const USAGE = `usage: generateModel --shape ${Object.keys(SHAPES).join("|")} --quant ${QUANTS.join("|")} [--vocab PATH] [--seed N] --out FILE`;

function fail(message: string): never {
  process.stderr.write(`${message}\n${USAGE}\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        shape: { type: "string" },
        quant: { type: "string", default: "Q8_0" },
        vocab: { type: "string" },
        seed: { type: "string" },
        out: { type: "string" },
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
  const shape = values.shape === undefined ? undefined : SHAPES[values.shape];
  if (shape === undefined) fail(`unknown or missing --shape ${values.shape ?? ""}`.trim());
  const quant = QUANTS.find((q) => q === values.quant);
  if (quant === undefined) fail(`unknown --quant ${values.quant}`);
  if (values.out === undefined) fail("missing --out");
  let seed: number | undefined;
  if (values.seed !== undefined) {
    seed = Number(values.seed);
    if (!Number.isSafeInteger(seed) || seed < 0 || seed > 0xffffffff) fail(`--seed must be an integer in [0, 2^32), got ${values.seed}`);
  }
  const vocab = values.vocab === undefined ? "byte" : { vocabGgufPath: values.vocab };

  const started = performance.now();
  await writeQwen2Gguf(values.out, { shape, quant, vocab, seed });
  const seconds = (performance.now() - started) / 1000;
  const { size } = await stat(values.out);
  const vocabText = vocab === "byte" ? "byte vocabulary" : `vocabulary from ${values.vocab}`;
  process.stdout.write(
    `wrote ${values.out}: ${shape.name} ${quant}, ${vocabText}, seed ${seed ?? "default"}, ` +
      `${(size / 1024 / 1024).toFixed(1)} MiB (${size} bytes) in ${seconds.toFixed(2)} s\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`generateModel: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
