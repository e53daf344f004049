import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { OpenDocumentSnippets, type SnippetQuery } from "../src/features/completion/snippets.js";
import type { DocumentSnapshot } from "../src/features/completion/types.js";
import { CombinedSnippetSource, IndexSnippetSource, type ContextProvider } from "../src/features/completion/indexSnippets.js";
import type { BuildContextParams, ContextChunk, ContextResult } from "../src/index/types.js";
import { makeWorkspace, startService } from "./helpers/indexWorkspace.js";

const count = (text: string): number => Math.ceil(text.length / 4);
const toPath = (uri: string): string => uri.slice(uri.lastIndexOf("/") + 1);

function chunk(uri: string, text: string, line = 0): ContextChunk {
  return { uri, path: toPath(uri), range: { start: { line, character: 0 }, end: { line: line + 3, character: 0 } }, score: 1, language: "typescript", symbol: "", kind: "function", text, tokens: count(text) };
}

/** A provider whose answers the test releases by hand. */
class FakeProvider implements ContextProvider {
  searchable = true;
  readonly calls: BuildContextParams[] = [];
  private pending: Array<(r: ContextResult) => void> = [];
  buildContext(params: BuildContextParams): Promise<ContextResult> {
    this.calls.push(params);
    return new Promise((resolve) => this.pending.push(resolve));
  }
  async answer(chunks: ContextChunk[]): Promise<void> {
    const resolve = this.pending.shift();
    if (!resolve) throw new Error("no lookup pending");
    resolve({ chunks, tokens: chunks.reduce((n, c) => n + c.tokens, 0), mode: "lexical" });
    await new Promise((r) => setImmediate(r));
  }
}

const query = (line: number, prefix = "const total = computeTotal(items, taxRate);\nconst"): SnippetQuery => ({ uri: "file:///w/main.ts", languageId: "typescript", prefix, cursorLine: line });

