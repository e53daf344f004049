import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { makeWorkspace, sampleFiles } from "./helpers/indexWorkspace.js";
import { binPath, nodeBinary } from "./helpers/paths.js";

const ws = makeWorkspace(sampleFiles());
afterAll(() => ws.cleanup());
const run = (...args: string[]) => spawnSync(nodeBinary, [binPath, ...args], { encoding: "utf8", env: { ...process.env, IFAI_CACHE_DIR: ws.cache, IFAI_LOG_LEVEL: "" } });

describe("ifai-lsp index / search", () => {
  it("lists the commands in --help", () => {
    expect(run("--help").stdout).toMatch(/ifai-lsp index \[DIR\][\s\S]*ifai-lsp search "QUERY"/);
    expect(run("index", "--help").stdout).toMatch(/--embedding-model-dir/);
    expect(run("search", "--help").stdout).toMatch(/--k N/);
  });

  it("builds the index with progress on stderr, then searches it (text and JSON)", () => {
    const index = run("index", ws.root);
    expect(index.status).toBe(0);
    expect(index.stdout).toMatch(/Indexed .*: 13 files \(13 changed, 0 removed, 0 skipped\), \d+ chunks, lexical search/);
    expect(index.stderr).toMatch(/updating the full-text index/);

    const again = run("index", ws.root, "--json");
    expect(again.status).toBe(0);
    const result = JSON.parse(again.stdout);
    expect(result).toMatchObject({ mode: "lexical", indexedFiles: 13, table: "chunks_lexical", pass: { read: 0, changed: 0 } });
    expect(result.location.startsWith(path.join(ws.cache, "index"))).toBe(true);

    const text = spawnSync(nodeBinary, [binPath, "search", "parse", "config", "--k", "2"], { cwd: ws.root, encoding: "utf8", env: { ...process.env, IFAI_CACHE_DIR: ws.cache } });
    expect(text.status).toBe(0);
    expect(text.stdout).toMatch(/^1\. src\/sample\.ts:1-7 {2}parseConfig \(function\) {2}score /);
    expect(text.stdout).toContain("export function parseConfig(path: string)");
    expect(text.stderr).toMatch(/results, lexical search, \d+ ms/);

    const json = run("search", "shopping cart", "--dir", ws.root, "--k", "3", "--json");
    expect(json.status).toBe(0);
    const hits = JSON.parse(json.stdout);
    expect(hits.length).toBeGreaterThan(0);
    expect(hits[0]).toMatchObject({ path: "src/sample.rb", symbol: "Shop.Cart", kind: "class" });
    expect(hits[0].uri).toMatch(/^file:\/\//);
  });

  it("writes to a given URI, and says how to build a missing index", () => {
    const uri = path.join(ws.cache, "team-index");
    expect(run("index", ws.root, "--uri", uri, "--quiet").status).toBe(0);
    expect(fs.existsSync(path.join(uri, "chunks_lexical.lance"))).toBe(true);
    expect(JSON.parse(run("search", "FormatPoint", "--dir", ws.root, "--uri", uri, "--json").stdout)[0].symbol).toBe("FormatPoint");

    const other = makeWorkspace({ "a.ts": "export const a = 1;\n" });
    try {
      const missing = run("search", "anything", "--dir", other.root);
      expect(missing.status).toBe(1);
      expect(missing.stderr).toMatch(/no index table[\s\S]*Build it with: ifai-lsp index/);
      expect(run("search").status).toBe(2);
      expect(run("index", path.join(other.root, "nope")).status).toBe(2);
    } finally {
      other.cleanup();
    }
  });
});
