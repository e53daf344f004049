import { describe, expect, it } from "vitest";
import { CompletionCache } from "../src/features/completion/CompletionCache.js";
import { PrefixWindows, selectSuffix } from "../src/features/completion/contextWindow.js";
import { buildFimPrompt, renderPrompt } from "../src/features/completion/prompt.js";
import { OpenDocumentSnippets, jaccard, identifierSet } from "../src/features/completion/snippets.js";

/** A stand-in token counter for pure tests: one token per 4 characters, rounded up. */
const count = (text: string): number => Math.ceil(text.length / 4);

const lines = (n: number, width = 40): string => Array.from({ length: n }, (_, i) => `line ${i} `.padEnd(width, "x")).join("\n") + "\n";

describe("prefix window", () => {
  it("uses the whole prefix when it fits", () => {
    const text = lines(5);
    expect(new PrefixWindows().select("a", text, text.length, 1000, count)).toBe(text);
  });

  it("starts on a line boundary within 75% of the budget", () => {
    const text = lines(200);
    const prefix = new PrefixWindows().select("a", text, text.length, 400, count);
    expect(count(prefix)).toBeLessThanOrEqual(300);
    expect(count(prefix)).toBeGreaterThan(250);
    expect(prefix.startsWith("line ")).toBe(true);
    expect(text.endsWith(prefix)).toBe(true);
  });

  it("keeps its start while the user types, until the budget is outgrown", () => {
    const windows = new PrefixWindows();
    let text = lines(200);
    const first = windows.select("a", text, text.length, 400, count);
    const start = text.length - first.length;
    for (let i = 0; i < 50; i++) {
      text += "y";
      const next = windows.select("a", text, text.length, 400, count);
      expect(text.length - next.length).toBe(start);
    }
    text += "z".repeat(600);
    const moved = windows.select("a", text, text.length, 400, count);
    expect(text.length - moved.length).toBeGreaterThan(start);
    expect(count(moved)).toBeLessThanOrEqual(400);
  });

  it("re-anchors when text above the anchor changes", () => {
    const windows = new PrefixWindows();
    const text = lines(200);
    const first = windows.select("a", text, text.length, 400, count);
    const edited = "inserted line\n" + text;
    const second = windows.select("a", edited, edited.length, 400, count);
    expect(second.startsWith("line ")).toBe(true);
    expect(count(second)).toBeLessThanOrEqual(400);
    expect(second).toBe(first);
  });

  it("cuts a single huge line by characters", () => {
    const text = "x".repeat(100_000);
    const prefix = new PrefixWindows().select("a", text, text.length, 100, count);
    expect(prefix.length).toBeLessThanOrEqual(300);
    expect(prefix.length).toBeGreaterThan(0);
  });
});

describe("prefix window over documents that start with line breaks", () => {
  /**
   * A counter that throws once it is called more often than any terminating walk needs (one call
   * per line plus a bounded number of cuts), so a walk that stops advancing fails instead of hanging.
   */
  const boundedCount = (text: string): ((t: string) => number) => {
    let calls = 0;
    const limit = text.split("\n").length + 100;
    return (t: string) => {
      if (++calls > limit) throw new Error(`count called ${calls} times for a ${text.length}-character text: the walk does not advance`);
      return count(t);
    };
  };

  for (const [name, text] of [
    ["a leading LF", "\nconst a = "],
    ["a leading CRLF", "\r\nconst a = "],
    ["a leading blank line", "\n\nconst a = "],
    ["only newlines", "\n\n\n\n"],
    ["a single newline", "\n"],
  ] as const) {
    it(`terminates with ${name} and returns the text up to the cursor`, () => {
      for (let cursor = 0; cursor <= text.length; cursor++) {
        const window = new PrefixWindows().select("a", text, cursor, 1000, boundedCount(text));
        expect(window).toBe(text.slice(0, cursor));
      }
    });
  }

  it("never cuts a long line inside a surrogate pair", () => {
    const text = "😀".repeat(5000);
    const window = new PrefixWindows().select("a", text, text.length, 100, boundedCount(text));
    expect(text.endsWith(window)).toBe(true);
    const first = window.charCodeAt(0);
    expect(first >= 0xdc00 && first <= 0xdfff).toBe(false);
  });
});

describe("suffix window", () => {
  it("takes the rest of the line, then whole lines within the budget", () => {
    const text = "abc|def\nline two\nline three\nline four\n";
    const cursor = text.indexOf("|");
    expect(selectSuffix(text, cursor, 5, count)).toBe("|def\nline two\n");
    expect(selectSuffix(text, cursor, 0, count)).toBe("");
    expect(selectSuffix(text, cursor, 1000, count)).toBe(text.slice(cursor));
  });

  it("truncates an overlong current line", () => {
    const text = "a" + "b".repeat(10_000);
    expect(selectSuffix(text, 1, 10, count).length).toBe(20);
  });
});

