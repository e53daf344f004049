/**
 * The live half of bench:scale, run as its own process so its memory is measured alone: opens the
 * index of a large tree the way the server does (file watcher on, the index at --uri), then times
 * queries (full text, and hybrid when an embedding model is given) and file saved → searchable
 * through the watcher. Prints one JSON line.
 *
 *   node dist/devtools/bench/scaleLive.js --root DIR --uri DIR [--queries N] [--samples N] [--embedding-model-dir DIR]
 */
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { discoverFiles } from "../../index/discovery.js";
import { untilSearchable } from "./untilSearchable.js";
import { IgnoreRules } from "../../privacy/ignoreRules.js";
import { DEFAULT_INDEX_SETTINGS, IndexService } from "../../index/IndexService.js";
import { createLogger } from "../../util/logger.js";
import { summarize } from "./stats.js";
import { inotifyWatches } from "./processTree.js";

const { values } = parseArgs({
  options: {
    root: { type: "string" },
    uri: { type: "string" },
    queries: { type: "string", default: "200" },
    samples: { type: "string", default: "20" },
    "embedding-model-dir": { type: "string", default: "" },
  },
});

async function main(): Promise<void> {
  const root = path.resolve(values.root!);
  const logger = createLogger({ level: process.env.IFAI_LOG_LEVEL ?? "warn", file: "" });
  const problems: string[] = [];
  const service = new IndexService({ logger, workers: 1, onProblem: (m) => problems.push(m), writerLabel: "bench:scale live" });
  const started = performance.now();
  await service.configure({ ...DEFAULT_INDEX_SETTINGS, uri: values.uri!, watch: true, maxFiles: 10_000_000, embeddingModelDir: values["embedding-model-dir"]! });
  await service.setFolders([{ uri: pathToFileURL(root).href }]);
  await service.whenIdle();
  const passMs = performance.now() - started;
  await service.watchersReady();
  const readyMs = performance.now() - started;
  const status = service.status();
  const watches = inotifyWatches(process.pid);
  const rssAfterStartMiB = process.memoryUsage().rss / 2 ** 20;

  // Queries drawn from the tree: definition names as written and split into words.
  const files = (await discoverFiles(new IgnoreRules(root, { maxFileBytes: 200_000 }), { maxFiles: 10_000_000 })).files;
  const wanted = Number(values.queries);
  const queries: string[] = [];
  for (let i = 0; queries.length < wanted && i < wanted * 4; i++) {
    const file = files[Math.floor((i * 7919) % files.length)]!;
    const text = fs.readFileSync(file.abs, "utf8");
    const names = [...text.matchAll(/(?:function|def|class|struct|static \w+)\s+([A-Za-z_][A-Za-z0-9_]{4,})/g)].map((m) => m[1]!);
    const name = names[i % Math.max(1, names.length)];
    if (!name) continue;
    queries.push(i % 2 === 0 ? name : name.replace(/([a-z])([A-Z])/g, "$1 $2").replace(/_+/g, " ").toLowerCase());
  }
  const timeQueries = async (vectorWeight: number | undefined): Promise<{ ms: number[]; empty: number }> => {
    const options = vectorWeight === undefined ? {} : { fusion: { vector: vectorWeight } };
    for (const q of queries.slice(0, 10)) await service.search(q, { k: 10, ...options });
    const ms: number[] = [];
    let empty = 0;
    for (const q of queries) {
      const t = performance.now();
      const hits = await service.search(q, { k: 10, ...options });
      ms.push(performance.now() - t);
      if (hits.length === 0) empty++;
    }
    return { ms, empty };
  };
  const hybrid = service.mode === "hybrid";
  // With an embedder, a vector weight of 0 skips the query embedding: full text alone.
  const lexical = await timeQueries(hybrid ? 0 : undefined);
  const fused = hybrid ? await timeQueries(undefined) : undefined;

  // File saved → searchable: a unique word appended to files spread over the tree.
  const saved: number[] = [];
  const samples = Number(values.samples);
  const editable = files.filter((f) => /\.(ts|js|c|cpp|h|py)$/.test(f.rel) && f.size > 1000 && f.size < 100_000);
  const folder = service.folderIndexes()[0]!;
  for (let i = 0; i < samples; i++) {
    // A file the index holds (not one it skips as generated or minified), spread over the tree.
    let at = Math.floor(((i + 0.5) * editable.length) / samples);
    while ((await folder.chunksOf(editable[at]!.rel)).length === 0) at = (at + 1) % editable.length;
    const file = editable[at]!;
    const token = `scalesavedtoken${i}x${process.pid}`;
    await service.whenIdle();
    const t = performance.now();
    fs.appendFileSync(file.abs, file.rel.endsWith(".py") ? `\n# ${token}\n` : `\n// ${token}\n`);
    await untilSearchable(service, token, file.rel, 60_000);
    saved.push(performance.now() - t);
  }
  const rssEndMiB = process.memoryUsage().rss / 2 ** 20;
  process.stdout.write(
    `${JSON.stringify({
      mode: service.mode,
      files: status.folders[0]?.files,
      chunks: status.folders[0]?.chunks,
      startPassMs: Math.round(passMs),
      watcherReadyMs: Math.round(readyMs),
      inotifyWatches: watches,
      rssAfterStartMiB: Math.round(rssAfterStartMiB),
      rssEndMiB: Math.round(rssEndMiB),
      queries: queries.length,
      lexicalQueryMs: summarize(lexical.ms),
      lexicalEmpty: lexical.empty,
      ...(fused ? { hybridQueryMs: summarize(fused.ms), hybridEmpty: fused.empty } : {}),
      savedToSearchableMs: summarize(saved),
      problems,
    })}\n`,
  );
  await service.dispose();
}

main().catch((error: unknown) => {
  process.stderr.write(`scaleLive failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
