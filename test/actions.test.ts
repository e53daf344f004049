import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ActionResults, actionKey } from "../src/features/actions/ActionResults.js";
import { listActions } from "../src/features/actions/catalog.js";
import { extractCode } from "../src/features/actions/extractCode.js";
import { syntaxErrors, enclosingUnit } from "../src/features/actions/syntax.js";
import { planTests } from "../src/features/actions/testFramework.js";
import { applyChanges, indentUnit, lineEnding, minimalChange, reindent, TextSnapshot } from "../src/features/actions/textEdits.js";
import type { ActionOutcome, ProjectFiles } from "../src/features/actions/types.js";
import { tempDir } from "./helpers/models.js";

const dir = tempDir("ifai-actions-");
afterAll(() => dir.cleanup());

const disk: ProjectFiles = {
  read: async (p) => (fs.existsSync(p) ? fs.readFileSync(p, "utf8") : undefined),
  exists: async (p) => fs.existsSync(p),
  list: async (d) => (fs.existsSync(d) ? fs.readdirSync(d) : []),
};

function write(rel: string, text: string): string {
  const full = path.join(dir.path, rel);
  fs.mkdirSync(path.dirname(full), { recursive: true });
  fs.writeFileSync(full, text);
  return full;
}

describe("extracting code from a model reply", () => {
  it("takes the largest fenced block, ignoring prose around it", () => {
    const r = extractCode("Here you go:\n```ts\nconst a = 1;\n```\nand\n```ts\nconst b = 2;\nconst c = 3;\n```\nDone.", "end-of-generation");
    expect(r).toEqual({ ok: true, code: "const b = 2;\nconst c = 3;", fenced: true });
  });
  it("takes a reply without a fence as code", () => {
    expect(extractCode("\nconst a = 1;\n\n", "end-of-generation")).toEqual({ ok: true, code: "const a = 1;", fenced: false });
  });
  it("refuses a reply cut off inside its code block, or by a limit without a block", () => {
    const cut = extractCode("```python\ndef f(x):\n    return", "end-of-generation");
    expect(cut.ok).toBe(false);
    expect(!cut.ok && cut.problem).toMatch(/cut off midway/);
    const limited = extractCode("def f(x):\n    return", "max-tokens");
    expect(!limited.ok && limited.problem).toMatch(/cut off midway \(token limit\)/);
  });
  it("refuses an empty reply and drops trailing control tokens", () => {
    expect(extractCode("  \n", "end-of-generation").ok).toBe(false);
    expect(extractCode("x = 1<|im_end|>junk", "stop-token")).toEqual({ ok: true, code: "x = 1", fenced: false });
  });
});

describe("edits in the document's style", () => {
  it("finds CRLF documents and the indentation unit", () => {
    expect(lineEnding("a\r\nb\r\nc\n")).toBe("\r\n");
    expect(lineEnding("a\nb\n")).toBe("\n");
    expect(indentUnit("func f() {\n\tx := 1\n\tif x {\n\t\ty()\n\t}\n}\n")).toBe("\t");
    expect(indentUnit("def f():\n    if x:\n        y()\n")).toBe("    ");
  });
  it("reindents generated code to the region's base and unit, with the document's line endings", () => {
    expect(reindent("def f():\n  return 1", "    ", "    ", "\r\n")).toBe("    def f():\r\n        return 1");
    expect(reindent("    if (x) {\n        y();\n    }", "\t", "\t", "\n")).toBe("\tif (x) {\n\t\ty();\n\t}");
  });
  it("narrows a replacement to the characters that changed", () => {
    const text = "a\nfunction f() {\n  return 1;\n}\nz\n";
    const snap = new TextSnapshot(text);
    const start = snap.lineStart(1);
    const old = text.slice(start, snap.lineEnd(3));
    const change = minimalChange(snap, start, old, "function f() {\n  return 2;\n}")!;
    expect(change).toEqual({ range: { start: { line: 2, character: 9 }, end: { line: 2, character: 10 } }, newText: "2" });
    expect(applyChanges(text, [change])).toBe("a\nfunction f() {\n  return 2;\n}\nz\n");
    expect(minimalChange(snap, start, old, old)).toBeUndefined();
  });
  it("clamps positions past the end and says so", () => {
    const snap = new TextSnapshot("ab\ncd");
    expect(snap.outside({ start: { line: 0, character: 0 }, end: { line: 9, character: 0 } })).toBe(true);
    expect(snap.clamp({ start: { line: 9, character: 0 }, end: { line: 0, character: 1 } })).toEqual({ start: { line: 0, character: 1 }, end: { line: 1, character: 2 } });
  });
});

