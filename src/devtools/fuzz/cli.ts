import path from "node:path";
import { fileURLToPath } from "node:url";
import { ensureGeneratedModel, TINY_SHAPE } from "../gguf/qwen2Model.js";
import { runFuzz } from "./runFuzz.js";

/**
 * `npm run fuzz -- --cases 100000 --seed N [--from K] [--batch 50] [--per-server 40] [--timeout-ms 60000]`:
 * the protocol fuzzer against the built server. Progress goes to stderr, each failure with the
 * command that replays its batch, and one JSON line with the figures to stdout at the end.
 */
const USAGE = "usage: npm run fuzz -- [--cases N] [--seed N] [--from K] [--batch N] [--per-server N] [--timeout-ms N]";

function numberArg(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(name);
  const inline = args.find((a) => a.startsWith(`${name}=`));
  const raw = inline ? inline.slice(name.length + 1) : i >= 0 ? args[i + 1] : undefined;
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} needs a whole number, got ${raw}\n${USAGE}`);
  return n;
}

async function main(args: string[]): Promise<number> {
  if (args.includes("--help")) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const seed = numberArg(args, "--seed", Date.now() % 1_000_000);
  const cases = numberArg(args, "--cases", 2000);
  const from = numberArg(args, "--from", 0);
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
  const modelPath = await ensureGeneratedModel(path.join(root, ".cache", "test-models"), { shape: TINY_SHAPE, quant: "Q8_0", vocab: "byte", seed: 7 });
  process.stderr.write(`fuzz: seed ${seed}, cases ${from}..${from + cases - 1}, model ${modelPath}\n`);
  let lastShown = 0;
  const report = await runFuzz({
    seed,
    cases,
    from,
    batch: numberArg(args, "--batch", 50),
    batchesPerServer: numberArg(args, "--per-server", 40),
    batchTimeoutMs: numberArg(args, "--timeout-ms", 60_000),
    modelPath,
    onProgress: (p) => {
      if (p.done - lastShown < 1000 && p.done < p.total) return;
      lastShown = p.done;
      process.stderr.write(`fuzz: ${p.done}/${p.total} cases, ${p.failures} failures, ${p.servers} servers, ${(p.elapsedMs / 1000).toFixed(0)} s\n`);
    },
  });
  for (const f of report.failures) {
    process.stderr.write(
      `fuzz FAILURE (seed ${f.seed}, cases ${f.firstCase}..${f.lastCase}; replay: npm run fuzz -- --seed ${f.seed} --from ${f.firstCase} --cases ${f.lastCase - f.firstCase + 1}): ${f.problem}\n  kinds: ${f.kinds.join(", ")}\n  server log tail:\n${f.stderrTail.split("\n").slice(-15).join("\n")}\n`,
    );
  }
  process.stdout.write(`${JSON.stringify({ ...report, failures: report.failures.map(({ stderrTail: _tail, ...f }) => f) })}\n`);
  return report.failures.length === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`fuzz: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  },
);
