import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import * as lancedb from "@lancedb/lancedb";
import { afterEach, describe, expect, it } from "vitest";
import { generateMonorepo } from "../src/devtools/generateMonorepo.js";
import { compactionDelay } from "../src/index/CompactionScheduler.js";
import { discoverFiles } from "../src/index/discovery.js";
import { IgnoreRules } from "../src/privacy/ignoreRules.js";
import { DEFAULT_INDEX_SETTINGS, IndexService } from "../src/index/IndexService.js";
import { chunkId, IndexStore, type ChunkRow } from "../src/index/store/IndexStore.js";
import { silentLogger } from "../src/util/logger.js";
import { makeWorkspace, waitForIndex } from "./helpers/indexWorkspace.js";
import { startStdioServer } from "./helpers/lspClient.js";
import { projectRoot } from "./helpers/paths.js";

/*
 * What indexing a monorepo needs besides speed (bench:scale measures that): ignore files at every
 * level, several workspace folders, and files that change while a pass runs.
 */

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function tempBase(): string {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), "ifai-scale-"));
  cleanups.push(() => fs.rmSync(base, { recursive: true, force: true }));
  return base;
}

function write(root: string, files: Record<string, string>): void {
  for (const [rel, content] of Object.entries(files)) {
    const file = path.join(root, ...rel.split("/"));
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, content);
  }
}

async function paths(s: IndexService, word: string): Promise<string[]> {
  return (await s.search(word, { k: 50 })).filter((h) => h.text.includes(word)).map((h) => h.path).sort();
}

describe("nested ignore files", () => {
  it("honours a .gitignore at every level of a deep tree: anchored, folder-only, ** and negated patterns", async () => {
    const base = tempBase();
    write(base, {
      ".gitignore": "/top-only.ts\nlogs/\n",
      "top-only.ts": "1;\n",
      "a/top-only.ts": "1;\n",
      "a/.gitignore": "*.gen.ts\n!keep.gen.ts\n",
      "a/x.gen.ts": "1;\n",
      "a/keep.gen.ts": "1;\n",
      "a/logs/l.ts": "1;\n",
      "a/b/.gitignore": "/cache/\n**/fixtures/*.ts\n",
      "a/b/cache/c.ts": "1;\n",
      "a/b/c/cache/c.ts": "1;\n",
      "a/b/c/fixtures/f.ts": "1;\n",
      "a/b/c/d/.gitignore": "!*.gen.ts\n",
      "a/b/c/d/y.gen.ts": "1;\n",
      "a/b/c/d/e/.ifaiignore": "private/\n",
      "a/b/c/d/e/private/p.ts": "1;\n",
      "a/b/c/d/e/public.ts": "1;\n",
    });
    const found = (await discoverFiles(new IgnoreRules(base, { maxFileBytes: 1_000_000 }), { maxFiles: 1000 })).files.map((f) => f.rel);
    expect(found).toEqual([
      ".gitignore",
      "a/.gitignore",
      "a/b/.gitignore",
      "a/b/c/cache/c.ts",
      "a/b/c/d/.gitignore",
      "a/b/c/d/e/.ifaiignore",
      "a/b/c/d/e/public.ts",
      "a/b/c/d/y.gen.ts",
      "a/keep.gen.ts",
      "a/top-only.ts",
    ]);
  });

  it("finds exactly the files a generated monorepo's ignore rules allow (generateMonorepo's manifest)", async () => {
    const base = tempBase();
    const manifest = generateMonorepo({ out: path.join(base, "tree"), files: 400, withLlama: false, cacheDir: path.join(projectRoot, ".cache", "monorepo-sources") });
    expect(manifest.nestedGitignores).toBeGreaterThan(5);
    expect(manifest.ignored).toBeGreaterThan(20);
    const found = (await discoverFiles(new IgnoreRules(path.join(base, "tree"), { maxFileBytes: 1_000_000 }), { maxFiles: 100_000 })).files;
    expect(found.length).toBe(manifest.indexable);
    expect(found.filter((f) => /(^|\/)(generated|node_modules|scratch)\/|\.local\.ts$|scratch\.tmp\.js$/.test(f.rel))).toEqual([]);
    expect(found.filter((f) => f.rel.endsWith("/keep.tmp.js")).length).toBeGreaterThan(5);
  });
});

