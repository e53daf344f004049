import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { decideCompletionMode, type CompletionMode } from "../src/features/completion/completionMode.js";
import { postprocessCompletion } from "../src/features/completion/postprocess.js";

const FIXTURE_DIR = join(dirname(fileURLToPath(import.meta.url)), "fixtures", "postprocess");
const CURSOR = "█";
const END_MARK = "¶";
const SECTIONS = ["language", "mode", "document", "completion", "expected", "line-endings"] as const;
type SectionName = (typeof SECTIONS)[number];

interface Fixture {
  name: string;
  languageId: string;
  mode: CompletionMode;
  prefix: string;
  suffix: string;
  completion: string;
  expected: string;
  /** Pass-through fixtures check that a good completion is left alone. */
  passThrough: boolean;
}

/** Parses the format described in test/fixtures/postprocess/README.md. */
function parseFixture(name: string, source: string): Fixture {
  const lines = source.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  const sections = new Map<SectionName, string[]>();
  let current: string[] | undefined;
  for (const line of lines) {
    const header = /^--- ([\w-]+)$/.exec(line);
    const sectionName = SECTIONS.find((section) => section === header?.[1]);
    if (sectionName !== undefined) {
      current = [];
      sections.set(sectionName, current);
    } else if (current !== undefined) {
      current.push(line);
    } else if (!line.startsWith("#") && line.trim() !== "") {
      throw new Error(`${name}: text before the first section: ${line}`);
    }
  }
  const section = (key: SectionName): string => {
    const body = sections.get(key);
    if (body === undefined) throw new Error(`${name}: missing section "${key}"`);
    const text = body.join("\n");
    return text.endsWith(END_MARK) ? text.slice(0, -END_MARK.length) : text;
  };
  const document = section("document");
  const cursor = document.indexOf(CURSOR);
  if (cursor === -1 || document.indexOf(CURSOR, cursor + 1) !== -1) {
    throw new Error(`${name}: the document needs exactly one ${CURSOR}`);
  }
  const mode = section("mode").trim();
  if (mode !== "single-line" && mode !== "multi-line") throw new Error(`${name}: bad mode "${mode}"`);
  const crlf = sections.has("line-endings") && section("line-endings").trim() === "crlf";
  const convert = (text: string): string => (crlf ? text.replace(/\n/g, "\r\n") : text);
  return {
    name,
    languageId: section("language").trim(),
    mode,
    prefix: convert(document.slice(0, cursor)),
    suffix: convert(document.slice(cursor + CURSOR.length)),
    completion: convert(section("completion")),
    expected: section("expected"),
    passThrough: name.startsWith("passthrough-"),
  };
}

const fixtures = readdirSync(FIXTURE_DIR)
  .filter((file) => file.endsWith(".txt"))
  .sort()
  .map((file) => parseFixture(file, readFileSync(join(FIXTURE_DIR, file), "utf8")));

describe("postprocess golden fixtures", () => {
  it("has enough fixtures across languages", () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(30);
    const languages = new Set(fixtures.map((fixture) => fixture.languageId));
    for (const language of ["typescript", "python", "go", "rust"]) expect(languages).toContain(language);
  });

  it.each(fixtures.map((fixture) => [fixture.name, fixture] as const))("%s", (_name, fixture) => {
    // A fixture that expects its raw completion back only proves something if it is marked as a
    // pass-through case; every other fixture must show a filter changing the text.
    if (fixture.passThrough) expect(fixture.expected).toBe(fixture.completion);
    else expect(fixture.expected).not.toBe(fixture.completion.replace(/\r\n/g, "\n"));

    const { prefix, suffix, languageId } = fixture;
    expect(decideCompletionMode({ prefix, suffix, languageId })).toBe(fixture.mode);
    const result = postprocessCompletion({ prefix, suffix, languageId, mode: fixture.mode, completion: fixture.completion });
    expect(result).toBe(fixture.expected);
  });
});

