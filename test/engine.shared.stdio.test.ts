import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CancellationTokenSource } from "vscode-jsonrpc/node";
import type { ChatResponse, CompletionMetricsResult, ModelStatusResult } from "../src/server/protocol.js";
import { INLINE_CLIENT, startStdioServer, type TestClient } from "./helpers/lspClient.js";
import { tempDir, tinyModel } from "./helpers/models.js";

// Several real servers (editor windows) over stdio, sharing one real engine process on a real
// Unix socket in a private test folder.
const uri = "file:///work/shared/src/main.ts";
const text = "export function total(values: number[]): number {\n  let sum = 0;\n  for (const v of values) {\n    sum += \n  }\n  return sum;\n}\n";
const at = { line: 3, character: 11 };

const cache = tempDir();
const engineDir = tempDir("ifai-engine-");
const servers: TestClient[] = [];
let modelPath: string;

function settings(mode: "shared" | "in-process"): Record<string, unknown> {
  return {
    engine: { mode },
    model: { path: modelPath, threads: 1, batchSize: 32 },
    completion: { debounceMs: 0, maxTokens: 8, maxMultilineTokens: 8, temperature: 0 },
    chat: { temperature: 0, maxTokens: 12, contextSize: 1024 },
    index: { enabled: false },
  };
}

async function window(mode: "shared" | "in-process"): Promise<TestClient> {
  const client = startStdioServer({ IFAI_CACHE_DIR: cache.path, IFAI_ENGINE_DIR: engineDir.path, IFAI_ENGINE_IDLE_MS: "300" });
  servers.push(client);
  await client.initialize(INLINE_CLIENT, settings(mode));
  await client.open(uri, "typescript", text);
  return client;
}

const command = <T>(client: TestClient, name: string, ...args: unknown[]): Promise<T> =>
  client.connection.sendRequest("workspace/executeCommand", { command: name, arguments: args }) as Promise<T>;
