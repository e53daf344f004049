import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CompletionMetricsRecord, CompletionMetricsResult, PrefillMetricsRecord } from "../src/server/protocol.js";
import { INLINE_CLIENT, startStdioServer, type TestClient } from "./helpers/lspClient.js";
import { tempDir, tinyModel } from "./helpers/models.js";

/**
 * Issue 15 over stdio: the server learns which document is in front of the user (didOpen,
 * ifai/didFocus), evaluates its prompt in the background, and keeps the KV state of recently used
 * documents. Asserted through the token counts of ifai/completionMetrics, never through time.
 */
const dir = tempDir();
const suffixBudget = 24;
let client: TestClient;

/** A module of `lines` distinct lines (the tiny model's vocabulary is bytes: one token per character). */
function moduleText(name: string, lines: number): string {
  return Array.from({ length: lines }, (_, i) => `export const ${name}${i} = compute(${i}, "${name}-${i}");`).join("\n") + "\n";
}

const metrics = (): Promise<CompletionMetricsResult> => client.connection.sendRequest("ifai/completionMetrics", {});
const last = async (): Promise<CompletionMetricsRecord> => (await metrics()).records.at(-1)!;

/**
 * Waits for the server to record a finished prefill of `uri` with this reason, of the document's
 * full prompt unless `lane` says otherwise (each poll is a round trip).
 */
async function prefillOf(uri: string, reason: PrefillMetricsRecord["reason"], lane: PrefillMetricsRecord["lane"] = "full"): Promise<PrefillMetricsRecord> {
  for (;;) {
    const found = (await metrics()).prefills?.find((p) => p.uri === uri && p.reason === reason && p.lane === lane);
    if (found) return found;
  }
}

beforeAll(async () => {
  client = startStdioServer({ IFAI_CACHE_DIR: dir.path });
  await client.initialize(INLINE_CLIENT, {
    model: { path: await tinyModel(), threads: 1, batchSize: 32 },
    completion: { debounceMs: 0, maxTokens: 4, maxMultilineTokens: 4, maxSuffixTokens: suffixBudget, maxPrefixTokens: 1200, warmDocuments: 3 },
  });
  // A prefill never loads the model: the first request does.
  await client.open("file:///w/warmup.ts", "typescript", "const a = ");
  expect((await prefillOf("file:///w/warmup.ts", "open")).state).toBe("skipped");
  await client.inline("file:///w/warmup.ts", { line: 0, character: 10 });
  expect((await last()).source).toBe("model");
  await client.connection.sendNotification("textDocument/didClose", { textDocument: { uri: "file:///w/warmup.ts" } });
});
afterAll(async () => {
  expect(await client.shutdownAndExit()).toBe(0);
  dir.cleanup();
});

describe("work ahead of the user over stdio", () => {
  it("prefills an opened document, so the first keystroke in it reuses the prefix", async () => {
    const uri = "file:///w/opened.ts";
    const text = moduleText("o", 16);
    await client.open(uri, "typescript", text);
    const prefill = await prefillOf(uri, "open");
    expect(prefill.state).toBe("done");
    expect(prefill.evaluatedTokens).toBeGreaterThan(text.length / 2);

    // The user starts a new line after line 8 and the editor asks for a suggestion.
    const line = 8;
    const end = text.split("\n")[line]!.length;
    await client.edit(uri, { start: { line, character: end }, end: { line, character: end } }, "\nexport const");
    await client.inline(uri, { line: line + 1, character: "export const".length });
    const record = await last();
    expect(record.source).toBe("model");
    const editOffset = text.split("\n").slice(0, line + 1).join("\n").length;
    expect(record.reusedTokens).toBeGreaterThanOrEqual(editOffset);
    expect(record.evaluatedTokens).toBeLessThanOrEqual("\nexport const".length + suffixBudget + 3);
  });

  it("prefills at the cursor ifai/didFocus names", async () => {
    const uri = "file:///w/focused.ts";
    // Longer than the prefix window: the top window would not reach the cursor.
    const text = moduleText("f", 60);
    await client.open(uri, "typescript", text);
    await prefillOf(uri, "open");
    const line = 50;
    await client.connection.sendNotification("ifai/didFocus", { textDocument: { uri }, position: { line, character: 0 } });
    // Far from the top window: the short first prompt is evaluated first, then the full one.
    expect((await prefillOf(uri, "focus", "first")).state).toBe("done");
    const prefill = await prefillOf(uri, "focus");
    expect(prefill.state).toBe("done");

    await client.edit(uri, { start: { line, character: 0 }, end: { line, character: 0 } }, "let");
    await client.inline(uri, { line, character: 3 });
    const record = await last();
    expect(record.source).toBe("model");
    // The window before the cursor was evaluated in the background: only "let", the suffix and
    // the markers are new. A suffix cut inside a long line keeps two characters per budget token,
    // one token each in the tiny model's byte vocabulary.
    expect(record.promptTokens).toBeGreaterThan(900);
    expect(record.evaluatedTokens).toBeLessThanOrEqual(3 + 2 * suffixBudget + 3);
    expect(record.reusedTokens).toBeGreaterThan(900 - 2 * suffixBudget);
  });

  it("ignores ifai/didFocus for a document that is not open, and clamps a hostile position", async () => {
    await client.connection.sendNotification("ifai/didFocus", { textDocument: { uri: "file:///w/never-opened.ts" } });
    await client.connection.sendNotification("ifai/didFocus", { textDocument: { uri: 42 }, position: "x" });
    const uri = "file:///w/hostile.ts";
    await client.open(uri, "typescript", "const z = 1;\n");
    await prefillOf(uri, "open");
    await client.connection.sendNotification("ifai/didFocus", { textDocument: { uri }, position: { line: -5, character: 1e12 } });
    expect((await prefillOf(uri, "focus")).state).not.toBe("aborted");
    expect((await metrics()).prefills?.some((p) => p.uri === "file:///w/never-opened.ts")).toBe(false);
  });

  it("switching back to a file reuses its KV state, with the other file's snippets kept", async () => {
    const a = "file:///w/switch-a.ts";
    const b = "file:///w/switch-b.ts";
    const textA = moduleText("sa", 10) + "const totalA = compute(";
    const textB = moduleText("sb", 10) + "const totalB = compute(";
    await client.open(a, "typescript", textA);
    await client.open(b, "typescript", textB);
    const endA = { line: 10, character: "const totalA = compute(".length };
    const endB = { line: 10, character: "const totalB = compute(".length };
    await client.inline(a, endA);
    // Typing in B edits the document A's snippets may quote.
    await client.edit(b, { start: endB, end: endB }, "s");
    await client.inline(b, { line: 10, character: endB.character + 1 });
    const inB = await last();
    expect(inB.uri).toBe(b);

    await client.edit(a, { start: endA, end: endA }, "i");
    await client.inline(a, { line: 10, character: endA.character + 1 });
    const back = await last();
    expect(back.source).toBe("model");
    expect(back.uri).toBe(a);
    // Whichever prompt serves A (its full one, or the short first one while the full one is
    // not evaluated yet: it is upgraded in the background between requests), it is still
    // evaluated: only the new character, the suffix and the markers are new.
    if (back.lane === "full") expect(back.reusedTokens).toBeGreaterThanOrEqual(textA.length);
    expect(back.reusedTokens).toBeGreaterThanOrEqual(back.promptTokens - (1 + suffixBudget + 3));
    expect(back.evaluatedTokens).toBeLessThanOrEqual(1 + suffixBudget + 3);
    expect((await metrics()).warmDocuments?.slice(0, 2)).toEqual([a, b]);
  });
});
