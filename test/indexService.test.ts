import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import * as lancedb from "@lancedb/lancedb";
import { afterEach, describe, expect, it } from "vitest";
import { createEmbedder } from "../src/index/embedding/createEmbedder.js";
import type { Embedder } from "../src/index/embedding/types.js";
import type { IndexService } from "../src/index/IndexService.js";
import type { SearchOptions } from "../src/index/types.js";
import { IndexStore } from "../src/index/store/IndexStore.js";
import { silentLogger } from "../src/util/logger.js";
import { tinyEmbedderDir } from "./helpers/embedder.js";
import { ContraryEmbedder, CountingEmbedder, makeWorkspace, sampleFiles, samplesDir, startService, treeDigest, waitForIndex } from "./helpers/indexWorkspace.js";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function workspace(files: Record<string, string | Buffer> = sampleFiles()): ReturnType<typeof makeWorkspace> {
  const ws = makeWorkspace(files);
  cleanups.push(ws.cleanup);
  return ws;
}

async function service(...args: Parameters<typeof startService>): Promise<Awaited<ReturnType<typeof startService>>> {
  const handle = await startService(...args);
  cleanups.push(() => handle.service.dispose());
  return handle;
}

/** True when a hit's text has the word itself (not only words of it). */
const finds = async (s: IndexService, word: string): Promise<boolean> => (await s.search(word, { k: 20 })).some((h) => h.text.includes(word));
const pass = (s: IndexService) => s.folderIndexes()[0]!.lastPass;
const folder = (s: IndexService) => s.status().folders[0]!;