let opened = 0;
/** A suggestion in a freshly opened copy of the file, so that it comes from the model, not the cache. */
const fresh = async (client: TestClient, token?: CancellationTokenSource): Promise<string> => {
  const copy = `file:///work/shared/src/copy${++opened}.ts`;
  await client.open(copy, "typescript", text);
  const list = await client.inline(copy, at, token);
  return list?.items[0] ? String(typeof list.items[0].insertText === "string" ? list.items[0].insertText : list.items[0].insertText.value) : "";
};
const suggestion = async (client: TestClient): Promise<string> => {
  const list = await client.inline(uri, at);
  return list?.items[0] ? String(typeof list.items[0].insertText === "string" ? list.items[0].insertText : list.items[0].insertText.value) : "";
};
const lastSource = async (client: TestClient): Promise<string> => {
  const metrics = (await client.connection.sendRequest("ifai/completionMetrics", { last: 1 })) as CompletionMetricsResult;
  return metrics.records.at(-1)!.source;
};
const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
/** Waits for a condition about another process (whose events a test cannot subscribe to). */
async function until(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

let a: TestClient;
let b: TestClient;
let enginePid: number;

beforeAll(async () => {
  modelPath = await tinyModel();
  a = await window("shared");
  b = await window("shared");
});
afterAll(async () => {
  for (const s of servers) s.kill();
  if (enginePid && alive(enginePid)) process.kill(enginePid, "SIGKILL");
  cache.cleanup();
  engineDir.cleanup();
});

describe("one engine for every editor window", () => {
  it("two windows share one engine process, and answer exactly as a server with the model in process", async () => {
    // Both windows need the engine at once: one starts it, the other finds it (or its own copy
    // finds the first listening and steps aside).
    const [fromA, fromB] = await Promise.all([suggestion(a), suggestion(b)]);
    const statusA = await command<ModelStatusResult>(a, "ifai.modelStatus");
    const statusB = await command<ModelStatusResult>(b, "ifai.modelStatus");
    expect(statusA.engine?.mode).toBe("shared");
    expect(statusB.engine).toMatchObject({ mode: "shared", pid: statusA.engine?.pid, clients: 2, models: 1 });
    enginePid = statusA.engine!.pid!;
    expect([a.process!.pid, b.process!.pid]).not.toContain(enginePid);
    expect(statusA.state).toBe("ready");
    expect(await lastSource(a)).toBe("model");

    // The stop callback runs in the server and the engine waits for its verdict per token, so the
    // shared engine stops where the in-process model does: same greedy text, same length.
    const solo = await window("in-process");
    expect((await command<ModelStatusResult>(solo, "ifai.modelStatus")).engine).toEqual({ mode: "in-process" });
    const fromSolo = await suggestion(solo);
    expect(fromA).toBe(fromSolo);
    expect(fromB).toBe(fromSolo);
    await solo.shutdownAndExit();
  });

  it("streams a chat through the engine", async () => {
    const seen: string[] = [];
    a.connection.onNotification("ifai/chatDelta", (p: { chatId: string; delta: string }) => {
      if (p.chatId === "shared-chat") seen.push(p.delta);
    });
    const result = (await a.connection.sendRequest("ifai/chat", { chatId: "shared-chat", backend: "local", messages: [{ role: "user", content: "hi" }] })) as ChatResponse;
    expect(result.route.servedBy).toBe("local");
    expect(result.usage.completionTokens).toBeGreaterThan(0);
    expect(seen.join("")).toBe(result.content);
  });

  it("listens only in a folder this user alone can enter, on a socket only this user can open", () => {
    const folder = fs.statSync(engineDir.path);
    expect(folder.mode & 0o777).toBe(0o700);
    const sockets = fs.readdirSync(engineDir.path).filter((f) => f.endsWith(".sock"));
    expect(sockets).toHaveLength(1);
    const socket = fs.statSync(path.join(engineDir.path, sockets[0]!));
    expect(socket.isSocket()).toBe(true);
    expect(socket.mode & 0o777).toBe(0o600);
  });

  it("a client sending garbage loses only its own connection", async () => {
    const socketFile = path.join(engineDir.path, fs.readdirSync(engineDir.path).find((f) => f.endsWith(".sock"))!);
    const closed = await new Promise<boolean>((resolve) => {
      const raw = net.connect(socketFile, () => raw.write('{"t":"generate","id":"x"}\nnot json\n'));
      raw.on("close", () => resolve(true));
      raw.on("error", () => undefined);
    });
    expect(closed).toBe(true);
    expect(alive(enginePid)).toBe(true);
    await fresh(b);
    expect(await lastSource(b)).toBe("model");
  });

  it("a cancelled request stops in the engine, and the next one is answered", async () => {
    const token = new CancellationTokenSource();
    const cancelled = fresh(a, token);
    token.cancel();
    await cancelled.catch(() => "");
    await fresh(a);
    expect(await lastSource(a)).toBe("model");
  });

  it("a killed engine costs at most one failed request: the next one starts a new engine", async () => {
    process.kill(enginePid, "SIGKILL");
    await until(() => !alive(enginePid), "the engine is gone");
    // The request racing the crash may find the model unavailable; the one after it must not.
    await fresh(a);
    await fresh(a);
    expect(await lastSource(a)).toBe("model");
    const status = await command<ModelStatusResult>(a, "ifai.modelStatus");
    expect(status.engine?.pid).toBeDefined();
    expect(status.engine?.pid).not.toBe(enginePid);
    enginePid = status.engine!.pid!;
    // The other window reconnects to the new engine on its next request.
    await fresh(b);
    await fresh(b);
    expect(await lastSource(b)).toBe("model");
    expect((await command<ModelStatusResult>(b, "ifai.modelStatus")).engine?.pid).toBe(enginePid);
  });

  it("the engine exits once the last window has closed", async () => {
    expect(await a.shutdownAndExit()).toBe(0);
    expect(alive(enginePid)).toBe(true);
    expect(await b.shutdownAndExit()).toBe(0);
    await until(() => !alive(enginePid), "the engine exits after its last client left");
    expect(fs.readdirSync(engineDir.path).filter((f) => f.endsWith(".sock"))).toEqual([]);
  });
});

describe("where the shared engine cannot start", () => {
  it("a server runs the model itself, serves the request that found out, and says why", async () => {
    // A socket folder other users can enter is never used.
    const open = tempDir("ifai-engine-open-");
    fs.chmodSync(open.path, 0o755);
    const client = startStdioServer({ IFAI_CACHE_DIR: cache.path, IFAI_ENGINE_DIR: open.path });
    servers.push(client);
    try {
      await client.initialize(INLINE_CLIENT, settings("shared"));
      await client.open(uri, "typescript", text);
      await suggestion(client);
      expect(await lastSource(client)).toBe("model");
      const status = await command<ModelStatusResult>(client, "ifai.modelStatus");
      expect(status.state).toBe("ready");
      expect(status.engine).toMatchObject({ mode: "in-process", fallback: expect.stringMatching(/could not be started.*other users/) });
      expect(fs.readdirSync(open.path)).toEqual([]);
      expect(await client.shutdownAndExit()).toBe(0);
    } finally {
      open.cleanup();
    }
  });
});
