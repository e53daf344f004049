import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CancellationTokenSource, ProgressType } from "vscode-jsonrpc/node";
import type {
  ChatParams,
  ChatPartialResult,
  ChatResponse,
  CompletionMetricsResult,
  ExplainRouteResult,
  ModelStatusResult,
  StatusParams,
  SwitchBackendResult,
} from "../src/server/protocol.js";
import { INLINE_CLIENT, ITEMS_CLIENT, startStdioServer, type TestClient } from "./helpers/lspClient.js";
import { makeWorkspace } from "./helpers/indexWorkspace.js";
import { tempDir, tinyModel } from "./helpers/models.js";
import { OpenAIFixture } from "./helpers/openaiFixture.js";

const docUri = "file:///work/demo/src/main.ts";
const docText = "export function greet(name: string): string {\n  const message = \n  return message;\n}\n";
const ask = (content: string, extra: Partial<ChatParams> = {}): ChatParams => ({ messages: [{ role: "user", content }], backend: "local", ...extra });

let modelPath: string;
let fixture: OpenAIFixture;
const cache = tempDir();
const workspace = makeWorkspace({
  "src/greeting.ts": "export function greetingFor(name: string): string {\n  return `Hello, ${name}!`;\n}\n",
  "src/math.ts": "export function addNumbers(a: number, b: number): number {\n  return a + b;\n}\n",
});
let client: TestClient;

function settings(): Record<string, unknown> {
  return {
    model: { path: modelPath, threads: 1, batchSize: 32 },
    completion: { debounceMs: 0, maxTokens: 6, maxMultilineTokens: 6 },
    // Greedy sampling makes the tiny model's (meaningless) answers repeatable.
    chat: { temperature: 0, maxTokens: 400, contextSize: 1024 },
    cloud: { providers: { fx: { baseUrl: fixture.baseUrl, model: "fixture-model" } }, maxRetries: 0, cooldownSeconds: 0 },
  };
}

const chat = (params: ChatParams, token?: CancellationTokenSource): Promise<ChatResponse> =>
  (token ? client.connection.sendRequest("ifai/chat", params, token.token) : client.connection.sendRequest("ifai/chat", params)) as Promise<ChatResponse>;
const command = <T>(name: string, ...args: unknown[]): Promise<T> => client.connection.sendRequest("workspace/executeCommand", { command: name, arguments: args }) as Promise<T>;
const deltasOf = (chatId: string): ChatPartialResult[] =>
  client.notifications.filter((n) => n.method === "ifai/chatDelta" && (n.params as ChatPartialResult).chatId === chatId).map((n) => n.params as ChatPartialResult);
const joined = (parts: ChatPartialResult[]): string => parts.map((p) => p.delta).join("");

beforeAll(async () => {
  modelPath = await tinyModel();
  fixture = new OpenAIFixture(modelPath);
  await fixture.start();
  client = startStdioServer({ IFAI_CACHE_DIR: cache.path });
  await client.initialize(INLINE_CLIENT, settings(), workspace.uri);
  await client.open(docUri, "typescript", docText);
});
afterAll(async () => {
  client?.kill();
  await fixture?.stop();
  cache.cleanup();
  workspace.cleanup();
});

