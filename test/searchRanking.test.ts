import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { bodyField, COMMON_WORD_WEIGHT, nameField, queryTerms, signatureField } from "../src/index/lexicalFields.js";
import { makeWorkspace, startService } from "./helpers/indexWorkspace.js";
import { documentText, options } from "./properties/arbitraries.js";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function index(files: Record<string, string>) {
  const ws = makeWorkspace(files);
  cleanups.push(ws.cleanup);
  const { service } = await startService(ws);
  cleanups.push(() => service.dispose());
  return async (query: string, k = 5): Promise<string[]> => (await service.search(query, { k })).map((h) => h.symbol);
}

describe("lexical fields", () => {
  it("splits identifiers on the document side and keeps them whole", () => {
    expect(bodyField("const x = parseHTTPConfig_v2(raw_input);").split(" ")).toEqual(["const", "x", "parseHTTPConfig_v2", "parse", "http", "config", "v2", "raw_input", "raw", "input"]);
    expect(nameField("Shop.addToCart")).toBe("shop add to cart");
    expect(nameField("")).toBe("");
    expect(signatureField("\n\n  def _split_str(s, n):\n      return [s[i::n] for i in range(n)]")).toBe("def _split_str split str s n");
  });

  it("weighs query words: one-letter words kept (not the article), common words and language names a fifth, numbers dropped", () => {
    const terms = queryTerms("Split a string into n parts in Python 3 (see splitStr)");
    expect(terms.map((t) => t.term)).toEqual(["split", "string", "into", "n", "parts", "in", "python", "see", "splitstr", "str"]);
    const weight = Object.fromEntries(terms.map((t) => [t.term, t.weight]));
    expect(weight).toMatchObject({ split: 1, n: 1, into: COMMON_WORD_WEIGHT, in: COMMON_WORD_WEIGHT, python: COMMON_WORD_WEIGHT, splitstr: 1 });
    expect(queryTerms("!!! ??? 123")).toEqual([]);
    expect(queryTerms("x ".repeat(500) + "i j k").map((t) => t.term)).toEqual(["x", "i", "j", "k"]);
  });

  it("property: query terms are unique lowercase words within the bound; fields are bounded words", () => {
    fc.assert(
      fc.property(documentText(), fc.integer({ min: 0, max: 60 }), (text, max) => {
        const terms = queryTerms(text, max);
        expect(terms.length).toBeLessThanOrEqual(max);
        expect(new Set(terms.map((t) => t.term)).size).toBe(terms.length);
        for (const t of terms) {
          expect(t.term).toMatch(/^[a-z0-9]+$/);
          expect([1, COMMON_WORD_WEIGHT]).toContain(t.weight);
        }
        for (const field of [bodyField(text), signatureField(text), nameField(text)]) {
          expect(field.length).toBeLessThanOrEqual(70_000);
          if (field) expect(field).toMatch(/^[A-Za-z0-9_$]+( [A-Za-z0-9_$]+)*$/);
        }
      }),
      options(200),
    );
  });
});

describe("lexical ranking on a real index", () => {
  it("a definition named by the query's exact word comes before code that only has its stem", async () => {
    const users = Array.from({ length: 6 }, (_, i) => [`player/mode${i}.py`, `def set_mode_${i}(self, mode):\n    # Switch to the given mode.\n    self.mode = mode\n    return mode\n`]);
    const search = await index({
      ...Object.fromEntries(users),
      "player/modes.py": `def modes():\n    return ["shuffle", "repeat"]\n`,
    });
    expect((await search("modes"))[0]).toBe("modes");
  });

  it("keeps a one-letter query word that identifies the function", async () => {
    const search = await index({
      "text/size.py": `def chunk_text_by_size(text, size):\n    """Split text into parts of the given size; split text parts stay in order."""\n    return [text[i:i + size] for i in range(0, len(text), size)]\n`,
      "text/count.py": `def chunk_text(text, n):\n    """Split text into equal parts."""\n    k = len(text) // n\n    return [text[i * k:(i + 1) * k] for i in range(n)]\n`,
    });
    expect((await search("split text into n parts"))[0]).toBe("chunk_text");
  });

  it("common words and the language's name do not pull names made of them to the top", async () => {
    const fields = Object.fromEntries(
      Array.from({ length: 5 }, (_, i) => [`fields/f${i}.py`, `class Field${i}:\n    def to_python(self, value):\n        return value\n`]),
    );
    const search = await index({
      ...fields,
      "util/coerce.py": `def coerce(value, kind):\n    """Convert the value to the given type."""\n    return kind(value)\n`,
    });
    expect((await search("convert a value to a python type"))[0]).toBe("coerce");
  });

  it("finds camelCase, snake_case and digit-split identifiers from plain words, and the exact identifier first", async () => {
    const search = await index({
      "a.ts": "export function parseHttpConfig2(raw: string) {\n  return JSON.parse(raw);\n}\n",
      "b.py": "def load_user_settings(path):\n    return open(path).read()\n",
      "c.ts": "export function parseConfig(raw: string) {\n  return raw.split('\\n');\n}\n",
    });
    expect((await search("parse http config"))[0]).toBe("parseHttpConfig2");
    expect((await search("load user settings"))[0]).toBe("load_user_settings");
    expect((await search("parseConfig"))[0]).toBe("parseConfig");
  });
});
