/**
 * npm run stress:index -- --rounds N --seed S [--files F]: the multi-writer rounds of
 * test/indexConcurrency.test.ts, for longer than CI runs them. Round i uses seed S + i; a failing
 * seed replays exactly (the same plan; the timing of the processes still varies). Prints one line
 * per round and a JSON summary; exits 1 if any round failed. `--bin PATH` runs another build's
 * bin/ifai-lsp.js (an older version, to show what it does under the same rounds).
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { runRaceRound, type RaceResult } from "./indexRace.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const value = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  return Number.isInteger(value) && value >= 0 ? value : fallback;
}

function binPath(): string {
  const i = process.argv.indexOf("--bin");
  return i >= 0 && process.argv[i + 1] ? path.resolve(process.argv[i + 1]!) : path.join(root, "bin", "ifai-lsp.js");
}

async function main(): Promise<number> {
  const rounds = Math.max(1, flag("rounds", 20));
  const seed = flag("seed", Date.now() % 100_000);
  const files = Math.max(5, flag("files", 40));
  const failed: RaceResult[] = [];
  let rows = 0;
  const started = performance.now();
  for (let i = 0; i < rounds; i++) {
    const result = await runRaceRound({ seed: seed + i, files, binPath: binPath(), nodeBinary: process.execPath, log: (l) => process.stderr.write(`  ${l}\n`) });
    rows += result.rows;
    const verdict = result.ok ? "ok" : "FAILED";
    process.stdout.write(
      `round ${i + 1}/${rounds} seed ${result.seed}: ${verdict} — ${result.rows}/${result.expectedRows} rows, ${result.duplicates} duplicated, ${result.missing.length} missing, ${result.extra.length} extra, ${result.recordsDiffer.length} records differ, CLI exits ${result.cliExitCodes.join(",")} (${result.cliWaited} waited), ${result.activity}, ${result.ms} ms\n`,
    );
    if (!result.ok) {
      failed.push(result);
      process.stdout.write(`  ${JSON.stringify(result)}\n`);
    }
  }
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(`${JSON.stringify({ bench: "stress-index", rounds, seed, files, failed: failed.map((f) => f.seed), rows, seconds: Number(seconds.toFixed(1)) })}\n`);
  return failed.length === 0 ? 0 : 1;
}

process.exitCode = await main();