describe("decideCompletionMode", () => {
  const mode = (languageId: string, document: string): CompletionMode => {
    const [prefix = "", suffix = ""] = document.split(CURSOR);
    return decideCompletionMode({ prefix, suffix, languageId });
  };

  it.each([
    ["typescript", "const x = foo(█bar);", "code after the cursor"],
    ["typescript", "const total = █", "an unfinished expression"],
    ["typescript", "const s = \"Hello, █\";", "inside a string literal"],
    ["typescript", "/**\n * Adds █\n */", "inside a block comment"],
    ["typescript", "const isValid =\n  █", "a blank line continuing an expression"],
    ["typescript", "const x = compute();█", "the end of a complete statement"],
    ["python", "d = {\"a\":█", "a colon inside a dict literal"],
    ["python", "tail = items[1:█", "a colon inside a slice"],
    ["rust", "let v: Vec<u8> = Vec::█", "the middle of a path"],
  ])("%s: single-line for %j (%s)", (languageId, document) => {
    expect(mode(languageId, document)).toBe("single-line");
  });

  it.each([
    ["typescript", "function f() {█", "after an opening brace"],
    ["typescript", "function f() {█}", "between braces"],
    ["typescript", "foo(█);", "after an opening parenthesis with only closers after it"],
    ["typescript", "useEffect(() => {█}, []);", "between braces followed by closers and an empty []"],
    ["typescript", "function f() {\n  const a = 1;\n  █\n}", "a blank line in a block"],
    ["typescript", "const f = () =>█", "after an arrow"],
    ["typescript", "if (a) {\n} else█", "after else"],
    ["typescript", "export function sum(a: number, b: number): number█", "a function signature"],
    ["typescript", "  // sort the users by age█", "a comment line"],
    ["typescript", "switch (x) {\n  case 1:█", "a case label"],
    ["typescript", "", "an empty document"],
    ["python", "if x > 0:█", "a block header"],
    ["python", "def area(r)█", "a def without its colon"],
    ["go", "func main()█", "a Go function signature"],
    ["rust", "fn main()█", "a Rust function signature"],
    ["rust", "impl Display for Point█", "an impl header"],
    ["java", "    public static int square(int x)█", "a Java method signature"],
    ["ruby", "items.each do |item|█", "a do block"],
    ["ruby", "def greet(name)█", "a def"],
    ["lua", "if x > 0 then█", "then"],
    ["lua", "local function clamp(x)█", "a Lua function header"],
    ["shellscript", "for f in *.txt; do█", "do"],
    ["shellscript", "if [ -f x ]; then█", "then"],
    ["yaml", "services:█", "a mapping key"],
  ])("%s: multi-line for %j (%s)", (languageId, document) => {
    expect(mode(languageId, document)).toBe("multi-line");
  });

  it("treats \\r\\n like \\n", () => {
    expect(decideCompletionMode({ prefix: "function f() {\r\n  ", suffix: "\r\n}", languageId: "typescript" })).toBe(
      "multi-line",
    );
  });
});

describe("postprocessCompletion edge cases", () => {
  const base = { prefix: "const x = ", suffix: "", languageId: "typescript", mode: "single-line" as const };

  it("returns an empty string for whitespace-only output", () => {
    expect(postprocessCompletion({ ...base, completion: " \t\n  \n" })).toBe("");
  });

  it("cuts at a leaked end-of-text token", () => {
    expect(postprocessCompletion({ ...base, completion: "42;<|endoftext|>const y = 1;" })).toBe("42;");
  });

  it("reads brackets and comments opened far above the cursor", () => {
    const filler = Array.from({ length: 200 }, (_, i) => `  const v${i} = f(${i});`).join("\n");
    const prefix = `function big() {\n${filler}\n  `;
    expect(decideCompletionMode({ prefix, suffix: "\n}", languageId: "typescript" })).toBe("multi-line");
    const completion = "return v0;\n}";
    expect(postprocessCompletion({ prefix, suffix: "\n}", languageId: "typescript", mode: "multi-line", completion })).toBe(
      "return v0;",
    );
    const inComment = `/*\n${filler}\n * more `;
    expect(decideCompletionMode({ prefix: inComment, suffix: "\n */", languageId: "typescript" })).toBe("single-line");
  });

  it("handles a language it does not know with C-like defaults", () => {
    expect(postprocessCompletion({ ...base, languageId: "zig", completion: "add(1, 2));" })).toBe("add(1, 2)");
  });
});
