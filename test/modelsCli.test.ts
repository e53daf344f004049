import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { WorkDoneProgress } from "vscode-languageserver-protocol";
import { findEntry } from "../src/inference/models/catalogue.js";
import { ModelCommands, ServerCommands, type StatusParams, type ModelsListResult, type ModelsPullResult, type ModelsVerifyResult } from "../src/server/protocol.js";
import { INLINE_CLIENT, ITEMS_CLIENT, startStdioServer, type TestClient } from "./helpers/lspClient.js";
import { tempDir, tinyModel } from "./helpers/models.js";
import { ModelServer } from "./helpers/modelServer.js";
import { binPath, nodeBinary } from "./helpers/paths.js";

const entry = findEntry("qwen2.5-coder-0.5b")!;
let server: ModelServer;
let base: string;
let gguf: Buffer;
let modelPath: string;
const dir = tempDir("ifai-models-cli-");
const clients: TestClient[] = [];

beforeAll(async () => {
  modelPath = await tinyModel();
  gguf = fs.readFileSync(modelPath);
  server = new ModelServer();
  base = await server.start();
  server.serve(entry.hubRepo, entry.files[0]!.path, { data: gguf, linkedEtag: createHash("sha256").update(gguf).digest("hex"), redirect: true });
});
afterAll(async () => {
  await server.stop();
  dir.cleanup();
});
afterEach(() => {
  for (const c of clients.splice(0)) c.kill();
});

