import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { chunkFileBytes, chunkFileText, looksGenerated, looksMinified, type FileOutcome } from "../src/index/chunking/chunkFile.js";
import { GRAMMARS, grammarPath, loadGrammar } from "../src/index/chunking/grammars.js";
import { compoundWords, splitIdentifier } from "../src/index/identifiers.js";
import { detectLanguage } from "../src/index/languages.js";
import { estimateTokens } from "../src/index/tokens.js";
import type { HashedChunk } from "../src/index/types.js";
import { samplesDir } from "./helpers/indexWorkspace.js";

const indexed = (outcome: FileOutcome): HashedChunk[] => {
  if (outcome.status !== "indexed") throw new Error(`expected indexed, got ${outcome.status}: ${"reason" in outcome ? outcome.reason : ""}`);
  return outcome.chunks;
};
const sample = (name: string): Buffer => fs.readFileSync(path.join(samplesDir, name));
const symbolsOf = (chunks: readonly HashedChunk[]): string[] => chunks.map((c) => c.symbol);

describe("grammars", () => {
  it("loads every grammar from its npm package (web-tree-sitter 0.27)", async () => {
    expect(GRAMMARS).toHaveLength(13);
    for (const id of GRAMMARS) {
      expect(fs.existsSync(grammarPath(id)), id).toBe(true);
      expect(await loadGrammar(id), id).toBeDefined();
    }
  });
});