describe("index-backed completion snippets", () => {
  it("answers synchronously from its cache; a fresh result is adopted only when the cursor changes lines", async () => {
    const provider = new FakeProvider();
    const source = new IndexSnippetSource(provider, { refreshMs: 0 });
    // First call: nothing cached yet, a lookup starts in the background.
    expect(source.select(query(5), [], 500, count, toPath)).toEqual([]);
    expect(provider.calls).toHaveLength(1);
    expect(provider.calls[0]).toMatchObject({ uri: "file:///w/main.ts", cursor: { line: 5, character: 0 }, k: 4 });
    expect(provider.calls[0]!.query).toContain("computeTotal");
    await provider.answer([chunk("file:///w/tax.ts", "export function computeTotal(items, taxRate) { return items.length * taxRate; }")]);
    // Same line (the user is typing): the prompt's start must not change.
    expect(source.select(query(5), [], 500, count, toPath)).toEqual([]);
    // Next line: adopted.
    const adopted = source.select(query(6), [], 500, count, toPath);
    expect(adopted.map((s) => s.path)).toEqual(["tax.ts"]);
    // Typing on that line keeps exactly the same snippets (same array, no recount).
    expect(source.select(query(6), [], 500, count, toPath)).toBe(adopted);
    // A lookup for the new line ran; a worse answer does not replace the current one.
    expect(provider.calls).toHaveLength(2);
    await provider.answer([chunk("file:///w/other.ts", "unrelated words entirely here")]);
    expect(source.select(query(7), [], 500, count, toPath).map((s) => s.path)).toEqual(["tax.ts"]);
  });

  it("never waits on the index: one lookup at a time, none while it is not searchable", async () => {
    const provider = new FakeProvider();
    const source = new IndexSnippetSource(provider, { refreshMs: 0 });
    source.select(query(1), [], 500, count, toPath);
    source.select(query(2), [], 500, count, toPath);
    source.select(query(3), [], 500, count, toPath);
    expect(provider.calls).toHaveLength(1);
    provider.searchable = false;
    const other = new IndexSnippetSource(provider);
    expect(other.select(query(1), [], 500, count, toPath)).toEqual([]);
    expect(provider.calls).toHaveLength(1);
  });

  it("leaves out open documents and the current file, and fits the budget", async () => {
    const provider = new FakeProvider();
    const source = new IndexSnippetSource(provider, { refreshMs: 0 });
    source.select(query(1), [], 500, count, toPath);
    await provider.answer([
      chunk("file:///w/main.ts", "computeTotal in the current file"),
      chunk("file:///w/open.ts", "computeTotal in an open document"),
      chunk("file:///w/a.ts", `computeTotal ${"a".repeat(200)}`),
      chunk("file:///w/b.ts", `computeTotal ${"b".repeat(2000)}`),
    ]);
    const open: DocumentSnapshot[] = [{ uri: "file:///w/open.ts", languageId: "typescript", version: 1, text: "x" }];
    const got = source.select(query(2), open, 100, count, toPath);
    expect(got.map((s) => s.path)).toEqual(["a.ts"]);
    expect(source.select(query(2), open, 0, count, toPath)).toEqual([]);
  });

  it("combines with the open-document source in one budget, index snippets first", async () => {
    const provider = new FakeProvider();
    const index = new IndexSnippetSource(provider, { refreshMs: 0 });
    const combined = new CombinedSnippetSource(index, new OpenDocumentSnippets());
    const docs: DocumentSnapshot[] = [{ uri: "file:///w/open.ts", languageId: "typescript", version: 1, text: "export function computeTotal(items, taxRate) {\n  return items.length * taxRate;\n}\n" }];
    combined.select(query(1), docs, 400, count, toPath);
    await provider.answer([chunk("file:///w/tax.ts", "export const taxRate = computeTotal([], 0.2);")]);
    const got = combined.select(query(2), docs, 400, count, toPath);
    expect(got.map((s) => s.path)).toEqual(["tax.ts", "open.ts"]);
    const off = new CombinedSnippetSource(index, new OpenDocumentSnippets(), () => false);
    expect(off.select(query(3), docs, 400, count, toPath).map((s) => s.path)).toEqual(["open.ts"]);
  });
});

describe("index-backed snippets on a real index", () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it("finds the definitions the code before the cursor uses", async () => {
    const ws = makeWorkspace({
      "src/pricing.ts": "export function computeInvoiceTotal(lines: InvoiceLine[], taxRate: number): number {\n  return lines.reduce((sum, l) => sum + l.price * l.quantity, 0) * (1 + taxRate);\n}\n",
      "src/shipping.ts": "export function shippingCost(weightKg: number): number {\n  return 5 + weightKg * 1.2;\n}\n",
    });
    cleanups.push(ws.cleanup);
    const { service } = await startService(ws);
    cleanups.push(() => service.dispose());
    const lookups: Array<Promise<unknown>> = [];
    const provider: ContextProvider = {
      get searchable() {
        return service.searchable;
      },
      buildContext: (params) => {
        const result = service.buildContext(params);
        lookups.push(result);
        return result;
      },
    };
    const source = new IndexSnippetSource(provider, { refreshMs: 0 });
    const uri = pathToFileURL(path.join(ws.root, "src/checkout.ts")).href;
    const prefix = "import { computeInvoiceTotal } from './pricing';\n\nexport function checkout(lines: InvoiceLine[]) {\n  const total = computeInvoiceTotal(";
    const q: SnippetQuery = { uri, languageId: "typescript", prefix, cursorLine: 3 };
    source.select(q, [], 300, count, toPath);
    expect(lookups).toHaveLength(1);
    await lookups[0];
    await new Promise((r) => setImmediate(r));
    const got = source.select({ ...q, cursorLine: 4 }, [], 300, count, toPath);
    expect(got[0]?.path).toBe("pricing.ts");
    expect(got[0]?.text).toContain("computeInvoiceTotal");
  });
});