describe("tree-sitter checks", () => {
  it("counts syntax errors before and after", async () => {
    expect(await syntaxErrors("function f() { return 1; }\n", "typescript")).toBe(0);
    expect(await syntaxErrors("function f() { return (1; }\n", "typescript")).toBeGreaterThan(0);
    expect(await syntaxErrors("def f(:\n  pass\n", "python")).toBeGreaterThan(0);
    expect(await syntaxErrors("anything", undefined)).toBeUndefined();
  });
  it("finds the definition around a cursor, with its export wrapper", async () => {
    const text = "import x from 'y';\n\nexport function f() {\n  return 1;\n}\n";
    expect(await enclosingUnit(text, "typescript", 3, 3)).toEqual({ startLine: 2, endLine: 4 });
    expect(await enclosingUnit(text, "typescript", 0, 0)).toBeUndefined();
  });
});

describe("choosing the test framework and file", () => {
  it("uses the framework package.json names, next to the source, with the project's import style", async () => {
    write("ts/package.json", JSON.stringify({ devDependencies: { jest: "^29" } }));
    const src = write("ts/src/math.ts", 'import { x } from "./x.js";\nexport const a = 1;\n');
    const plan = await planTests(src, "typescript", disk);
    expect(plan).toMatchObject({ framework: "jest", testPath: path.join(dir.path, "ts/src/math.test.ts"), exists: false, importHint: 'import from "./math.js"' });
    expect(plan.assumed).toBeUndefined();
  });
  it("appends to an existing Python test module, pytest from pyproject", async () => {
    write("py/pyproject.toml", "[tool.pytest.ini_options]\n");
    const src = write("py/calc.py", "def add(a, b):\n    return a + b\n");
    write("py/tests/test_calc.py", "from calc import add\n");
    expect(await planTests(src, "python", disk)).toMatchObject({ framework: "pytest", testPath: path.join(dir.path, "py/tests/test_calc.py"), exists: true });
  });
  it("puts JUnit tests under src/test/java and Rust tests in the source file", async () => {
    write("java/pom.xml", "<dependency><groupId>org.junit.jupiter</groupId><artifactId>junit-jupiter</artifactId></dependency>");
    const java = write("java/src/main/java/com/x/Shape.java", "package com.x;\nclass Shape {}\n");
    expect(await planTests(java, "java", disk)).toMatchObject({ framework: "JUnit 5", testPath: path.join(dir.path, "java/src/test/java/com/x/ShapeTest.java"), detectedBy: "pom.xml" });
    const rs = write("rs/src/lib.rs", "pub fn one() -> i32 { 1 }\n");
    expect(await planTests(rs, "rust", disk)).toMatchObject({ framework: "cargo test", testPath: rs, exists: true, assumed: expect.stringMatching(/no Cargo.toml/) });
  });
  it("takes a default and says so when nothing names a framework", async () => {
    const js = write("loose/util.js", "export const u = 1;\n");
    const plan = await planTests(js, "javascript", disk);
    expect(plan.framework).toBe("node:test");
    expect(plan.assumed).toMatch(/no test framework found .*node:test/);
    const rb = await planTests(write("loose/thing.rb", "x = 1\n"), "ruby", disk);
    expect(rb).toMatchObject({ framework: "plain", testPath: path.join(dir.path, "loose/thing_test.rb") });
  });
});

describe("the action list", () => {
  it("offers a fix per diagnostic, extract only with a selection, and honours `only`", () => {
    const d = { message: "Cannot find name 'totl'.\nmore", range: { start: { line: 1, character: 2 }, end: { line: 1, character: 6 } } };
    const atCursor = listActions({ hasSelection: false, diagnostics: [d] });
    expect(atCursor.map((a) => a.title)).toEqual(["AI: Fix: Cannot find name 'totl'.", "AI: Simplify / improve", "AI: Add documentation comment", "AI: Generate unit tests", "AI: Explain"]);
    expect(listActions({ hasSelection: true, diagnostics: [] }).map((a) => a.kind)).toContain("extract");
    expect(listActions({ hasSelection: true, diagnostics: [d], only: ["refactor.extract"] }).map((a) => a.kind)).toEqual(["extract"]);
    expect(listActions({ hasSelection: false, diagnostics: [d], only: ["quickfix"] }).map((a) => a.kind)).toEqual(["fix"]);
  });
});

describe("recognising tests in a reply", () => {
  it("needs the framework's test marker", async () => {
    const { looksLikeTests } = await import("../src/features/actions/testFramework.js");
    expect(looksLikeTests('test("x", () => {});', "node:test")).toBe(true);
    expect(looksLikeTests("def test_add():\n    assert 1", "pytest")).toBe(true);
    expect(looksLikeTests("func TestArea(t *testing.T) {}", "go test")).toBe(true);
    expect(looksLikeTests("x = 1", "pytest")).toBe(false);
    expect(looksLikeTests("const abc = 1", "vitest")).toBe(false);
  });
});

