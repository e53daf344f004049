/**
 * `ifai-lsp --stdio` honours the environment variables of src/config/environment.ts as the
 * commands do: an editor that can only set the server's command and environment (Helix, Zed,
 * mason) chooses the model with IFAI_MODEL; an administrator's IFAI_LOCAL_ONLY=1 holds whatever
 * the editor sends.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { StatusParams } from "../src/server/protocol.js";
import { ModelCommands } from "../src/server/protocol.js";
import { INLINE_CLIENT, startStdioServer, type TestClient } from "./helpers/lspClient.js";
import { tempDir, tinyModel } from "./helpers/models.js";

const uri = "file:///work/env/src/main.ts";
const source = "export function add(a: number, b: number): number {\n  return \n}\n";
// middleLines 0: the tiny model's random answer at the cursors below is dropped by post-processing (nothing to
// show) when the cursor's line follows the middle marker; these tests need a visible answer, and
// the layout has tests of its own (middleAnchors.test.ts, the Neovim and VS Code clients).
const fast = { model: { threads: 1 }, completion: { debounceMs: 0, maxTokens: 8, middleLines: 0 }, index: { enabled: false } };

let modelPath: string;
const dir = tempDir("ifai-env-");
const clients: TestClient[] = [];
const start = (env: NodeJS.ProcessEnv): TestClient => {
  // An empty cache folder: the default model path holds nothing, so only IFAI_MODEL can supply one.
  const client = startStdioServer({ IFAI_CACHE_DIR: dir.path, IFAI_MODEL: "", IFAI_LOCAL_ONLY: "", ...env });
  clients.push(client);
  return client;
};

beforeAll(async () => {
  modelPath = await tinyModel();
});
afterEach(() => {
  for (const c of clients.splice(0)) c.kill();
});
afterAll(() => dir.cleanup());

describe("the environment of ifai-lsp --stdio", () => {
  it("IFAI_MODEL selects the model when the editor sends no model.path", async () => {
    const client = start({ IFAI_MODEL: modelPath });
    await client.initialize(INLINE_CLIENT, fast);
    await client.open(uri, "typescript", source);
    const list = await client.inline(uri, { line: 1, character: "  return ".length });
    expect(list?.items.length, client.stderr.text).toBe(1);
    const ready = (await client.waitForNotification("ifai/status", (p: StatusParams) => p.model.state === "ready" || p.model.state === "error")) as StatusParams;
    expect(ready.model).toMatchObject({ state: "ready", path: modelPath });
    expect(await client.shutdownAndExit()).toBe(0);
  });

  it("a model.path the editor sends wins over IFAI_MODEL", async () => {
    const client = start({ IFAI_MODEL: `${dir.path}/no-such-model.gguf` });
    await client.initialize(INLINE_CLIENT, { ...fast, model: { ...fast.model, path: modelPath } });
    await client.open(uri, "typescript", source);
    expect((await client.inline(uri, { line: 1, character: "  return ".length }))?.items.length).toBe(1);
    const ready = (await client.waitForNotification("ifai/status", (p: StatusParams) => p.model.state === "ready" || p.model.state === "error")) as StatusParams;
    expect(ready.model).toMatchObject({ state: "ready", path: modelPath });
  });

  it("a bad value in the environment is reported naming the variable, and the default stays", async () => {
    const client = start({ IFAI_MODEL: modelPath, IFAI_LOG_LEVEL: "verbose" });
    await client.initialize(INLINE_CLIENT, fast);
    const shown = (await client.waitForNotification("window/showMessage")) as { message: string };
    expect(shown.message).toMatch(/"log\.level".*"verbose".*IFAI_LOG_LEVEL/);
    await client.open(uri, "typescript", source);
    expect((await client.inline(uri, { line: 1, character: "  return ".length }))?.items.length).toBe(1);
  });

  it("IFAI_LOCAL_ONLY=1 holds against the editor's privacy.localOnly=false, model downloads included", async () => {
    const client = start({ IFAI_LOCAL_ONLY: "1", IFAI_MODEL: modelPath });
    await client.initialize(INLINE_CLIENT, { ...fast, privacy: { localOnly: false } });
    const status = (await client.waitForNotification("ifai/status", (p: StatusParams) => p.backend !== undefined)) as StatusParams;
    expect(status.backend?.localOnly).toBe(true);
    // The URL is never contacted: local-only mode refuses before any connection.
    const pull = client.connection.sendRequest("workspace/executeCommand", { command: ModelCommands.pull, arguments: ["https://127.0.0.1:9/x.gguf"] });
    await expect(pull).rejects.toThrow(/local-only/i);
  });
});

/** The keys of a JSON object's top level, in order, duplicates included (JSON.parse would keep only the last). */
function topLevelKeys(json: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  for (let i = 0; i < json.length; i++) {
    const c = json[i];
    if (c === '"') {
      let j = i + 1;
      while (json[j] !== '"') j += json[j] === "\\" ? 2 : 1;
      if (depth === 1 && json[j + 1] === ":") keys.push(JSON.parse(json.slice(i, j + 1)) as string);
      i = j;
    } else if (c === "{" || c === "[") depth++;
    else if (c === "}" || c === "]") depth--;
  }
  return keys;
}

describe("the server's log lines (IFAI_LOG_LEVEL=debug)", () => {
  it("name each key once, through model load, completion, chat and indexing", async () => {
    const project = tempDir("ifai-env-project-");
    try {
      const fs = await import("node:fs");
      fs.writeFileSync(`${project.path}/math.ts`, "export function add(a: number, b: number): number {\n  return a + b;\n}\n");
      const client = start({ IFAI_MODEL: modelPath, IFAI_LOG_LEVEL: "debug" });
      const rootUri = (await import("node:url")).pathToFileURL(project.path).href;
      await client.initialize(INLINE_CLIENT, { ...fast, index: { enabled: true } }, rootUri);
      await client.waitForNotification("ifai/status", (p: StatusParams) => p.index?.state === "ready" && p.index.chunks > 0);
      await client.open(`${rootUri}/math.ts`, "typescript", "export function add(a: number, b: number): number {\n  return \n}\n");
      expect((await client.inline(`${rootUri}/math.ts`, { line: 1, character: "  return ".length }))?.items.length).toBe(1);
      await client.connection.sendRequest("ifai/chat", { messages: [{ role: "user", content: "hi" }], maxTokens: 4 });
      expect(await client.shutdownAndExit()).toBe(0);
      const lines = client.stderr.text.split("\n").filter((l) => l.startsWith("{"));
      expect(lines.some((l) => l.includes('"component":"index"'))).toBe(true);
      const duplicated = lines.flatMap((l) => {
        const keys = topLevelKeys(l);
        return keys.filter((k, i) => keys.indexOf(k) !== i).map((k) => `${k} in ${l.slice(0, 200)}`);
      });
      expect(duplicated).toEqual([]);
    } finally {
      project.cleanup();
    }
  });
});