describe("ifai/chat over stdio", () => {
  it("streams ifai/chatDelta notifications in order and reports route, model and usage", async () => {
    const result = await chat(ask("What does greet do?", { chatId: "c-notify", maxTokens: 24 }));
    const deltas = deltasOf("c-notify");
    expect(result.chatId).toBe("c-notify");
    expect(result.usage.completionTokens).toBeGreaterThan(2);
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.map((d) => d.seq)).toEqual(deltas.map((_, i) => i));
    expect(joined(deltas)).toBe(result.content);
    expect(result.route).toMatchObject({ servedBy: "local", backend: "local", rule: "override" });
    expect(result.route.reasons.join(" ")).toMatch(/local/);
    expect(result.model).toMatch(/\.gguf$/);
    expect(result.usage.promptTokens).toBeGreaterThan(10);
    expect(result.usage.timeToFirstTokenMs).toBeGreaterThan(0);
    expect(result.usage.tokensPerSecond).toBeGreaterThan(0);
    expect(["max-tokens", "stop-token", "end-of-generation"]).toContain(result.stopReason);
  });

  it("streams as $/progress partial results when the client sends a partialResultToken", async () => {
    const parts: ChatPartialResult[] = [];
    const subscription = client.connection.onProgress(new ProgressType<ChatPartialResult>(), "partial-1", (p) => {
      parts.push(p);
    });
    const result = await chat(ask("Explain greet.", { partialResultToken: "partial-1", maxTokens: 24 }));
    subscription.dispose();
    expect(parts.length).toBeGreaterThan(1);
    expect(parts.map((d) => d.seq)).toEqual(parts.map((_, i) => i));
    expect(joined(parts)).toBe(result.content);
    expect(deltasOf(result.chatId)).toEqual([]);
  });

  it("streams as work-done reports when the client sends only a workDoneToken", async () => {
    const events: any[] = [];
    const subscription = client.connection.onProgress(new ProgressType<any>(), "work-1", (p) => {
      events.push(p);
    });
    const result = await chat(ask("Explain greet.", { workDoneToken: "work-1", maxTokens: 24 }));
    subscription.dispose();
    expect(events[0]).toMatchObject({ kind: "begin", cancellable: true });
    expect(events.at(-1)).toEqual({ kind: "end" });
    const reports = events.filter((e) => e.kind === "report");
    expect(reports.length).toBeGreaterThan(1);
    expect(reports.map((r) => r.delta).join("")).toBe(result.content);
    expect(deltasOf(result.chatId)).toEqual([]);
  });

  it("serves a cloud route through the provider's chat API with the scripted answer streamed", async () => {
    fixture.failNext({ kind: "reply", text: "Greet returns a greeting for the name." });
    const result = await chat({ messages: [{ role: "user", content: "What does greet do?" }], backend: "cloud", chatId: "c-cloud" });
    expect(result.content).toBe("Greet returns a greeting for the name.");
    expect(result.route).toMatchObject({ servedBy: "cloud:fx", backend: "cloud", provider: "fx" });
    expect(result.model).toBe("fixture-model");
    expect(joined(deltasOf("c-cloud"))).toBe(result.content);
    expect(fixture.requests.at(-1)!.body.messages[0].role).toBe("system");
  });

  it("puts the selected code of the document into the prompt, naming its lines", async () => {
    fixture.failNext({ kind: "reply", text: "ok" });
    const selection = { start: { line: 0, character: 0 }, end: { line: 1, character: 0 } };
    const result = await chat({ messages: [{ role: "user", content: "Explain this." }], backend: "cloud", textDocument: { uri: docUri }, selection });
    expect(result.content).toBe("ok");
    const system = fixture.requests.at(-1)!.body.messages[0].content as string;
    expect(system).toMatch(/The user selected this code in \S*main\.ts \(line 1\):\n```typescript\nexport function greet\(name: string\): string \{\n\n```/);
  });

  it("stops a streaming answer on $/cancelRequest with the text so far, and closes the provider's stream", async () => {
    // The provider streams a first piece, then holds the stream open until the server closes it:
    // the answer cannot end before the cancel, however busy the machine is.
    fixture.failNext({ kind: "stall", text: "One, two, three, " });
    const n = fixture.requests.length;
    const token = new CancellationTokenSource();
    const firstDelta = client.waitForNotification("ifai/chatDelta", (p) => p.chatId === "c-cancel");
    const pending = chat(ask("Count to one thousand.", { chatId: "c-cancel", backend: "cloud" }), token);
    await firstDelta;
    token.cancel();
    const result = await pending;
    expect(result.stopReason).toBe("aborted");
    // What was streamed before the cancel is the answer, accounted for, and by which model.
    expect(result.content).toBe(joined(deltasOf("c-cancel")));
    expect(result.content.length).toBeGreaterThan(0);
    expect(result.usage.completionTokens).toBeGreaterThan(0);
    expect(result.route.servedBy).toBe("cloud:fx");
    await fixture.requests[n]!.closed;
    expect(fixture.requests[n]).toMatchObject({ answer: "stall", aborted: true });
  });

  it("a local chat cancelled as it starts leaves the chat context free for the next one", async () => {
    // Whether the cancel lands before the prompt's first step or after the last token depends on
    // the machine; either way the next local chat must get the context (the cancel paths of the
    // local backend itself are tested in chatBackend.test.ts, deterministically).
    const early = new CancellationTokenSource();
    const cancelledEarly = chat(ask(`Summarise: ${"lorem ipsum dolor ".repeat(40)}`, { chatId: "c-cancel-early" }), early);
    early.cancel();
    const first = await cancelledEarly;
    expect(["aborted", "max-tokens", "stop-token", "end-of-generation"]).toContain(first.stopReason);
    const next = await chat(ask("And now?", { maxTokens: 4 }));
    expect(next.stopReason).not.toBe("aborted");
    expect(next.usage.completionTokens).toBeGreaterThan(0);
  });

  it("answers bad input with a clear error or a trimmed prompt and a notice, never a crash", async () => {
    await expect(chat({ messages: [] })).rejects.toThrow(/no user message/);
    await expect(chat({ messages: [{ role: "user", content: "   " }] })).rejects.toThrow(/no user message/);
    const many: ChatParams["messages"] = [];
    for (let i = 0; i < 199; i++) many.push({ role: i % 2 ? "assistant" : "user", content: `message ${i} `.repeat(30) });
    many.push({ role: "user", content: `${"lorem ipsum ".repeat(90_000)}\nWhat is this?` });
    const result = await chat({ messages: many, backend: "local", maxTokens: 4 });
    expect(result.notices.join("\n")).toMatch(/left out/);
    expect(result.notices.join("\n")).toMatch(/cut/);
    expect(result.usage.promptTokens).toBeLessThanOrEqual(1024);
    expect(result.stopReason).not.toBe("aborted");
    const mixed = await chat({ messages: [{ role: "robot", content: "x" } as never, { role: "user", content: "hi" }], backend: "local", maxTokens: 2 });
    expect(mixed.notices.join("\n")).toMatch(/1 message was skipped/);
  });

  it("retrieves codebase context for an @codebase mention, with sources", async () => {
    await client.waitForNotification("ifai/status", (p: StatusParams) => p.index?.state === "ready" && p.index.chunks > 0);
    const result = await chat(ask("@codebase where is addNumbers defined?", { maxTokens: 4 }));
    expect(result.sources.length).toBeGreaterThan(0);
    expect(result.sources[0]).toMatchObject({ path: "src/math.ts", range: { start: { line: 0 } } });
    expect(result.sources[0]!.uri).toMatch(/^file:.*math\.ts$/);
    expect(result.sources[0]!.score).toBeGreaterThan(0);
    const without = await chat(ask("where is addNumbers defined?", { maxTokens: 2 }));
    expect(without.sources).toEqual([]);
  });

  it("keeps the completion KV cache through a chat, and measures a completion during a streaming chat", async () => {
    const metrics = async () => ((await client.connection.sendRequest("ifai/completionMetrics", {})) as CompletionMetricsResult).records.at(-1)!;
    let col = "  const message = ".length;
    const completeAfterTyping = async () => {
      await client.edit(docUri, { start: { line: 1, character: col }, end: { line: 1, character: col } }, "a");
      col++;
      await client.inline(docUri, { line: 1, character: col });
      return metrics();
    };
    await completeAfterTyping();
    const idle = await completeAfterTyping();
    expect(idle.reusedTokens).toBeGreaterThan(0);
    await chat(ask("Summarise the file.", { maxTokens: 16 }));
    const afterChat = await completeAfterTyping();
    expect(afterChat.source).toBe("model");
    // As much of the prompt is reused as between two keystrokes without a chat: the chat did not evict the cache.
    expect(afterChat.reusedTokens).toBeGreaterThanOrEqual(idle.reusedTokens);
    expect(afterChat.evaluatedTokens).toBeLessThanOrEqual(idle.evaluatedTokens);

    const streaming = client.waitForNotification("ifai/chatDelta", (p) => p.chatId === "c-during");
    const pending = chat(ask("Write a long essay.", { chatId: "c-during", maxTokens: 300 }));
    await streaming;
    const during = await completeAfterTyping();
    const answer = await pending;
    expect(during.source).toBe("model");
    // Timing is measured, not asserted (see the report): completion latency idle vs during a streaming chat.
    console.info(
      `[chat.stdio] completion totalMs idle ${idle.totalMs.toFixed(0)} / after chat ${afterChat.totalMs.toFixed(0)} / during streaming chat ${during.totalMs.toFixed(0)}; chat ${answer.usage.completionTokens} tokens, ttft ${answer.usage.timeToFirstTokenMs} ms, ${answer.usage.tokensPerSecond} tok/s`,
    );
  });
});