describe("completion cache", () => {
  const doc = "function add(a, b) {\n  return \n}\n";
  const cursor = doc.indexOf("return ") + "return ".length;

  it("serves the same context again without the model", () => {
    const cache = new CompletionCache(10);
    expect(cache.lookup("u", doc, cursor)).toBeUndefined();
    cache.remember("u", doc, cursor, "a + b;");
    expect(cache.lookup("u", doc, cursor)).toEqual({ text: "a + b;", kind: "cache" });
    expect(cache.lookup("other", doc, cursor)).toBeUndefined();
  });

  it("serves the rest of a suggestion while the user types it", () => {
    const cache = new CompletionCache(10);
    cache.remember("u", doc, cursor, "a + b;");
    const typed = doc.slice(0, cursor) + "a +" + doc.slice(cursor);
    expect(cache.lookup("u", typed, cursor + 3)).toEqual({ text: " b;", kind: "typed-through" });
    // Once typed through, the same context is an exact hit.
    expect(cache.lookup("u", typed, cursor + 3)).toEqual({ text: " b;", kind: "cache" });
  });

  it("does not type through a diverging edit, a changed suffix or the whole suggestion", () => {
    const cache = new CompletionCache(10);
    cache.remember("u", doc, cursor, "a + b;");
    const diverged = doc.slice(0, cursor) + "a -" + doc.slice(cursor);
    expect(cache.lookup("u", diverged, cursor + 3)).toBeUndefined();
    const suffixChanged = doc.slice(0, cursor) + "a" + doc.slice(cursor).replace("}", "};");
    expect(cache.lookup("u", suffixChanged, cursor + 1)).toBeUndefined();
    const all = doc.slice(0, cursor) + "a + b;" + doc.slice(cursor);
    expect(cache.lookup("u", all, cursor + 6)).toBeUndefined();
  });

  it("evicts the least recently used context", () => {
    const cache = new CompletionCache(2);
    cache.remember("a", doc, 1, "x");
    cache.remember("b", doc, 1, "y");
    cache.lookup("a", doc, 1);
    cache.remember("c", doc, 1, "z");
    expect(cache.lookup("b", doc, 1)).toBeUndefined();
    expect(cache.lookup("a", doc, 1)?.text).toBe("x");
  });
});

describe("prompt", () => {
  it("builds the file-level FIM prompt", () => {
    const parts = buildFimPrompt({ prefix: "def f(", suffix: ")\n", snippets: [], repoName: "r", filePath: "a.py" });
    expect(renderPrompt(parts)).toBe("<|fim_prefix|>def f(<|fim_suffix|>)\n<|fim_middle|>");
  });

  it("builds the repository-level prompt with the current file last", () => {
    const parts = buildFimPrompt({
      prefix: "x = ",
      suffix: "",
      snippets: [{ path: "lib/util.py", text: "def helper():\n    pass", score: 1 }],
      repoName: "proj",
      filePath: "main.py",
    });
    expect(renderPrompt(parts)).toBe(
      "<|repo_name|>proj\n<|file_sep|>lib/util.py\ndef helper():\n    pass\n<|file_sep|>main.py\n<|fim_prefix|>x = <|fim_suffix|><|fim_middle|>",
    );
  });

  it("keeps user text as text parts, never as special tokens", () => {
    const parts = buildFimPrompt({ prefix: "s = '<|fim_middle|>'", suffix: "", snippets: [], repoName: "r", filePath: "a" });
    expect(parts.filter((p) => p.kind === "special").map((p) => (p.kind === "special" ? p.token : ""))).toEqual([
      "fim_prefix",
      "fim_suffix",
      "fim_middle",
    ]);
  });
});

describe("cross-file snippets", () => {
  const other = {
    uri: "file:///w/util.ts",
    languageId: "typescript",
    version: 1,
    text: "export function parseConfig(raw: string) {\n  return JSON.parse(raw);\n}\n" + lines(60),
  };
  const query = { uri: "file:///w/main.ts", languageId: "typescript", prefix: "const config = parseConfig(raw", cursorLine: 3 };
  const toPath = (uri: string): string => uri.replace("file:///w/", "");

  it("picks the window sharing the most identifiers, within the budget", () => {
    const snippets = new OpenDocumentSnippets().select(query, [other], 200, count, toPath);
    expect(snippets.length).toBeGreaterThan(0);
    expect(snippets[0]!.path).toBe("util.ts");
    expect(snippets[0]!.text).toContain("parseConfig");
    expect(snippets.reduce((n, s) => n + count(s.text), 0)).toBeLessThanOrEqual(200);
  });

  it("keeps the same selection while the cursor stays on its line", () => {
    const source = new OpenDocumentSnippets();
    const first = source.select(query, [other], 200, count, toPath);
    const typed = source.select({ ...query, prefix: query.prefix + ")" }, [other], 200, count, toPath);
    expect(typed).toEqual(first);
  });

  it("skips binary and the current document; empty budget means none", () => {
    const source = new OpenDocumentSnippets();
    expect(source.select(query, [{ ...other, text: "parseConfig\u0000" }], 200, count, toPath)).toEqual([]);
    expect(source.select(query, [{ ...other, uri: query.uri }], 200, count, toPath)).toEqual([]);
    expect(source.select(query, [other], 0, count, toPath)).toEqual([]);
  });

  it("scores by Jaccard similarity of identifiers", () => {
    expect(jaccard(identifierSet("alpha beta gamma"), identifierSet("beta gamma delta"))).toBeCloseTo(2 / 4);
    expect(jaccard(identifierSet("a b"), identifierSet("alpha"))).toBe(0);
  });
});