describe("full-text index (no model)", () => {
  it("indexes a workspace and finds code by words, identifiers and their parts", async () => {
    const ws = workspace();
    const { service: s } = await service(ws);
    const status = s.status();
    expect(status.state).toBe("ready");
    expect(status.mode).toBe("lexical");
    expect(folder(s)).toMatchObject({ files: 13, indexedFiles: 13, skippedFiles: 0, table: "chunks_lexical", readOnly: false });
    expect(folder(s).chunks).toBeGreaterThan(20);
    expect(folder(s).location.startsWith(path.join(ws.cache, "index"))).toBe(true);

    const [hit] = await s.search("parse config", { k: 3 });
    expect(hit).toMatchObject({ path: "src/sample.ts", symbol: "parseConfig", kind: "function", language: "typescript" });
    expect(hit!.uri).toBe(pathToFileURL(path.join(ws.root, "src/sample.ts")).href);
    expect(hit!.score).toBeGreaterThan(0);
    expect((await s.search("parseConfig"))[0]!.symbol).toBe("parseConfig");
    expect((await s.search("FormatPoint"))[0]!.path).toBe("src/sample.go");
    expect((await s.search("shopping cart", { k: 1 }))[0]!.symbol).toBe("Shop.Cart");
    expect(await s.search("zzzznothing")).toEqual([]);
    expect(await s.search("!!!")).toEqual([]);
    // Filters: leave a file out, or search one folder only.
    const without = await s.search("parse config", { excludeUris: [hit!.uri] });
    expect(without.some((h) => h.path === "src/sample.ts")).toBe(false);
  });

  it("builds context: top chunks within the token budget, deduplicated, with their sources", async () => {
    const ws = workspace({ ...sampleFiles(), "copy/sample.py": fs.readFileSync(path.join(samplesDir, "sample.py")) });
    const { service: s } = await service(ws);
    const result = await s.buildContext({ query: "inventory items add count total", tokenBudget: 400, k: 5 });
    expect(result.mode).toBe("lexical");
    expect(result.chunks.length).toBeGreaterThan(0);
    expect(result.tokens).toBeLessThanOrEqual(400);
    expect(result.chunks[0]!.symbol).toBe("Inventory");
    // The copy has the same text: it appears once.
    expect(result.chunks.filter((c) => c.symbol === "Inventory")).toHaveLength(1);
    for (const c of result.chunks) {
      expect(c.uri).toMatch(/^file:\/\//);
      expect(c.range.start.line).toBeLessThanOrEqual(c.range.end.line);
      expect(c.score).toBeGreaterThan(0);
    }
    const tight = await s.buildContext({ query: "inventory items add count total", tokenBudget: 60, k: 5 });
    expect(tight.tokens).toBeLessThanOrEqual(60);
    // The chunk at the cursor of the current file is what the caller has: never returned.
    const uri = pathToFileURL(path.join(ws.root, "src/sample.py")).href;
    const atCursor = await s.buildContext({ query: "inventory items add count total", uri, cursor: { line: 12, character: 4 }, tokenBudget: 2000, k: 5 });
    expect(atCursor.chunks.some((c) => c.uri === uri && c.range.start.line <= 12 && c.range.end.line >= 12)).toBe(false);
  });

  it("re-reads only changed files after a restart, and removes deleted ones", async () => {
    const ws = workspace();
    const first = await service(ws);
    expect(pass(first.service)).toMatchObject({ scanned: 13, read: 13, changed: 13 });
    await first.service.dispose();

    const second = await service(ws);
    expect(pass(second.service)).toMatchObject({ scanned: 13, read: 0, changed: 0, removed: 0 });
    await second.service.dispose();

    fs.appendFileSync(path.join(ws.root, "src/sample.go"), "\n// Subtract returns the difference.\nfunc Subtract(a, b int) int {\n\treturn a - b\n}\n");
    fs.rmSync(path.join(ws.root, "src/sample.rb"));
    // Touched without a change: read again (mtime moved) but nothing rewritten.
    const touched = path.join(ws.root, "src/sample.c");
    fs.utimesSync(touched, new Date(), new Date(Date.now() + 5000));
    const third = await service(ws);
    expect(pass(third.service)).toMatchObject({ scanned: 12, read: 2, changed: 1, removed: 1 });
    expect((await third.service.search("Subtract difference"))[0]!.symbol).toBe("Subtract");
    expect(await third.service.search("shopping cart")).toEqual([]);
  });

  it("skips bad input with the index going on, and never touches the user's files", async () => {
    const ws = workspace({
      "good.ts": "export function stillIndexed() { return 42; }\n",
      "latin1.py": Buffer.from([0x23, 0x20, 0x63, 0x61, 0x66, 0xe9, 0x0a]),
      "blob.ts": Buffer.from([0x00, 0x01, 0x02, 0x03]),
      "empty.ts": "",
    });
    const big = path.join(ws.root, "huge.ts");
    fs.writeFileSync(big, "");
    fs.truncateSync(big, 100 * 1024 * 1024);
    fs.symlinkSync(ws.root, path.join(ws.root, "loop"));
    const locked = path.join(ws.root, "locked.ts");
    fs.writeFileSync(locked, "export const secret = 1;\n");
    fs.chmodSync(locked, 0);
    const before = treeDigest(ws.root);
    const { service: s } = await service(ws);
    expect(s.status().state).toBe("ready");
    const f = folder(s);
    expect(f.indexedFiles).toBeGreaterThanOrEqual(1);
    // invalid UTF-8, binary, empty are recorded as skipped; the 100 MB file is never read.
    expect(f.skippedFiles).toBe(3);
    expect(pass(s).bytesRead).toBeLessThan(1000);
    expect((await s.search("stillIndexed"))[0]!.path).toBe("good.ts");
    expect(treeDigest(ws.root)).toBe(before);
  });

  it("indexes unsaved buffers after a pause, and the file again when the buffer closes", async () => {
    const ws = workspace({ "src/notes.ts": "export function savedVersion() { return 1; }\n" });
    const { service: s } = await service(ws);
    const uri = pathToFileURL(path.join(ws.root, "src/notes.ts")).href;
    s.bufferChanged(uri, "export function unsavedVersionOfNotes() { return 2; }\n");
    await waitForIndex(s, () => finds(s, "unsavedVersionOfNotes"));
    expect(await finds(s, "savedVersion()")).toBe(false);
    s.bufferClosed(uri);
    await waitForIndex(s, () => finds(s, "savedVersion()"));
    expect(await finds(s, "unsavedVersionOfNotes")).toBe(false);
    // Buffers outside the workspace or in ignored places are not indexed.
    s.bufferChanged(pathToFileURL("/elsewhere/x.ts").href, "export const outsideBuffer = 1;\n");
    s.bufferChanged(pathToFileURL(path.join(ws.root, ".env")).href, "TOKEN=bufferSecretValue\n");
    await s.whenIdle();
  });

  it("applies editor file events (workspace/didChangeWatchedFiles): create, change, delete, folder delete", async () => {
    const ws = workspace({ "a/one.ts": "export const firstThing = 1;\n", "a/b/two.ts": "export const secondThing = 2;\n" });
    const { service: s } = await service(ws, { watch: false });
    ws.write("a/three.ts", "export const thirdThing = 3;\n");
    s.fileEvents([{ uri: pathToFileURL(path.join(ws.root, "a/three.ts")).href, type: "created" }]);
    await s.whenIdle();
    expect(await finds(s, "thirdThing")).toBe(true);
    fs.rmSync(path.join(ws.root, "a/b"), { recursive: true });
    s.fileEvents([{ uri: pathToFileURL(path.join(ws.root, "a/b")).href, type: "deleted" }]);
    await s.whenIdle();
    expect(await finds(s, "secondThing")).toBe(false);
    expect(folder(s).indexedFiles).toBe(2);

    // Compaction folds the rows written since into the full-text index; search is unchanged.
    const unindexed = async (): Promise<number> => {
      const db = await lancedb.connect(folder(s).location);
      const table = await db.openTable("chunks_lexical");
      const n = (await table.listIndices()).reduce((sum, i) => sum + (i.numUnindexedRows ?? 0), 0);
      table.close();
      db.close();
      return n;
    };
    expect(await unindexed()).toBeGreaterThan(0);
    await s.folderIndexes()[0]!.compact();
    expect(await unindexed()).toBe(0);
    expect(await finds(s, "thirdThing")).toBe(true);
    expect(await finds(s, "firstThing")).toBe(true);
  });
});

describe("bad index state", () => {
  it("rebuilds a corrupted table", async () => {
    const ws = workspace();
    const first = await service(ws);
    const location = folder(first.service).location;
    await first.service.dispose();
    // Damage every manifest of the chunks table.
    const versions = path.join(location, "chunks_lexical.lance", "_versions");
    for (const f of fs.readdirSync(versions)) fs.writeFileSync(path.join(versions, f), "not a manifest");
    const before = treeDigest(ws.root);
    const second = await service(ws);
    expect(second.service.status().state).toBe("ready");
    expect(pass(second.service).read).toBe(13);
    expect((await second.service.search("parse config"))[0]!.symbol).toBe("parseConfig");
    expect(treeDigest(ws.root)).toBe(before);
  });

  it("rebuilds when its folder is deleted under it", async () => {
    const ws = workspace();
    const { service: s, problems } = await service(ws, { watch: false });
    const location = folder(s).location;
    fs.rmSync(location, { recursive: true, force: true });
    ws.write("src/added.ts", "export function afterTheDeletion() { return 1; }\n");
    s.fileEvents([{ uri: pathToFileURL(path.join(ws.root, "src/added.ts")).href, type: "created" }]);
    await waitForIndex(s, async () => (await finds(s, "afterTheDeletion")) && (await finds(s, "parseConfig")), 30_000);
    expect(problems.join("\n")).toMatch(/rebuilding it/);
    expect(fs.existsSync(location)).toBe(true);
  });

  it("serves a read-only index without writing to it, and reports a missing one", async () => {
    const ws = workspace();
    const shared = path.join(ws.cache, "shared-index");
    const writer = await service(ws, { uri: shared });
    expect(folder(writer.service).location).toBe(shared);
    await writer.service.dispose();
    const listing = (): string[] => fs.readdirSync(shared, { recursive: true }).map(String).sort();
    const before = listing();
    const reader = await service(ws, { uri: shared, readOnly: true });
    expect(folder(reader.service)).toMatchObject({ state: "ready", readOnly: true, indexedFiles: 13 });
    expect((await reader.service.search("parse config"))[0]!.symbol).toBe("parseConfig");
    ws.write("src/new.ts", "export const notIndexedInReadOnly = 1;\n");
    reader.service.fileEvents([{ uri: pathToFileURL(path.join(ws.root, "src/new.ts")).href, type: "created" }]);
    reader.service.bufferChanged(pathToFileURL(path.join(ws.root, "src/new.ts")).href, "export const x = 2;\n");
    await reader.service.whenIdle();
    expect(listing()).toEqual(before);

    const missing = await service(ws, { uri: path.join(ws.cache, "nothing-here"), readOnly: true });
    expect(folder(missing.service).state).toBe("error");
    expect(folder(missing.service).message).toMatch(/ifai-lsp index/);
    expect(missing.problems.join("\n")).toMatch(/unavailable/);
  });
});

describe("hybrid index (embedder configured)", () => {
  it("embeds only new and changed chunks; renames and restarts reuse vectors by content hash", async () => {
    const ws = workspace();
    const embedder = new CountingEmbedder();
    const factory = async (): Promise<Embedder> => embedder;
    const settings = { embeddingModelDir: "/models/counting" };
    const first = await service(ws, settings, { createEmbedder: factory });
    expect(first.service.status()).toMatchObject({ mode: "hybrid", model: "counting-v1" });
    const total = folder(first.service).chunks;
    expect(embedder.embedded.length).toBe(new Set(embedder.embedded).size);
    expect(embedder.embedded.length).toBeLessThanOrEqual(total);
    expect(folder(first.service).table).toMatch(/^chunks_counting_v1_8_/);
    const hits = await first.service.search("parse config file", { k: 5 });
    expect(hits.slice(0, 3).map((h) => h.symbol)).toContain("parseConfig");
    expect(embedder.queries).toContain("parse config file");
    await first.service.dispose();

    // Change one function; rename another file without changing it.
    const go = path.join(ws.root, "src/sample.go");
    fs.writeFileSync(go, fs.readFileSync(go, "utf8").replace("fmt.Sprintf(\"(%d, %d)\", p.X, p.Y)", "fmt.Sprintf(\"<%d; %d>\", p.X, p.Y)"));
    fs.renameSync(path.join(ws.root, "src/sample.rs"), path.join(ws.root, "src/renamed.rs"));
    embedder.embedded.length = 0;
    const second = await service(ws, settings, { createEmbedder: factory });
    const stats = pass(second.service);
    expect(stats).toMatchObject({ read: 2, changed: 2, removed: 1, chunksEmbedded: 1 });
    expect(embedder.embedded).toHaveLength(1);
    expect(embedder.embedded[0]).toContain("<%d; %d>");
    expect(stats.vectorsReused).toBeGreaterThan(0);
    expect((await second.service.search("tokenize split whitespace")).slice(0, 3).map((h) => h.path)).toContain("src/renamed.rs");
  });

  it("re-embeds into a new table when the model changes, and drops the old one", async () => {
    const ws = workspace();
    const a = new CountingEmbedder("model-a", 8);
    const first = await service(ws, { embeddingModelDir: "/m/a" }, { createEmbedder: async () => a });
    const location = folder(first.service).location;
    const tableA = folder(first.service).table;
    await first.service.dispose();
    const b = new CountingEmbedder("model-b", 12);
    const second = await service(ws, { embeddingModelDir: "/m/b" }, { createEmbedder: async () => b });
    const tableB = folder(second.service).table;
    expect(tableB).not.toBe(tableA);
    expect(tableB).toMatch(/_12_/);
    expect(pass(second.service).read).toBe(13);
    expect(b.embedded.length).toBeGreaterThan(0);
    expect(fs.readdirSync(location).sort()).toEqual([`${tableB}.lance`, `${tableB.replace("chunks_", "files_")}.lance`].sort());
    expect(await finds(second.service, "parseConfig")).toBe(true);
  });

  it("rebuilds for an embedder whose output size changed, with a message", async () => {
    const ws = workspace({ "a.ts": "export function alpha() { return 1; }\n", "b.ts": "export function beta() { return 2; }\n" });
    const made: CountingEmbedder[] = [];
    const factory = async (): Promise<Embedder> => {
      // The first one says 8 dimensions but returns 6 (its model files were replaced).
      const e = made.length === 0 ? new CountingEmbedder("drifting", 8, 6) : new CountingEmbedder("drifting", 6);
      made.push(e);
      return e;
    };
    const { service: s, problems } = await service(ws, { embeddingModelDir: "/m/drift" }, { createEmbedder: factory });
    await waitForIndex(s, async () => made.length === 2 && s.status().state === "ready" && folder(s).table.includes("_6_") && (await finds(s, "alpha")));
    expect(problems.join("\n")).toMatch(/output size changed \(8 → 6\)/);
  });

  it("falls back to full-text search when the model folder has no tokenizer.json", async () => {
    const ws = workspace();
    const modelDir = path.join(ws.cache, "broken-model");
    fs.mkdirSync(modelDir, { recursive: true });
    fs.writeFileSync(path.join(modelDir, "model.onnx"), "not really");
    const { service: s, problems } = await service(ws, { embeddingModelDir: modelDir });
    expect(s.status()).toMatchObject({ mode: "lexical", state: "ready" });
    expect(s.status().message).toMatch(/full-text search only/);
    expect(problems.join("\n")).toMatch(/cannot be used/);
    expect((await s.search("parse config"))[0]!.symbol).toBe("parseConfig");
  });

  it("an embedder that disagrees with full text everywhere cannot bury its hits (equal-weight fusion of k candidates did)", async () => {
    const decoys = Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`decoy/d${i}.ts`, `export function decoy${i}() {\n  return "decoy ${i}";\n}\n`]));
    const ws = workspace({ ...sampleFiles(), ...decoys });
    const { service: s } = await service(ws, { embeddingModelDir: "/m/contrary" }, { createEmbedder: async () => new ContraryEmbedder() });
    expect(s.status().mode).toBe("hybrid");
    const top = async (query: string, fusion?: SearchOptions["fusion"]): Promise<string[]> => (await s.search(query, { k: 3, ...(fusion ? { fusion } : {}) })).map((h) => h.symbol);
    for (const [query, symbol] of [
      ["parse config", "parseConfig"],
      ["shopping cart", "Shop.Cart"],
    ] as const) {
      // Full text's own hits (the decoys never match the query's words).
      const lexical = (await top(query, { vector: 0 })).filter((name) => !name.startsWith("decoy"));
      expect(lexical[0]).toBe(symbol);
      // Hybrid keeps them first, in order; the vector side only fills the places after them.
      const hybrid = await top(query);
      expect(hybrid.slice(0, lexical.length)).toEqual(lexical);
      // What hybrid search did before: the vector list's first hit took rank 1 or 2.
      const old = await top(query, { vector: 1, rankConstant: 60, candidates: 3, minVectorShare: 1 });
      expect(old.slice(0, 2).some((name) => name.startsWith("decoy"))).toBe(true);
    }
  });

  it("runs hybrid search with the generated tiny ONNX model (vector + full-text, reciprocal-rank fusion)", async () => {
    const ws = workspace();
    const modelDir = await tinyEmbedderDir();
    const { service: s } = await service(ws, { embeddingModelDir: modelDir });
    const status = s.status();
    expect(status.mode).toBe("hybrid");
    expect(status.model).toBeTruthy();
    const hits = await s.search("parse config", { k: 5 });
    expect(hits.length).toBe(5);
    // Fused scores are weighted reciprocal ranks: positive, at most (1 + 0.2) / (10 + 1), ordered.
    for (const h of hits) expect(h.score).toBeGreaterThan(0);
    expect(hits[0]!.score).toBeLessThanOrEqual(1.2 / 11);
    for (let i = 1; i < hits.length; i++) expect(hits[i - 1]!.score).toBeGreaterThanOrEqual(hits[i]!.score);
    expect(hits.map((h) => h.symbol)).toContain("parseConfig");
    const context = await s.buildContext({ query: "shopping cart", tokenBudget: 500, k: 3 });
    expect(context.mode).toBe("hybrid");
    expect(context.chunks.length).toBeGreaterThan(0);
    // The vectors stored are the model's.
    const store = await IndexStore.open({ location: folder(s).location, readOnly: true, logger: silentLogger(), embedding: { modelId: status.model!, dimensions: (await createEmbedder({ modelDir, logger: silentLogger() }).then(async (e) => { const d = e.dimensions; await e.dispose(); return d; })) } });
    expect(await store.countChunks()).toBe(folder(s).chunks);
    store.close();
  });
});
