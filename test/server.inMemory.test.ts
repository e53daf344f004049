import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CompletionMetricsResult, StatusParams } from "../src/server/protocol.js";
import { INLINE_CLIENT, ITEMS_CLIENT, startInMemoryServer, type TestClient } from "./helpers/lspClient.js";
import { tinyModel } from "./helpers/models.js";

/** The fast tier: the server runs in this process over in-memory streams, no build involved. */
describe("in-memory client/server pair", () => {
  let client: TestClient;
  let modelPath: string;
  const uri = "file:///mem/a.py";

  beforeAll(async () => {
    modelPath = await tinyModel();
    client = startInMemoryServer();
    client.workspaceSettings = { completion: { debounceMs: 0, maxTokens: 6 }, model: { path: modelPath, threads: 1 } };
  });
  afterAll(async () => {
    // No `exit` here: in-process, it would end the test runner.
    await client.connection.sendRequest("shutdown");
    client.connection.dispose();
  });

  it("negotiates capabilities and pulls the workspace configuration", async () => {
    const result = await client.initialize(INLINE_CLIENT, {});
    expect(result.capabilities.inlineCompletionProvider).toBeTruthy();
    const status = (await client.waitForNotification("ifai/status", (p: StatusParams) => p.model.path === modelPath)) as StatusParams;
    expect(status.model.state).toBe("unloaded");
    expect(status.completion).toEqual({ enabled: true, inline: true });
  });

  it("applies incremental edits and completes at the edited position", async () => {
    await client.open(uri, "python", "def add(a, b):\n    return \n");
    await client.edit(uri, { start: { line: 1, character: 11 }, end: { line: 1, character: 11 } }, "a +");
    const list = await client.inline(uri, { line: 1, character: 14 });
    expect(list).not.toBeNull();
    const m = (await client.connection.sendRequest("ifai/completionMetrics", { last: 1 })) as CompletionMetricsResult;
    expect(m.records).toHaveLength(1);
    expect(m.records[0]!.source).toBe("model");
    expect(m.records[0]!.mode).toBe("single-line");
    expect(m.rss).toBeGreaterThan(0);
    // The breakdown separates what only the server holds from file-backed pages (the mapped model).
    expect(m.memory?.heapUsed).toBeGreaterThan(0);
    if (process.platform === "linux") expect(m.memory!.anon! + m.memory!.file!).toBeGreaterThan(m.rss * 0.9);
    // The model is now loaded and its status says so.
    await client.waitForNotification("ifai/status", (p: StatusParams) => p.model.state === "ready");
  });

  it("serves a custom request sent without params (the token then arrives first)", async () => {
    const m = (await client.connection.sendRequest("ifai/completionMetrics")) as CompletionMetricsResult;
    expect(Array.isArray(m.records)).toBe(true);
    expect(m.records.length).toBeGreaterThan(0);
  });

  it("decides multi-line after a block opener", async () => {
    const doc = "file:///mem/b.py";
    await client.open(doc, "python", "def fib(n):\n    ");
    await client.inline(doc, { line: 1, character: 4 });
    const m = (await client.connection.sendRequest("ifai/completionMetrics", { last: 1 })) as CompletionMetricsResult;
    expect(m.records[0]!.mode).toBe("multi-line");
  });

  it("a client without inline completion gets no inline provider", async () => {
    const other = startInMemoryServer();
    const result = await other.initialize(ITEMS_CLIENT, {});
    expect(result.capabilities.inlineCompletionProvider).toBeUndefined();
    await other.connection.sendRequest("shutdown");
    other.connection.dispose();
  });
});
