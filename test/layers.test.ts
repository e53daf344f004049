import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

// ARCHITECTURE.md, "Layers": each top-level folder of src/ may import only from folders below it.
// Folders on one rank are peers and import nothing from each other (index and inference share no
// code; what both need lives lower). Type-only imports count: a type pulled from above is still
// knowledge of the layer above.
const RANK: Record<string, number> = {
  util: 0,
  "version.ts": 0,
  config: 1,
  privacy: 2,
  inference: 3,
  index: 3,
  features: 4,
  engine: 5,
  server: 6,
  devtools: 7,
  cli: 8,
};

const src = path.resolve(__dirname, "../src");

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(full);
    return e.name.endsWith(".ts") ? [full] : [];
  });
}

/** Relative specifiers of static imports, re-exports and dynamic imports. */
function relativeImports(text: string): string[] {
  const out: string[] = [];
  const pattern = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)["'](\.{1,2}\/[^"']+)["']/gm;
  for (const m of text.matchAll(pattern)) out.push(m[1]!);
  return out;
}

const topOf = (file: string): string => path.relative(src, file).split(path.sep)[0]!.replace(/\.js$/, ".ts");

describe("layers", () => {
  it("finds the imports of every form it must check", () => {
    expect(relativeImports(`import { a } from "../x.js";\nexport * from "./y.js";\nconst m = await import("../../z.js");\nimport "./side.js";`)).toEqual(["../x.js", "./y.js", "../../z.js", "./side.js"]);
  });

  it("every import in src/ goes to the same folder or a lower layer", () => {
    const violations: string[] = [];
    const files = sourceFiles(src);
    expect(files.length).toBeGreaterThan(100);
    for (const file of files) {
      const from = topOf(file);
      expect(RANK[from], `src/${from} has no rank in this test (add it, and to ARCHITECTURE.md)`).toBeDefined();
      for (const spec of relativeImports(fs.readFileSync(file, "utf8"))) {
        const target = path.resolve(path.dirname(file), spec);
        const to = topOf(target);
        if (to === from) continue;
        const rankTo = RANK[to];
        if (rankTo === undefined || rankTo >= RANK[from]!) violations.push(`${path.relative(src, file)} → ${spec}`);
      }
    }
    expect(violations).toEqual([]);
  });
});