describe("commands and status", () => {
  it("reports, loads and unloads the model", async () => {
    const loaded = await command<ModelStatusResult>("ifai.loadModel");
    expect(loaded).toMatchObject({ state: "ready", path: modelPath, threads: 1 });
    const unloaded = await command<ModelStatusResult>("ifai.unloadModel");
    expect(unloaded.state).toBe("unloaded");
    await client.waitForNotification("ifai/status", (p: StatusParams) => p.model.state === "unloaded");
    expect((await command<ModelStatusResult>("ifai.modelStatus")).state).toBe("unloaded");
    expect((await command<ModelStatusResult>("ifai.loadModel")).state).toBe("ready");
  });

  it("switches the backend at runtime, announces it, and explains routes", async () => {
    const local = await command<ExplainRouteResult>("ifai.explainRoute", { task: "chat", contextTokens: 100 });
    expect(local.backend).toBe("cloud");
    const switched = await command<SwitchBackendResult>("ifai.switchBackend", "Local");
    expect(switched).toMatchObject({ preference: "local", previous: "auto" });
    await client.waitForNotification("ifai/status", (p: StatusParams) => p.backend?.preference === "local" && p.backend.source === "command");
    const explained = await command<ExplainRouteResult>("ifai.explainRoute", { task: "chat", contextTokens: 100 });
    expect(explained).toMatchObject({ backend: "local", rule: "preference", task: "chat", contextTokens: 100 });
    expect(explained.reasons.join(" ")).toMatch(/local/);
    // A chat without a backend of its own follows the switch.
    const result = await chat({ messages: [{ role: "user", content: "hi" }], maxTokens: 2 });
    expect(result.route.servedBy).toBe("local");
    await expect(command("ifai.switchBackend", "Moon")).rejects.toThrow(/Local", "Cloud" or "Auto/);
    // Arguments of the wrong shape are the client's mistake: InvalidParams, not InternalError.
    await expect(command("ifai.switchBackend", { backend: 7 })).rejects.toMatchObject({ code: -32602 });
    await expect(command("ifai.models.verify", [])).rejects.toMatchObject({ code: -32602 });
    await expect(command("ifai.codeAction", "nonsense")).rejects.toMatchObject({ code: -32602 });
    await expect(command("ifai.noSuchCommand")).rejects.toMatchObject({ code: -32602 });
    expect(await command<SwitchBackendResult>("ifai.switchBackend", "auto")).toMatchObject({ preference: "auto", previous: "local" });
    await expect(command("ifai.explainRoute", { task: "dance" })).rejects.toMatchObject({ code: -32602, message: expect.stringMatching(/unknown task/) });
  });

  it("runs ifai.chat for clients without custom requests, streaming through ifai/chatDelta", async () => {
    const result = await command<ChatResponse>("ifai.chat", ask("hello", { chatId: "c-command", maxTokens: 12, partialResultToken: "ignored" }));
    expect(result.chatId).toBe("c-command");
    expect(joined(deltasOf("c-command"))).toBe(result.content);
    expect(result.usage.completionTokens).toBeGreaterThan(0);
    await client.waitForNotification("ifai/status", (p: StatusParams) => p.chat?.busy === false && p.chat.lastServedBy === "local");
  });

  it("restarts indexing and delegates downloads to the model manager", async () => {
    const status = await command<{ state: string; folders: unknown[] }>("ifai.reindex");
    expect(status.folders.length).toBeGreaterThanOrEqual(0);
    expect(typeof status.state).toBe("string");
    await client.waitForNotification("ifai/status", (p: StatusParams) => p.index?.state === "ready" && p.index.chunks > 0);
    // A refusal the user acts on is RequestFailed with the fix in its message, not InternalError.
    await expect(command("ifai.downloadModel", "no-such-model-id")).rejects.toMatchObject({ code: -32803, message: expect.stringMatching(/no-such-model-id/) });
    await expect(command("ifai.models.verify", "no-such-model-id")).rejects.toMatchObject({ code: -32803 });
    await expect(command("ifai.downloadModel")).rejects.toThrow(/needs a model id/);
  });

  it("lists the new commands in executeCommandProvider", async () => {
    const other = startStdioServer({ IFAI_CACHE_DIR: cache.path });
    try {
      const init = await other.initialize(ITEMS_CLIENT, { model: { path: modelPath, threads: 1 }, index: { enabled: false } });
      const names = init.capabilities.executeCommandProvider?.commands ?? [];
      for (const name of ["ifai.loadModel", "ifai.unloadModel", "ifai.downloadModel", "ifai.modelStatus", "ifai.switchBackend", "ifai.reindex", "ifai.explainRoute", "ifai.chat"]) {
        expect(names).toContain(name);
      }
    } finally {
      other.kill();
    }
  });
});

