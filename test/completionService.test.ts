import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultSettings } from "../src/config/schema.js";
import { CompletionService, cutAtJunk } from "../src/features/completion/CompletionService.js";
import type { CompletionRequest, DocumentSnapshot } from "../src/features/completion/types.js";
import { completionRequest } from "./helpers/completionRequest.js";
import { completionSettings } from "../src/server/server.js";
import { silentLogger } from "../src/util/logger.js";
import { createEngine, tinyModel } from "./helpers/models.js";

const never = new AbortController().signal;

function request(text: string, offset: number, others: DocumentSnapshot[] = [], uri = "file:///p/a.ts"): CompletionRequest {
  return completionRequest(uri, text, offset, others);
}

describe("completion service on the tiny model", () => {
  let engine: ReturnType<typeof createEngine>;
  let service: CompletionService;
  // The full prompt on every request: these tests are about its parts (the short first prompt
  // that answers before a full one is evaluated is tested in completionPrefill).
  const settings = { ...completionSettings(defaultSettings()), debounceMs: 0, maxTokens: 8, maxMultilineTokens: 16, firstPrefixTokens: 0 };

  beforeAll(async () => {
    engine = createEngine(await tinyModel());
    service = new CompletionService(engine.backend, settings, silentLogger());
  });
  afterAll(async () => {
    await engine.model.dispose();
  });

  it("answers from the model, then from the cache for the same context", async () => {
    const text = "const total = items.reduce((sum, x) => sum + x, 0);\nconst average = ";
    const first = await service.complete(request(text, text.length), never);
    expect(first.metrics.source).toBe("model");
    expect(first.metrics.promptTokens).toBeGreaterThan(text.length / 2);
    for (const s of first.suggestions) expect([s.replaceStart, s.replaceEnd]).toEqual([text.length, text.length]);
    const second = await service.complete(request(text, text.length), never);
    expect(second.metrics.source).toBe("cache");
    expect(second.suggestions).toEqual(first.suggestions);
  });

  it("lets the latest request win: the earlier one is answered empty as superseded", async () => {
    const text = "function area(r: number) {\n  return ";
    const slow = service.complete(request(text + "Math", text.length + 4), never);
    const fast = service.complete(request(text + "Math.", text.length + 5), never);
    const [a, b] = await Promise.all([slow, fast]);
    expect(a.metrics.source).toBe("superseded");
    expect(a.suggestions).toEqual([]);
    expect(b.metrics.source).toBe("model");
  });

  it("answers a client-cancelled request as cancelled, at once", async () => {
    const controller = new AbortController();
    const text = "let value = compute(";
    const pending = service.complete(request(text, text.length), controller.signal);
    controller.abort();
    const outcome = await pending;
    expect(outcome.metrics.source).toBe("cancelled");
    expect(outcome.suggestions).toEqual([]);
  });

  it("uses the repository-level prompt when other documents are open, and keeps CRLF documents CRLF", async () => {
    const other: DocumentSnapshot = { uri: "file:///p/util.ts", languageId: "typescript", version: 1, text: "export function compute(a: number) {\n  return a * 2;\n}\n" };
    const text = "import { compute } from './util';\r\nlet value = compute(";
    const withSnippets = await service.complete(request(text, text.length, [other], "file:///p/crlf.ts"), never);
    const alone = await service.complete(request(text, text.length, [], "file:///p/crlf2.ts"), never);
    // The other file's text (plus the repo/file markers) is part of the prompt.
    expect(withSnippets.metrics.promptTokens).toBeGreaterThan(alone.metrics.promptTokens + other.text.length / 2);
    for (const s of withSnippets.suggestions) expect(s.insertText.replace(/\r\n/g, "")).not.toContain("\n");
  });

  it("is disabled by the setting", async () => {
    const off = new CompletionService(engine.backend, { ...settings, enabled: false }, silentLogger());
    const outcome = await off.complete(request("x", 1), never);
    expect(outcome.metrics.source).toBe("disabled");
  });

  it("skips binary content near the cursor without touching the model", async () => {
    const text = "abc\u0000def";
    const outcome = await service.complete(request(text, 4, [], "file:///p/bin"), never);
    expect(outcome.metrics.source).toBe("skipped");
    expect(outcome.metrics.promptTokens).toBe(0);
  });
});

describe("junk filter", () => {
  it("cuts at control and replacement characters and keeps tabs and newlines", () => {
    expect(cutAtJunk("a\tb\nc")).toBe("a\tb\nc");
    expect(cutAtJunk("good\u0003bad")).toBe("good");
    expect(cutAtJunk("half \ufffd char")).toBe("half ");
    expect(cutAtJunk("\u0000")).toBe("");
  });
});