describe("the name a region defines", () => {
  it("finds functions, methods, classes and Go receivers; statements define nothing", async () => {
    const { definedName } = await import("../src/features/actions/ActionService.js");
    expect(definedName("/** doc */\nexport async function sumAll(values) {\n}")).toBe("sumAll");
    expect(definedName("    def add(self, a, b):\n        return a + b")).toBe("add");
    expect(definedName("func (r *Rect) Area() float64 {\n}")).toBe("Area");
    expect(definedName("    public String greet(String name) {\n    }")).toBe("greet");
    expect(definedName("  private async load(): Promise<void> {\n  }")).toBe("load");
    expect(definedName("  total = total + values[i];\n  console.log(total);")).toBeUndefined();
    expect(definedName("  if (x) {\n  }")).toBeUndefined();
  });
});

describe("ActionResults: one computation per document version and place", () => {
  const key = (version: number, kind: "rewrite" | "docs" = "rewrite"): string =>
    actionKey({ uri: "file:///a.ts", version, text: "let a = 1;\n", kind, range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, route: "auto" });
  const never = new AbortController().signal;
  const refusal = { refused: true, message: "nothing was changed: the model's code would add 1 syntax error" };

  it("keys differ by version, text, kind and range; are equal otherwise", () => {
    expect(key(1)).toBe(key(1));
    expect(key(2)).not.toBe(key(1));
    expect(key(1, "docs")).not.toBe(key(1));
    expect(actionKey({ uri: "file:///a.ts", version: 1, text: "let a = 2;\n", kind: "rewrite", range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, route: "auto" })).not.toBe(key(1));
  });

  it("keeps a refusal and an edit, shares a running computation, and keeps neither cancels nor failures", async () => {
    const results = new ActionResults(4);
    let calls = 0;
    let finish!: (o: ActionOutcome) => void;
    const compute = (): Promise<ActionOutcome> => {
      calls++;
      return new Promise((resolve) => (finish = resolve));
    };
    const a = results.run(key(1), never, () => undefined, compute);
    const b = results.run(key(1), never, () => undefined, compute);
    expect(results.inFlight).toBe(1);
    finish(refusal);
    expect(await a).toBe(await b);
    expect(await results.run(key(1), never, () => undefined, compute)).toEqual(refusal);
    expect(calls).toBe(1);

    const failing = (): Promise<ActionOutcome> => {
      calls++;
      return Promise.reject(new Error("model unavailable"));
    };
    await expect(results.run(key(2), never, () => undefined, failing)).rejects.toThrow("model unavailable");
    await expect(results.run(key(2), never, () => undefined, failing)).rejects.toThrow("model unavailable");
    expect(calls).toBe(3);

    const cancelled = (): Promise<ActionOutcome> => {
      calls++;
      return Promise.resolve({ refused: true, message: "cancelled" });
    };
    await results.run(key(3), never, () => undefined, cancelled);
    await results.run(key(3), never, () => undefined, cancelled);
    expect(calls).toBe(5);
    results.clear();
    await results.run(key(1), never, () => undefined, () => Promise.resolve(refusal).finally(() => calls++));
    expect(calls).toBe(6);
  });

  it("aborts the computation only when every waiter has left, and answers the last once it has stopped", async () => {
    const results = new ActionResults();
    let seen: AbortSignal | undefined;
    let stopped = false;
    const compute = (signal: AbortSignal): Promise<ActionOutcome> => {
      seen = signal;
      return new Promise((resolve) =>
        signal.addEventListener("abort", () => {
          stopped = true;
          resolve({ refused: true, message: "cancelled" });
        }),
      );
    };
    const one = new AbortController();
    const two = new AbortController();
    const first = results.run(key(1), one.signal, () => undefined, compute);
    const second = results.run(key(1), two.signal, () => undefined, compute);
    one.abort();
    expect(await first).toEqual({ refused: true, message: "cancelled" });
    expect(seen!.aborted).toBe(false);
    two.abort();
    expect(await second).toEqual({ refused: true, message: "cancelled" });
    expect(stopped).toBe(true);
    expect(results.inFlight).toBe(0);
  });

  it("reports progress to every waiter", async () => {
    const results = new ActionResults();
    let go!: () => void;
    const compute = async (_signal: AbortSignal, report: (m: string) => void): Promise<ActionOutcome> => {
      await new Promise<void>((r) => (go = r));
      report("generating");
      return refusal;
    };
    const a: string[] = [];
    const b: string[] = [];
    const first = results.run(key(1), never, (m) => a.push(m), compute);
    const second = results.run(key(1), never, (m) => b.push(m), compute);
    go();
    await Promise.all([first, second]);
    expect(a).toEqual(["generating"]);
    expect(b).toEqual(["generating"]);
  });
});