/** Runs the built CLI asynchronously: the HTTP server lives in this process and must keep answering. */
function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const proc = spawn(nodeBinary, [binPath, ...args], { env: { ...process.env, IFAI_LOG_LEVEL: "silent", ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  proc.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
  proc.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => proc.on("close", (status) => resolve({ status, stdout, stderr })));
}

describe("ifai-lsp models (spawned CLI)", () => {
  const cache = path.join(dir.path, "cli-cache");
  const env = { IFAI_CACHE_DIR: cache, IFAI_MODEL_MIRRORS: "" };

  it("lists the catalogue, pulls with a progress bar on stderr, verifies and removes", async () => {
    const listed = await cli(["models", "list"], env);
    expect(listed.status).toBe(0);
    expect(listed.stdout).toMatch(/qwen2\.5-coder-0\.5b\s+gguf Q4_K_M fim\s+~398 MB\s+Apache-2\.0\s+unpinned/);
    expect(listed.stdout).toMatch(/jina-embeddings-v2-base-code/);

    const pulled = await cli(["models", "pull", "qwen2.5-coder-0.5b", "--mirror", base, "--no-public-mirrors"], env);
    expect(pulled.stderr).toMatch(/qwen2\.5-coder-0\.5b \[#+\] 100% .* from 127\.0\.0\.1:\d+/);
    expect(pulled.stdout).toMatch(/sha256 [0-9a-f]{64}: matches the hash the source published \(X-Linked-Etag\); the catalogue pins none/);
    expect(pulled.status).toBe(0);
    const file = path.join(cache, "models", "qwen2.5-coder-0.5b-q4_k_m.gguf");
    expect(fs.readFileSync(file).equals(gguf)).toBe(true);

    const json = JSON.parse((await cli(["models", "list", "--json"], env)).stdout) as Array<{ id: string; installed: boolean; inUse: boolean }>;
    expect(json.find((e) => e.id === "qwen2.5-coder-0.5b")).toMatchObject({ installed: true, inUse: true, integrity: "checked-at-download" });
    expect((await cli(["models", "list"], env)).stdout).toMatch(/\* installed\s+qwen2\.5-coder-0\.5b\s.*Apache-2\.0\s+checked at download/);

    // No pinned hash: verify says it compared with the hash recorded at download, not that the file is "verified".
    const verified = await cli(["models", "verify", "qwen2.5-coder-0.5b"], env);
    expect(verified.stdout).toMatch(/^unchanged\s+.*matches the hash recorded when it was downloaded, which was checked then against the hash its source published/ms);
    expect(verified.stdout).not.toMatch(/^ok /m);
    expect(verified.status).toBe(0);

    const removed = await cli(["models", "rm", "qwen2.5-coder-0.5b"], env);
    expect(removed.stdout).toMatch(/Removed qwen2\.5-coder-0\.5b: 1 file\(s\)/);
    expect(fs.existsSync(file)).toBe(false);
  });

  it("answers bad input with a clear message and a non-zero exit", async () => {
    const unknown = await cli(["models", "pull", "qwen-9000", "--no-public-mirrors"], env);
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toMatch(/Unknown model id "qwen-9000"\. Known ids: qwen2\.5-coder-0\.5b/);

    const localOnly = await cli(["models", "pull", "qwen2.5-coder-0.5b", "--mirror", base], { ...env, IFAI_LOCAL_ONLY: "1" });
    expect(localOnly.status).toBe(1);
    expect(localOnly.stderr).toMatch(/Local-only mode is on: downloads are refused/);

    const usage = await cli(["models", "frobnicate"], env);
    expect(usage.status).toBe(2);
    expect(usage.stderr).toMatch(/unknown command "frobnicate"/);

    const help = await cli(["--help"]);
    expect(help.stdout).toMatch(/models list\|pull\|rm\|verify[\s\S]*doctor/);
  });
});

describe("ifai-lsp doctor (spawned CLI)", () => {
  it("reports backend, cores, RAM, a recommendation and the measured speed of the installed model", async () => {
    const result = await cli(["doctor", "--model", modelPath, "--gpu", "cpu", "--threads", "1", "--json"]);
    expect(result.status).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report.hardware.backend).toBe("cpu");
    expect(report.hardware.cores).toBeGreaterThan(0);
    expect(report.hardware.ramTotal).toBeGreaterThan(0);
    expect(report.recommendation.id).toBe("qwen2.5-coder-0.5b");
    expect(report.recommendation.reason).toMatch(/CPU/);
    expect(report.speed.generatedTokens).toBeGreaterThan(1);
    expect(report.speed.tokensPerSecond).toBeGreaterThan(0);

    const text = await cli(["doctor", "--model", path.join(dir.path, "absent.gguf"), "--gpu", "cpu"]);
    expect(text.stdout).toMatch(/Backend\s+cpu/);
    expect(text.stdout).toMatch(/Recommended qwen2\.5-coder-0\.5b/);
    expect(text.stdout).toMatch(/Model\s+none at .*absent\.gguf/);
  });
});

describe("model commands over LSP (real server over stdio)", () => {
  it("advertises the commands, pulls with $/progress, lists, verifies and removes", async () => {
    const cache = path.join(dir.path, "lsp-cache");
    const client = startStdioServer({ IFAI_CACHE_DIR: cache });
    clients.push(client);
    const init = await client.initialize(INLINE_CLIENT, { models: { mirrors: base, publicMirrors: false } });
    expect(init.capabilities.executeCommandProvider?.commands).toEqual(expect.arrayContaining(Object.values(ModelCommands)));

    const events: Array<{ kind: string; percentage?: number; message?: string }> = [];
    const ended = new Promise<void>((resolve) => {
      client.connection.onProgress(WorkDoneProgress.type, "pull-1", (value) => {
        events.push(value as { kind: string });
        if (value.kind === "end") resolve();
      });
    });
    const result = (await client.connection.sendRequest("workspace/executeCommand", {
      command: ModelCommands.pull,
      arguments: ["qwen2.5-coder-0.5b"],
      workDoneToken: "pull-1",
    })) as ModelsPullResult;
    await ended;
    expect(result.files[0]).toMatchObject({ verifiedBy: "x-linked-etag", bytes: gguf.length });
    expect(fs.existsSync(result.path)).toBe(true);
    expect(events[0]).toMatchObject({ kind: "begin", title: "Downloading qwen2.5-coder-0.5b" });
    expect(events.some((e) => e.kind === "report" && e.percentage === 100 && /from 127\.0\.0\.1/.test(e.message ?? ""))).toBe(true);
    expect(events.at(-1)!.kind).toBe("end");

    const list = (await client.connection.sendRequest("workspace/executeCommand", { command: ModelCommands.list })) as ModelsListResult;
    expect(list.modelsDir).toBe(path.join(cache, "models"));
    expect(list.models.find((m) => m.id === "qwen2.5-coder-0.5b")).toMatchObject({ installed: true, inUse: true });

    const verify = (await client.connection.sendRequest("workspace/executeCommand", { command: ModelCommands.verify, arguments: ["qwen2.5-coder-0.5b"] })) as ModelsVerifyResult;
    expect(verify.ok).toBe(true);

    await client.connection.sendRequest("workspace/executeCommand", { command: ModelCommands.remove, arguments: ["qwen2.5-coder-0.5b"] });
    expect(fs.existsSync(result.path)).toBe(false);

    await expect(client.connection.sendRequest("workspace/executeCommand", { command: ModelCommands.pull, arguments: ["qwen-9000"] })).rejects.toThrow(/Unknown model id "qwen-9000"\. Known ids/);
  });

  it("creates its own progress token when the client supports progress but sent none", async () => {
    const key = server.serve("corp/internal", "ours.gguf", { data: gguf });
    const client = startStdioServer({ IFAI_CACHE_DIR: path.join(dir.path, "lsp-progress") });
    clients.push(client);
    await client.initialize(INLINE_CLIENT, { models: { publicMirrors: false } });
    const progress: Array<{ token: unknown; value: { kind: string } }> = [];
    client.connection.onUnhandledProgress((p) => progress.push(p as { token: unknown; value: { kind: string } }));
    const result = (await client.connection.sendRequest("workspace/executeCommand", { command: ModelCommands.pull, arguments: [{ id: `${base}${key}`, name: "ours.gguf" }] })) as ModelsPullResult;
    expect(result.id).toBe("custom/ours.gguf");
    const created = client.serverRequests.find((r) => r.method === "window/workDoneProgress/create");
    const token = (created?.params as { token: unknown }).token;
    expect(progress.filter((p) => p.token === token).map((p) => p.value.kind)).toEqual(expect.arrayContaining(["begin", "report", "end"]));
  });

  it("refuses downloads in local-only mode without touching the network", async () => {
    const client = startStdioServer({ IFAI_CACHE_DIR: path.join(dir.path, "lsp-local") });
    clients.push(client);
    await client.initialize(ITEMS_CLIENT, { privacy: { localOnly: true }, models: { mirrors: base, publicMirrors: false } });
    const before = server.requests.length;
    await expect(client.connection.sendRequest("workspace/executeCommand", { command: ModelCommands.pull, arguments: ["qwen2.5-coder-0.5b"] })).rejects.toThrow(
      /Local-only mode is on: downloads are refused/,
    );
    expect(server.requests.length).toBe(before);
  });
});

describe("commands that take a path act only in the model folder (real server over stdio)", () => {
  it("refuses files outside the model folder, `..` escapes and symlinks out of it; allows its own files and model.path", async () => {
    const cache = path.join(dir.path, "lsp-confined");
    const modelsDir = path.join(cache, "models");
    fs.mkdirSync(path.join(modelsDir, "custom"), { recursive: true });
    const outside = path.join(dir.path, "secret.gguf");
    fs.writeFileSync(outside, "GGUF not really a model, but a secret");
    const inside = path.join(modelsDir, "mine.gguf");
    fs.copyFileSync(modelPath, inside);
    fs.symlinkSync(outside, path.join(modelsDir, "link.gguf"));
    fs.symlinkSync(outside, path.join(modelsDir, "custom", "linked.gguf"));
    const configured = path.join(dir.path, "configured.gguf");
    fs.copyFileSync(modelPath, configured);

    const client = startStdioServer({ IFAI_CACHE_DIR: cache });
    clients.push(client);
    await client.initialize(ITEMS_CLIENT, { model: { path: configured }, models: { mirrors: base, publicMirrors: false } });
    const run = (command: string, ...args: unknown[]): Promise<unknown> => client.connection.sendRequest("workspace/executeCommand", { command, arguments: args });

    for (const target of ["/etc/shadow", outside, path.join(modelsDir, "..", "secret.gguf"), `${modelsDir}/../../${path.basename(dir.path)}/secret.gguf`, path.join(modelsDir, "link.gguf"), "custom/linked.gguf", "secret.gguf", "../secret.gguf"]) {
      const answer = await run(ModelCommands.verify, target).catch((e: Error) => e);
      expect(answer, target).toBeInstanceOf(Error);
      expect((answer as Error).message, target).toMatch(/outside the model folder|Unknown model id/);
      expect((answer as Error).message).not.toMatch(/[0-9a-f]{64}/);
    }

    const own = (await run(ModelCommands.verify, inside)) as ModelsVerifyResult;
    expect(own.files[0]).toMatchObject({ status: "unverified", reference: "none" });
    const mine = (await run(ModelCommands.verify, configured)) as ModelsVerifyResult;
    expect(mine.files[0]).toMatchObject({ path: configured, status: "unverified" });

    // model.path comes from the client too: pointed at a file that is not a GGUF, neither its size nor its hash is told.
    const hostile = path.join(dir.path, "not-a-model.txt");
    fs.writeFileSync(hostile, "password=hunter2\n");
    await client.connection.sendNotification("workspace/didChangeConfiguration", { settings: { ifai: { model: { path: hostile } } } });
    await client.waitForNotification("ifai/status", (p: StatusParams) => p.model.path === hostile);
    const leaked = (await run(ModelCommands.verify, hostile)) as ModelsVerifyResult;
    expect(leaked.files[0]).toMatchObject({ status: "not-gguf" });
    expect(leaked.files[0]!.bytes).toBeUndefined();
    expect(leaked.files[0]!.sha256).toBeUndefined();
    const listed = (await run(ModelCommands.list)) as ModelsListResult;
    expect(listed.models.find((m) => m.path === hostile)).toMatchObject({ inUse: true, installedBytes: 0, approxBytes: 0 });

    // remove and pull take ids and file names, never paths out of the folder.
    await expect(run(ModelCommands.remove, "/etc/passwd")).rejects.toThrow(/not managed by ifai-lsp/);
    await expect(run(ModelCommands.remove, "custom/../../secret.gguf")).rejects.toThrow(/not a custom model id/);
    await expect(run(ModelCommands.pull, { id: `${base}/corp/x/resolve/main/x.gguf`, name: "../evil.gguf" })).rejects.toThrow(/safe file name/);
    await expect(run(ServerCommands.downloadModel, { id: `${base}/corp/x/resolve/main/x.gguf`, name: "../../evil.gguf" })).rejects.toThrow(/safe file name/);
    await expect(run(ModelCommands.pull, `${base}/corp/x/resolve/main/..%2F..%2Fevil.gguf`)).rejects.toThrow(/safe file name/);
    // Removing a custom model that is a symlink removes the link, never what it points at.
    const removed = (await run(ModelCommands.remove, "custom/linked.gguf")) as { removed: string[] };
    expect(removed.removed).toEqual([path.join(modelsDir, "custom", "linked.gguf")]);
    expect(fs.readFileSync(outside, "utf8")).toMatch(/secret/);
  });
});