describe("chunking with tree-sitter", () => {
  // Per language: the sample file and symbols (with kinds) its chunks must carry.
  const expectations: Record<string, Array<[string, string]>> = {
    "sample.ts": [["parseConfig", "function"], ["Circle", "class"]],
    "sample.tsx": [["Greeting", "function"], ["Counter", "class"]],
    "sample.js": [["joinSegments", "function"], ["Stack", "class"], ["module.exports.makeStack", "function"]],
    "sample.py": [["read_lines", "function"], ["Inventory", "class"]],
    "sample.go": [["Point", "struct"], ["Point.Add", "method"], ["Greeter", "interface"], ["FormatPoint", "function"]],
    "sample.rs": [["Counter", "struct"], ["Counter", "impl"], ["tokenize", "function"]],
    "sample.java": [["TaskQueue", "class"]],
    "sample.c": [["buffer_new", "function"]],
    "sample.cpp": [["geometry.Polygon", "class"], ["geometry.clamp_value", "function"], ["geometry_main", "function"]],
    "sample.cs": [["Sample.Account", "class"]],
    "sample.rb": [["Shop.Cart", "class"]],
    "sample.php": [["Mailer", "class"], ["Transport", "interface"], ["format_address", "function"]],
    "sample.sh": [],
  };

  for (const [file, expected] of Object.entries(expectations)) {
    it(`chunks ${file} by definitions with symbol, kind, language and line range`, async () => {
      const outcome = await chunkFileBytes(`src/${file}`, sample(file));
      expect(outcome.status).toBe("indexed");
      if (outcome.status !== "indexed") return;
      expect(outcome.parser).toBe("tree-sitter");
      const chunks = outcome.chunks;
      expect(chunks.length).toBeGreaterThan(0);
      for (const [symbol, kind] of expected) {
        const chunk = chunks.find((c) => c.symbol === symbol && c.kind === kind);
        expect(chunk, `${symbol} (${kind}) in ${symbolsOf(chunks).join(", ")}`).toBeDefined();
      }
      const text = sample(file).toString("utf8").replace(/\r\n/g, "\n").split("\n");
      for (const c of chunks) {
        expect(c.language).toBe(detectLanguage(file).id);
        expect(c.startLine).toBeLessThanOrEqual(c.endLine);
        // The range points at the chunk's text in the file.
        expect(c.text.split("\n")[0]).toBe(text[c.startLine]!.slice(c.startCol));
        expect(c.hash).toMatch(/^[0-9a-f]{40}$/);
      }
      // Chunks do not overlap and come in file order.
      for (let i = 1; i < chunks.length; i++) expect(chunks[i]!.startLine).toBeGreaterThan(chunks[i - 1]!.endLine);
    });
  }

  it("keeps doc comments with their definition", async () => {
    const go = indexed(await chunkFileBytes("a.go", sample("sample.go")));
    expect(go.find((c) => c.symbol === "Point.Add")!.text).toMatch(/^\/\/ Add returns the sum/);
    const ts = indexed(await chunkFileBytes("a.ts", sample("sample.ts")));
    expect(ts.find((c) => c.symbol === "parseConfig")!.text).toContain("/** Loads the configuration file");
  });

  it("merges tiny neighbours: imports and one-liners do not become chunks of their own", async () => {
    const ts = indexed(await chunkFileBytes("a.ts", sample("sample.ts")));
    expect(ts.every((c) => c.tokens >= 16)).toBe(true);
    expect(ts.find((c) => c.text.includes('import { readFileSync }'))!.symbol).toBe("parseConfig");
    const sh = indexed(await chunkFileBytes("a.sh", sample("sample.sh")));
    expect(sh).toHaveLength(1);
    expect(sh[0]!.symbols.split(" ")).toEqual(expect.arrayContaining(["greet", "cleanup_temp"]));
  });

  it("opens a class too large for one chunk: its methods become chunks of their own", async () => {
    const methods = Array.from({ length: 12 }, (_, i) => `  method${i}(value: number): number {\n${"    value = value * 2 + " + i + ";\n".repeat(8)}    return value;\n  }\n`).join("\n");
    const text = `export class BigCalculator {\n  private total = 0;\n\n${methods}}\n`;
    const chunks = indexed(await chunkFileText("big.ts", text));
    expect(chunks.length).toBeGreaterThan(2);
    for (const c of chunks) expect(c.tokens).toBeLessThanOrEqual(512);
    const method = chunks.find((c) => c.symbol === "BigCalculator.method3");
    expect(method?.kind).toBe("method");
    // The class header is a small piece: it joins the first method, and the class name stays searchable.
    expect(chunks[0]!.text).toContain("export class BigCalculator {\n  private total = 0;");
    expect(chunks[0]!.symbols.split(" ")).toContain("BigCalculator");
    expect(new Set(chunks.map((c) => c.symbol)).size).toBe(chunks.length);
  });

  it("splits an oversized function into bounded parts that keep its name", async () => {
    const body = Array.from({ length: 300 }, (_, i) => `  const value${i} = compute(${i}, "some string argument", [1, 2, 3]);`).join("\n");
    const text = `def generated_table():\n${body.replace(/const /g, "").replace(/;/g, "")}\n    return 1\n`;
    const py = indexed(await chunkFileText("table.py", text.replace(/^ {2}/gm, "    ")));
    expect(py.length).toBeGreaterThan(3);
    for (const c of py) {
      expect(c.tokens).toBeLessThanOrEqual(512);
      expect(c.symbol).toBe("generated_table");
      expect(c.kind).toBe("function");
    }
    // Every line of the function is in some chunk.
    const covered = new Set(py.flatMap((c) => Array.from({ length: c.endLine - c.startLine + 1 }, (_, i) => c.startLine + i)));
    expect(covered.size).toBe(text.split("\n").length - 1);
  });

  it("cuts a single huge line into column ranges within the bound", async () => {
    const line = `const data = [${Array.from({ length: 3000 }, (_, i) => i).join(", ")}];`;
    // Ordinary lines around it, so the file does not look minified.
    const before = Array.from({ length: 150 }, (_, i) => `export const setting${i} = readSetting("key${i}");`).join("\n");
    const chunks = indexed(await chunkFileText("data.ts", `${before}\n${line}\n`));
    expect(chunks.length).toBeGreaterThan(1);
    for (const c of chunks) expect(c.tokens).toBeLessThanOrEqual(512);
    const cut = chunks.filter((c) => c.startLine === 150 && c.endLine === 150);
    expect(cut.length).toBeGreaterThan(1);
    expect(cut.map((c) => c.text).join("")).toBe(line);
  });

  it("falls back to line windows when parsing takes too long", async () => {
    const outcome = await chunkFileBytes("slow.ts", sample("sample.ts"), { parseDeadlineMs: -1 });
    expect(outcome.status === "indexed" && outcome.parser).toBe("lines");
    // The parser is usable again afterwards (a cancelled parse is reset, not resumed).
    const again = await chunkFileBytes("ok.ts", sample("sample.ts"));
    expect(again.status === "indexed" && again.parser).toBe("tree-sitter");
  });
});

