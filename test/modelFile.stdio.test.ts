import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ensureGeneratedModel, TINY_SHAPE } from "../src/devtools/gguf/qwen2Model.js";
import { ServerCommands, type ModelStatusResult, type StatusParams } from "../src/server/protocol.js";
import { INLINE_CLIENT, startStdioServer, type TestClient } from "./helpers/lspClient.js";
import { tempDir, tinyModel } from "./helpers/models.js";
import { testModelCache } from "./helpers/paths.js";

const fast = { threads: 1, batchSize: 32, keepLoaded: true };
const completion = { debounceMs: 0, maxTokens: 8, maxMultilineTokens: 8 };
const uri = "file:///work/demo/src/main.ts";
const source = "export function greet(name: string): string {\n  const message = \n  return message;\n}\n";

const dir = tempDir("ifai-model-file-");
const clients: TestClient[] = [];
let original: string;
let other: string;

beforeAll(async () => {
  original = await tinyModel();
  // A different model (other weights) to copy over the loaded one.
  other = await ensureGeneratedModel(testModelCache, { shape: TINY_SHAPE, quant: "Q8_0", vocab: "byte", seed: 11 });
});
afterEach(() => {
  for (const c of clients.splice(0)) c.kill();
});
afterAll(() => dir.cleanup());

/** Settles with `request`, or rejects naming the signal as soon as the server process dies. */
function whileAlive<T>(client: TestClient, request: Promise<T>): Promise<T> {
  const proc = client.process!;
  const died = new Promise<never>((_resolve, reject) => {
    const fail = (code: number | null, signal: NodeJS.Signals | null): void => reject(new Error(`the server died (${signal ?? `exit code ${code}`})`));
    if (proc.exitCode !== null || proc.signalCode !== null) fail(proc.exitCode, proc.signalCode);
    else proc.once("exit", fail);
  });
  return Promise.race([request, died]);
}

const status = (client: TestClient): Promise<ModelStatusResult> =>
  client.connection.sendRequest("workspace/executeCommand", { command: ServerCommands.modelStatus }) as Promise<ModelStatusResult>;

describe("the model file replaced while loaded (real server over stdio)", () => {
  it("survives the file being truncated in place as `cp` does, says so, and loads the new file", async () => {
    const model = path.join(dir.path, "model.gguf");
    fs.copyFileSync(original, model);
    const client = startStdioServer({ IFAI_CACHE_DIR: dir.path });
    clients.push(client);
    await client.initialize(INLINE_CLIENT, { model: { ...fast, path: model }, completion });
    await client.open(uri, "typescript", source);
    await client.inline(uri, { line: 1, character: "  const message = ".length });
    expect((await status(client)).state).toBe("ready");

    // cp opens the destination with O_TRUNC: same inode, the length drops to zero under the loaded model.
    fs.writeFileSync(model, "");
    // Whatever the server's state, this is answered (items or an empty list), never a dead process.
    const during = await whileAlive(client, client.inline(uri, { line: 2, character: "  return message".length }));
    expect(during === null || Array.isArray(during.items)).toBe(true);
    await whileAlive(client, client.waitForNotification("ifai/status", (p: StatusParams) => /changed on disk/.test(p.model.message ?? "")));

    // `cp other.gguf model.gguf`: a whole new model in the same inode; the next use loads it.
    expect(spawnSync("cp", [other, model]).status).toBe(0);
    const loaded = (await client.connection.sendRequest("workspace/executeCommand", { command: ServerCommands.loadModel })) as ModelStatusResult;
    expect(loaded.state).toBe("ready");
    const after = await client.inline(uri, { line: 1, character: "  const message = ".length });
    expect(Array.isArray(after?.items)).toBe(true);
    expect(client.process!.exitCode).toBeNull();
  });

  it("notices a file replaced by rename (a new inode) and loads the new one", async () => {
    const model = path.join(dir.path, "renamed.gguf");
    fs.copyFileSync(original, model);
    const client = startStdioServer({ IFAI_CACHE_DIR: dir.path });
    clients.push(client);
    await client.initialize(INLINE_CLIENT, { model: { ...fast, path: model }, completion });
    const first = (await client.connection.sendRequest("workspace/executeCommand", { command: ServerCommands.loadModel })) as ModelStatusResult;
    expect(first.state).toBe("ready");

    const staged = path.join(dir.path, "staged.gguf");
    fs.copyFileSync(other, staged);
    fs.renameSync(staged, model);
    await whileAlive(client, client.waitForNotification("ifai/status", (p: StatusParams) => p.model.state === "unloaded" && /changed on disk/.test(p.model.message ?? "")));
    const again = (await client.connection.sendRequest("workspace/executeCommand", { command: ServerCommands.loadModel })) as ModelStatusResult;
    expect(again.state).toBe("ready");
  });
});
