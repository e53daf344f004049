import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { keepUseful } from "../src/features/nextEdit/filters.js";
import { applyEdits, diffLines, minimalEdits } from "../src/features/nextEdit/minimalEdits.js";
import { projectRoot } from "./helpers/paths.js";

const dir = path.join(projectRoot, "test", "fixtures", "nextEdit");
const update = process.env.NEXT_EDIT_FIXTURES_UPDATE === "1";

function sections(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const parts = text.split(/^=== (\w+)\n/m);
  for (let i = 1; i < parts.length; i += 2) out.set(parts[i]!, parts[i + 1]!.replace(/\n$/, ""));
  return out;
}

function render(region: string, original: string, rewrite: string): string {
  const { edits, dropped } = keepUseful(region, original, minimalEdits(region, rewrite));
  if (dropped) return `dropped: ${dropped}`;
  return edits.map((e) => `${e.start}-${e.end} ${JSON.stringify(region.slice(e.start, e.end))} => ${JSON.stringify(e.text)}`).join("\n");
}

describe("next-edit golden fixtures (rewrite → minimal edits → filters)", () => {
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith(".txt")).sort()) {
    it(file.replace(/\.txt$/, ""), () => {
      const raw = fs.readFileSync(path.join(dir, file), "utf8");
      const s = sections(raw);
      const crlf = file.startsWith("crlf-");
      const toDoc = (t: string): string => (crlf ? t.replace(/\n/g, "\r\n") : t);
      const region = toDoc(s.get("region")!);
      const original = toDoc(s.get("original") ?? s.get("region")!);
      const actual = render(region, original, s.get("rewrite")!);
      if (update) {
        fs.writeFileSync(path.join(dir, file), raw.replace(/=== edits\n[\s\S]*$/, `=== edits\n${actual}\n`));
        return;
      }
      expect(actual).toBe(s.get("edits"));
    });
  }
});

describe("minimalEdits", () => {
  it("leaves the lines between two changes alone (two edits, not one spanning both)", () => {
    const region = "a\nb\nc\nd\ne";
    const edits = minimalEdits(region, "A\nb\nc\nd\nE");
    expect(edits).toEqual([
      { start: 0, end: 1, text: "A" },
      { start: 8, end: 9, text: "E" },
    ]);
  });

  it("turns a rewrite back into itself when applied", () => {
    const region = "x\r\ny\r\nz";
    expect(applyEdits(region, minimalEdits(region, "x\ny2\nz\nw"))).toBe("x\r\ny2\r\nz\r\nw");
  });

  it("diffLines finds the changed runs", () => {
    expect(diffLines(["a", "b", "c"], ["a", "x", "c", "d"])).toEqual([
      [1, 2, 1, 2],
      [3, 3, 3, 4],
    ]);
    expect(diffLines([], [])).toEqual([]);
    expect(diffLines(["a"], [])).toEqual([[0, 1, 0, 0]]);
  });

  it("gives up the line diff past its cost bound and still returns correct edits", () => {
    const a = Array.from({ length: 300 }, (_, i) => `a${i}\n`);
    const b = Array.from({ length: 300 }, (_, i) => `b${i}\n`);
    expect(diffLines(a, b, 10)).toEqual([[0, 300, 0, 300]]);
    const region = a.join("");
    expect(applyEdits(region, minimalEdits(region, b.join("")))).toBe(b.join(""));
  });
});
