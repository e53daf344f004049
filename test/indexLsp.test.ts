import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { WorkDoneProgress, type WorkDoneProgressBegin, type WorkDoneProgressEnd, type WorkDoneProgressReport } from "vscode-languageserver-protocol";
import type { IndexStatusResult } from "../src/server/protocol.js";
import { INLINE_CLIENT, ITEMS_CLIENT, startStdioServer, type TestClient } from "./helpers/lspClient.js";
import { makeWorkspace, sampleFiles } from "./helpers/indexWorkspace.js";
import { tinyModel } from "./helpers/models.js";

let modelPath: string;
const clients: TestClient[] = [];
const cleanups: Array<() => void> = [];
beforeAll(async () => {
  modelPath = await tinyModel();
});
afterEach(() => {
  for (const c of clients.splice(0)) c.kill();
});
afterAll(() => {
  for (const c of cleanups.splice(0)) c();
});

function start(cache: string): TestClient {
  const client = startStdioServer({ IFAI_CACHE_DIR: cache, IFAI_LOG_LEVEL: "warn" });
  clients.push(client);
  return client;
}

const status = (client: TestClient): Promise<IndexStatusResult> => client.connection.sendRequest("ifai/indexStatus") as Promise<IndexStatusResult>;

/** Asks ifai/indexStatus until `check` holds (the server pushes no index notifications to wait on). */
async function statusUntil(client: TestClient, check: (s: IndexStatusResult) => boolean, timeoutMs = 30_000): Promise<IndexStatusResult> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await status(client);
    if (check(s)) return s;
    if (Date.now() > deadline) throw new Error(`index status not reached: ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const options = () => ({ model: { path: modelPath, threads: 1 }, completion: { debounceMs: 0, maxTokens: 8 }, index: { watch: false } });

describe("codebase index over LSP (stdio)", () => {
  it("indexes the workspace with work-done progress, answers ifai/indexStatus, follows didChangeWatchedFiles and workspace folder changes", async () => {
    const ws = makeWorkspace(sampleFiles());
    cleanups.push(ws.cleanup);
    const client = start(ws.cache);
    const progress: Array<WorkDoneProgressBegin | WorkDoneProgressReport | WorkDoneProgressEnd> = [];
    let ended!: () => void;
    const end = new Promise<void>((resolve) => (ended = resolve));
    client.connection.onRequest("window/workDoneProgress/create", (params: { token: string }) => {
      client.connection.onProgress(WorkDoneProgress.type, params.token, (value) => {
        progress.push(value);
        if (value.kind === "end") ended();
      });
      return null;
    });
    const init = await client.initialize(INLINE_CLIENT, options(), ws.uri);
    expect(init.capabilities.workspace?.workspaceFolders).toEqual({ supported: true, changeNotifications: true });
    await end;
    expect(progress[0]).toMatchObject({ kind: "begin", title: "ifai: indexing" });
    expect(progress.at(-1)!.kind).toBe("end");

    const ready = await statusUntil(client, (s) => s.state === "ready");
    expect(ready.mode).toBe("lexical");
    expect(ready.folders).toHaveLength(1);
    expect(ready.folders[0]).toMatchObject({ folder: ws.uri, state: "ready", files: 13, indexedFiles: 13, table: "chunks_lexical", readOnly: false });
    expect(ready.folders[0]!.chunks).toBeGreaterThan(20);
    expect(ready.folders[0]!.location.startsWith(ws.cache)).toBe(true);

    // The editor reports a new file (index.watch is off here).
    ws.write("src/added.ts", "export function addedByTheEditor() { return 1; }\n");
    await client.connection.sendNotification("workspace/didChangeWatchedFiles", { changes: [{ uri: pathToFileURL(path.join(ws.root, "src/added.ts")).href, type: 1 }] });
    await statusUntil(client, (s) => s.folders[0]!.indexedFiles === 14);
    fs.rmSync(path.join(ws.root, "src/sample.rb"));
    await client.connection.sendNotification("workspace/didChangeWatchedFiles", { changes: [{ uri: pathToFileURL(path.join(ws.root, "src/sample.rb")).href, type: 3 }] });
    await statusUntil(client, (s) => s.folders[0]!.indexedFiles === 13);

    // A second workspace folder.
    const second = makeWorkspace({ "lib/util.py": "def helper_function():\n    return 42\n" });
    cleanups.push(second.cleanup);
    await client.connection.sendNotification("workspace/didChangeWorkspaceFolders", { event: { added: [{ uri: second.uri, name: "second" }], removed: [] } });
    const both = await statusUntil(client, (s) => s.folders.length === 2 && s.folders.every((f) => f.state === "ready"));
    expect(both.folders.map((f) => f.folder).sort()).toEqual([ws.uri, second.uri].sort());
    await client.connection.sendNotification("workspace/didChangeWorkspaceFolders", { event: { added: [], removed: [{ uri: ws.uri, name: "ws" }] } });
    await statusUntil(client, (s) => s.folders.length === 1 && s.folders[0]!.folder === second.uri);

    // Completions go on with the index in place.
    const uri = pathToFileURL(path.join(second.root, "lib/main.py")).href;
    await client.open(uri, "python", "from util import helper_function\n\nvalue = helper_\n");
    const list = await client.inline(uri, { line: 2, character: "value = helper_".length });
    expect(list).not.toBeNull();
    expect(await client.shutdownAndExit()).toBe(0);
  });

  it("sends no progress to a client without workDoneProgress, and can be turned off", async () => {
    const ws = makeWorkspace({ "a.ts": "export const x = 1;\n" });
    cleanups.push(ws.cleanup);
    const client = start(ws.cache);
    await client.initialize(ITEMS_CLIENT, options(), ws.uri);
    await statusUntil(client, (s) => s.state === "ready" && s.folders.length === 1 && s.folders[0]!.state === "ready");
    expect(client.serverRequests.some((r) => r.method === "window/workDoneProgress/create")).toBe(false);

    const off = start(ws.cache);
    await off.initialize(ITEMS_CLIENT, { ...options(), index: { enabled: false } }, ws.uri);
    const disabled = await statusUntil(off, (s) => s.state === "disabled");
    expect(disabled.folders).toEqual([]);
  });
});