describe("several workspace folders", () => {
  it("gives two folders of the same name their own index under one configured location, and searches both", async () => {
    const base = tempBase();
    write(base, {
      "work/app/src/main.ts": "export function firstRootOnly() { return 1; }\n",
      "clients/app/src/main.ts": "export function secondRootOnly() { return 2; }\n",
    });
    const s = new IndexService({ logger: silentLogger(), env: { IFAI_CACHE_DIR: path.join(base, "cache") }, workers: 1 });
    cleanups.push(() => s.dispose());
    await s.configure({ ...DEFAULT_INDEX_SETTINGS, watch: false, uri: path.join(base, "index") });
    await s.setFolders([{ uri: pathToFileURL(path.join(base, "work/app")).href }, { uri: pathToFileURL(path.join(base, "clients/app")).href }]);
    await s.whenIdle();
    const [first, second] = s.status().folders;
    expect(first!.location).not.toBe(second!.location);
    expect([first!.indexedFiles, second!.indexedFiles]).toEqual([1, 1]);
    const hits = [...(await s.search("firstRootOnly")).filter((h) => h.text.includes("firstRootOnly")), ...(await s.search("secondRootOnly")).filter((h) => h.text.includes("secondRootOnly"))];
    expect(hits.map((h) => h.uri).sort()).toEqual([pathToFileURL(path.join(base, "clients/app/src/main.ts")).href, pathToFileURL(path.join(base, "work/app/src/main.ts")).href]);

    // Restarted (another window, the CLI): each folder finds its own index again, nothing is re-read.
    await s.restart();
    await s.whenIdle();
    expect(s.folderIndexes().map((f) => f.lastPass.read)).toEqual([0, 0]);
  });

  it("follows edits in every folder through its own watcher", async () => {
    const base = tempBase();
    write(base, { "one/a.ts": "export const inFolderOne = 1;\n", "two/b.ts": "export const inFolderTwo = 2;\n" });
    const s = new IndexService({ logger: silentLogger(), env: { IFAI_CACHE_DIR: path.join(base, "cache") }, workers: 1 });
    cleanups.push(() => s.dispose());
    await s.configure({ ...DEFAULT_INDEX_SETTINGS, watch: true });
    await s.setFolders([{ uri: pathToFileURL(path.join(base, "one")).href }, { uri: pathToFileURL(path.join(base, "two")).href }]);
    await s.whenIdle();
    await s.watchersReady();
    fs.writeFileSync(path.join(base, "two/b.ts"), "export const editedInFolderTwo = 2;\n");
    fs.writeFileSync(path.join(base, "one/c.ts"), "export const addedToFolderOne = 3;\n");
    await waitForIndex(s, async () => (await paths(s, "editedInFolderTwo")).length === 1 && (await paths(s, "addedToFolderOne")).length === 1);
    expect(await paths(s, "inFolderTwo")).toEqual([]);
  });
});

describe("files that change during a pass", () => {
  it("ends with the final content of a file edited after it was read, and no rows of one deleted", async () => {
    const ws = makeWorkspace({
      "src/edited.ts": "export function contentBeforeTheEdit() { return 1; }\n",
      "src/deleted.ts": "export function deletedWhileIndexing() { return 2; }\n",
      "src/stays.ts": "export function staysAsItWas() { return 3; }\n",
    });
    cleanups.push(ws.cleanup);
    const s = new IndexService({ logger: silentLogger(), env: { IFAI_CACHE_DIR: ws.cache }, workers: 1 });
    cleanups.push(() => s.dispose());
    // The moment every file of the pass is read and written, before the pass ends: the files
    // change on disk with no watcher to say so (as under `ifai-lsp index`).
    let changed = false;
    s.onChange(() => {
      const progress = s.status().folders[0]?.progress;
      if (changed || !progress || progress.total === 0 || progress.done < progress.total) return;
      changed = true;
      fs.writeFileSync(path.join(ws.root, "src/edited.ts"), "export function contentAfterTheEdit() { return 10; }\n");
      fs.rmSync(path.join(ws.root, "src/deleted.ts"));
    });
    await s.configure({ ...DEFAULT_INDEX_SETTINGS, watch: false });
    await s.setFolders([{ uri: ws.uri }]);
    await s.whenIdle();
    expect(changed).toBe(true);
    expect(await paths(s, "contentAfterTheEdit")).toEqual(["src/edited.ts"]);
    expect(await paths(s, "contentBeforeTheEdit")).toEqual([]);
    expect(await paths(s, "deletedWhileIndexing")).toEqual([]);
    expect(s.status().folders[0]).toMatchObject({ files: 2, indexedFiles: 2 });
    expect((await s.folderIndexes()[0]!.chunksOf("src/deleted.ts")).length).toBe(0);
  });
});