describe("chunking other text", () => {
  it("chunks Markdown by sections, with the heading as symbol", async () => {
    const md = "# Title\n\nIntro text.\n\n## Install\n\nRun npm install.\n\n## Usage\n\nCall the thing.\n";
    const chunks = indexed(await chunkFileText("README.md", md));
    expect(chunks.map((c) => c.symbol)).toEqual(["Title", "Install", "Usage"]);
    expect(chunks.every((c) => c.kind === "text" && c.language === "markdown")).toBe(true);
  });

  it("chunks unknown text files in bounded line windows", async () => {
    const text = Array.from({ length: 2000 }, (_, i) => `line ${i} of some configuration value = ${i * 7}`).join("\n");
    const chunks = indexed(await chunkFileText("notes.weird", text));
    expect(chunks.length).toBeGreaterThan(10);
    expect(chunks.every((c) => c.language === "text" && c.tokens <= 512)).toBe(true);
    expect(chunks[0]!.startLine).toBe(0);
    expect(chunks.at(-1)!.endLine).toBe(1999);
  });

  it("skips bad and unwanted content", async () => {
    expect(await chunkFileBytes("bad.ts", Buffer.from([0x63, 0x6f, 0xff, 0xfe, 0x6e, 0x73]))).toMatchObject({ status: "skipped", reason: "invalid-utf8" });
    expect(await chunkFileBytes("bin.ts", Buffer.from([1, 2, 0, 3]))).toMatchObject({ status: "skipped", reason: "binary" });
    expect(await chunkFileBytes("empty.ts", Buffer.alloc(0))).toMatchObject({ status: "skipped", reason: "empty" });
    const key = "const config = 1;\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----\n";
    expect(await chunkFileText("keys.ts", key)).toMatchObject({ status: "skipped", reason: "secret" });
    const minified = `!function(){${"var a=1,b=2;function c(d){return d+a*b}".repeat(300)}}();`;
    expect(looksMinified(minified)).toBe(true);
    expect(await chunkFileText("app.js", minified)).toMatchObject({ status: "skipped", reason: "minified" });
    expect(looksGenerated("// Code generated by protoc-gen-go. DO NOT EDIT.\npackage x\n")).toBe(true);
    expect(looksGenerated('const banner = "this file is auto-generated by x";\n')).toBe(false);
    expect(await chunkFileText("gen.go", "// Code generated by stringer. DO NOT EDIT.\npackage x\n")).toMatchObject({ status: "skipped", reason: "generated" });
  });

  it("hashes content so an unchanged chunk keeps its hash when lines move", async () => {
    const fn = "function stable(a, b) {\n  return a + b + compute(a) * compute(b) - other(a, b);\n}\n";
    const other = "function other(x, y) {\n  return x * y + Math.max(x, y) - Math.min(x, y) / 2;\n}\n";
    const a = indexed(await chunkFileText("a.js", `${fn}\n${other}`));
    const added = "function added(list) {\n  const total = list.reduce((sum, item) => sum + item.price * item.count, 0);\n  return total;\n}\n";
    const b = indexed(await chunkFileText("a.js", `${added}\n${fn}\n${other.replace("2;", "3;")}`));
    const stableA = a.find((c) => c.symbol === "stable")!;
    const stableB = b.find((c) => c.symbol === "stable")!;
    expect(stableB.startLine).toBeGreaterThan(stableA.startLine);
    expect(stableB.hash).toBe(stableA.hash);
    expect(b.find((c) => c.symbol === "other")!.hash).not.toBe(a.find((c) => c.symbol === "other")!.hash);
  });
});

describe("identifiers and tokens", () => {
  it("splits identifiers", () => {
    expect(splitIdentifier("parseHTTPConfig_v2")).toEqual(["parse", "http", "config", "v2"]);
    expect(splitIdentifier("XMLHttpRequest")).toEqual(["xml", "http", "request"]);
    expect(compoundWords("const loadSettings = read_file(x);")).toEqual(expect.arrayContaining(["load", "settings", "read", "file"]));
  });

  it("estimates tokens within reason for code and prose", () => {
    expect(estimateTokens("")).toBe(0);
    expect(estimateTokens("return a + b;")).toBeGreaterThanOrEqual(5);
    const code = fs.readFileSync(path.join(samplesDir, "sample.ts"), "utf8");
    // Real BPE tokenizers give roughly 1 token per 3-4 characters of code.
    expect(estimateTokens(code)).toBeGreaterThan(code.length / 6);
    expect(estimateTokens(code)).toBeLessThan(code.length / 1.5);
  });
});

describe("chunking pool", () => {
  it("chunks in a worker thread and in-thread alike, and reports unreadable paths instead of failing", async () => {
    const { ChunkPool } = await import("../src/index/worker/ChunkPool.js");
    const { silentLogger } = await import("../src/util/logger.js");
    for (const size of [1, 0]) {
      const pool = new ChunkPool({ size, logger: silentLogger() });
      try {
        const ok = await pool.chunkFile(path.join(samplesDir, "sample.go"), "src/sample.go", 1_000_000);
        expect(ok.status, `size ${size}`).toBe("indexed");
        if (ok.status === "indexed") expect(ok.chunks.map((c) => c.symbol)).toContain("Point.Add");
        expect(await pool.chunkFile(path.join(samplesDir, "missing.ts"), "missing.ts", 1_000_000)).toMatchObject({ status: "unreadable" });
        expect(await pool.chunkFile(samplesDir, "samples", 1_000_000)).toMatchObject({ status: "unreadable" });
        expect(await pool.chunkFile(path.join(samplesDir, "sample.go"), "src/sample.go", 10)).toMatchObject({ status: "unreadable", message: "larger than 10 bytes" });
        const text = await pool.chunkText("buffer.py", "def unsaved():\n    return 1\n");
        expect(text.status === "indexed" && text.chunks[0]!.symbol).toBe("unsaved");
      } finally {
        await pool.dispose();
      }
    }
  });
});
