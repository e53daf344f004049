/**
 * The full-text index build is bounded in memory by writing partitions (src/index/store/lancedbEnv.ts).
 * Lance reads its settings once per process, so each build runs in an `ifai-lsp index` of its own:
 * one with a partition so small that every field's index is split many ways, one with a partition
 * larger than the corpus. Searching both must give the same answers.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { FTS_PARTITION_MIB, IO_BUFFER_BYTES } from "../src/index/store/lancedbEnv.js";
import { IndexStore, type StoredHit } from "../src/index/store/IndexStore.js";
import { silentLogger } from "../src/util/logger.js";
import { binPath, nodeBinary, projectRoot } from "./helpers/paths.js";

const base = fs.mkdtempSync(path.join(os.tmpdir(), "ifai-fts-parts-"));
afterAll(() => fs.rmSync(base, { recursive: true, force: true }));

// Real sources: the OpenAI SDK's TypeScript (~450 files, ~10k chunks, several MB of text).
const corpus = path.join(base, "corpus");
fs.cpSync(path.join(projectRoot, "node_modules", "openai", "src"), corpus, { recursive: true });

function env(extra: Record<string, string>): NodeJS.ProcessEnv {
  // The developer's own Lance settings must not decide what this test compares.
  const { LANCE_FTS_PARTITION_SIZE: _p, LANCE_DEFAULT_IO_BUFFER_SIZE: _b, ...rest } = process.env;
  return { ...rest, IFAI_CACHE_DIR: path.join(base, "cache"), IFAI_LOG_LEVEL: "", ...extra };
}

function build(partitionMib: number): string {
  const uri = path.join(base, `index-${partitionMib}`);
  const run = spawnSync(nodeBinary, [binPath, "index", corpus, "--uri", uri, "--quiet"], { encoding: "utf8", env: env({ LANCE_FTS_PARTITION_SIZE: String(partitionMib) }) });
  expect(run.status, run.stderr).toBe(0);
  return uri;
}

/** The most partitions any one full-text index of the table was written in. */
function maxPartitions(uri: string): number {
  const indices = path.join(uri, "chunks_lexical.lance", "_indices");
  let most = 0;
  for (const dir of fs.readdirSync(indices)) {
    const parts = fs.readdirSync(path.join(indices, dir)).filter((f) => /^part_\d+_invert\.lance$/.test(f));
    most = Math.max(most, parts.length);
  }
  return most;
}

const QUERIES = [
  "create chat completion",
  "stream server sent events",
  "retry request after timeout",
  "upload a file in parts",
  "list models",
  "missing api key error",
  "parse json response body",
  "abort signal cancel request",
  "next page cursor pagination",
  "verify webhook signature",
  "audio transcription",
  "image generation size",
  "embedding input tokens",
  "fine tuning job status",
  "batch cancel",
  "vector store file search",
  "assistant thread run steps",
  "tool call arguments",
  "headers user agent platform",
  "rate limit error status 429",
  "multipart form data",
  "base url environment variable",
  "realtime websocket session",
  "response output text delta",
  "moderation categories",
  "max retries backoff jitter",
  "function definition parameters schema",
  "zod structured output parse",
  "idempotency key",
  "organization project header",
];

const key = (h: StoredHit) => `${h.path}:${h.start_line}-${h.end_line}`;

describe("full-text index partitions (bounded build memory)", () => {
  it("sets Lance's read-ahead and partition size unless the user did", () => {
    const script = `import(${JSON.stringify(path.join(projectRoot, "dist", "index", "store", "lancedbEnv.js"))}).then(() => console.log(JSON.stringify([process.env.LANCE_FTS_PARTITION_SIZE, process.env.LANCE_DEFAULT_IO_BUFFER_SIZE])))`;
    const ours = spawnSync(nodeBinary, ["-e", script], { encoding: "utf8", env: env({}) });
    expect(JSON.parse(ours.stdout)).toEqual([String(FTS_PARTITION_MIB), String(IO_BUFFER_BYTES)]);
    const users = spawnSync(nodeBinary, ["-e", script], { encoding: "utf8", env: env({ LANCE_FTS_PARTITION_SIZE: "512", LANCE_DEFAULT_IO_BUFFER_SIZE: "1048576" }) });
    expect(JSON.parse(users.stdout)).toEqual(["512", "1048576"]);
  });

  it("answers the same from an index written in many partitions as from one", async () => {
    const split = build(1);
    const whole = build(4096);
    // The test means something only if the small setting really split the indexes.
    expect(maxPartitions(split)).toBeGreaterThanOrEqual(4);
    expect(maxPartitions(split)).toBeGreaterThan(maxPartitions(whole));

    const a = await IndexStore.open({ location: split, readOnly: true, logger: silentLogger() });
    const b = await IndexStore.open({ location: whole, readOnly: true, logger: silentLogger() });
    try {
      let compared = 0;
      for (const query of QUERIES) {
        const [x, y] = [await a.search(query, { k: 10 }), await b.search(query, { k: 10 })];
        expect(x.length, query).toBe(y.length);
        for (let i = 0; i < x.length; i++) {
          expect(x[i]!.score, `${query} #${i + 1}`).toBeCloseTo(y[i]!.score, 3);
        }
        // Chunks that tie with the last answer may or may not make the top 10; all others must.
        const last = y.at(-1)?.score ?? 0;
        const firm = (hits: StoredHit[]) => hits.filter((h) => h.score - last > 1e-3).map(key).sort();
        expect(firm(x), query).toEqual(firm(y));
        compared += x.length;
      }
      expect(compared).toBeGreaterThan(QUERIES.length * 5);
    } finally {
      a.close();
      b.close();
    }
  });
});