describe.skipIf(process.platform !== "linux")("the memory settings of long-running processes", () => {
  it("the server the editor starts runs with bin/tuning.js's malloc arenas and thresholds, young generation and WebAssembly compiler, in the same process", async () => {
    const base = tempBase();
    const client = startStdioServer({ IFAI_CACHE_DIR: path.join(base, "cache"), MALLOC_ARENA_MAX: undefined, MALLOC_MMAP_THRESHOLD_: undefined, MALLOC_TRIM_THRESHOLD_: undefined });
    try {
      await client.initialize({}, { index: { enabled: false } });
      const pid = client.process!.pid!;
      const environ = fs.readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
      const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      expect(environ).toContain("MALLOC_ARENA_MAX=2");
      expect(environ).toContain("MALLOC_MMAP_THRESHOLD_=65536");
      expect(environ).toContain("MALLOC_TRIM_THRESHOLD_=131072");
      expect(cmdline).toContain("--liftoff-only");
      expect(await client.shutdownAndExit()).toBe(0);
    } finally {
      client.kill();
    }
  });

  it("a flag or variable the user set wins, and a process that has them all is not started again", async () => {
    type Tuning = { flags: string[]; env: Record<string, string> };
    const { missingTuning, tuningFor } = (await import(pathToFileURL(path.join(projectRoot, "bin", "tuning.js")).href)) as {
      tuningFor: (args: string[]) => Tuning | undefined;
      missingTuning: (tuning: Tuning, execArgv: string[], env: Record<string, string | undefined>) => Tuning & { any: boolean };
    };
    const index = tuningFor(["index", "."])!;
    expect(index.flags).toContain("--max-semi-space-size=4");
    // The engine holds the model as a server does: the same malloc settings.
    expect(tuningFor(["engine"])!.env).toEqual(tuningFor(["--stdio"])!.env);
    expect(tuningFor(["search", "x"])).toBeUndefined();
    expect(tuningFor(["--node-ipc"])).toBeUndefined();
    const mine = missingTuning(index, ["--max-semi-space-size=16"], { MALLOC_ARENA_MAX: "8" });
    expect(mine.flags).toEqual(["--liftoff-only"]);
    expect(mine.env).toEqual({});
    expect(missingTuning(index, index.flags, index.env).any).toBe(false);
  });
});

describe("compaction of a large table", () => {
  it("follows every quiet moment on a small table, and waits on a large one until its new rows are worth a full-text rebuild", () => {
    expect(compactionDelay({ writes: 0, newRows: 0, tableRows: 1000 })).toBeUndefined();
    expect(compactionDelay({ writes: 2, newRows: 12, tableRows: 10_000 })).toBe(30_000);
    expect(compactionDelay({ writes: 60, newRows: 5_000, tableRows: 10_000 })).toBe(1000);
    // A few saved files in a monorepo: searched directly, no rebuild of 1.3M rows' index.
    expect(compactionDelay({ writes: 4, newRows: 20, tableRows: 1_300_000 })).toBeUndefined();
    expect(compactionDelay({ writes: 80, newRows: 900, tableRows: 1_300_000 })).toBeUndefined();
    expect(compactionDelay({ writes: 10, newRows: 13_000, tableRows: 1_300_000 })).toBe(30_000);
    // Many small data files slow every search: then it is worth it anyway.
    expect(compactionDelay({ writes: 600, newRows: 1_200, tableRows: 1_300_000 })).toBe(1000);
  });
});

describe("indexes for per-file writes", () => {
  it("gives the chunks table B-tree indexes on id and path, also when an earlier version wrote it without them", async () => {
    const ws = makeWorkspace({ "src/a.ts": "export function keyIndexed() { return 1; }\n", "src/b.ts": "export const other = 2;\n" });
    cleanups.push(ws.cleanup);
    const indexed = async (location: string): Promise<string[]> => {
      const db = await lancedb.connect(location);
      const table = await db.openTable("chunks_lexical");
      const columns = (await table.listIndices()).filter((i) => i.indexType.toLowerCase().includes("btree")).flatMap((i) => i.columns);
      table.close();
      db.close();
      return columns.sort();
    };
    const start = async (): Promise<IndexService> => {
      const s = new IndexService({ logger: silentLogger(), env: { IFAI_CACHE_DIR: ws.cache }, workers: 1 });
      await s.configure({ ...DEFAULT_INDEX_SETTINGS, watch: false });
      await s.setFolders([{ uri: ws.uri }]);
      await s.whenIdle();
      return s;
    };
    const first = await start();
    const location = first.status().folders[0]!.location;
    await first.dispose();
    expect(await indexed(location)).toEqual(["id", "path"]);

    // As an earlier version left it: no key indexes. The next pass adds them, and edits still replace rows.
    const db = await lancedb.connect(location);
    const table = await db.openTable("chunks_lexical");
    for (const index of await table.listIndices()) if (index.indexType.toLowerCase().includes("btree")) await table.dropIndex(index.name);
    table.close();
    db.close();
    expect(await indexed(location)).toEqual([]);
    fs.writeFileSync(path.join(ws.root, "src/a.ts"), "export function keyIndexedEdited() { return 1; }\n");
    const second = await start();
    cleanups.push(() => second.dispose());
    expect(await indexed(location)).toEqual(["id", "path"]);
    expect(await paths(second, "keyIndexedEdited")).toEqual(["src/a.ts"]);
    expect(await paths(second, "keyIndexed")).toEqual(["src/a.ts"]);
    expect((await second.folderIndexes()[0]!.chunksOf("src/a.ts")).map((c) => c.text)).toEqual(["export function keyIndexedEdited() { return 1; }"]);
  });
});

describe("replacing a file's rows in a large table", () => {
  const row = (file: string, line: number, text: string): ChunkRow => ({
    id: chunkId(file, line, 0, `h-${text}`),
    path: file,
    start_line: line,
    start_col: 0,
    end_line: line,
    end_col: text.length,
    language: "typescript",
    symbol: "",
    kind: "block",
    text,
    symbols: "",
    body: text,
    name: "",
    signature: "",
    hash: `h-${text}`,
    model: "",
  });
  const record = (file: string, chunks: number) => ({ path: file, size: chunks, mtime: chunks, hash: `f-${chunks}`, chunks, status: chunks > 0 ? "indexed" : "empty" });

  it.each([0, Number.MAX_SAFE_INTEGER])("ends with exactly the new rows and records (two steps from %s rows)", async (twoStepFromRows) => {
    const base = tempBase();
    const store = await IndexStore.open({ location: path.join(base, "index"), readOnly: false, logger: silentLogger(), twoStepFromRows });
    cleanups.push(() => store.close());
    await store.prepareWrites();
    await store.replaceFiles([
      { record: record("a.ts", 2), chunks: [row("a.ts", 0, "alpha one"), row("a.ts", 5, "alpha two")], fresh: true },
      { record: record("b.ts", 1), chunks: [row("b.ts", 0, "beta one")], fresh: true },
    ]);
    // a.ts keeps one chunk and changes the other; b.ts becomes empty.
    await store.replaceFiles([
      { record: record("a.ts", 2), chunks: [row("a.ts", 0, "alpha one"), row("a.ts", 5, "alpha changed")] },
      { record: record("b.ts", 0), chunks: [] },
    ]);
    expect((await store.snapshot()).map((r) => r.text).sort()).toEqual(["alpha changed", "alpha one"]);
    const files = await store.loadFiles();
    expect([...files.values()].map((f) => [f.path, f.chunks]).sort()).toEqual([
      ["a.ts", 2],
      ["b.ts", 0],
    ]);
    expect(await store.counts()).toMatchObject({ chunks: 2, files: 2, indexedFiles: 1 });
  });
});
