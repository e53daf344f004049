import { spawn } from "node:child_process";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeWorkspace } from "./helpers/indexWorkspace.js";
import { tinyModel } from "./helpers/models.js";
import { OpenAIFixture } from "./helpers/openaiFixture.js";
import { binPath, nodeBinary } from "./helpers/paths.js";

let modelPath: string;
let fixture: OpenAIFixture;
const workspace = makeWorkspace({
  "src/math.ts": "export function addNumbers(a: number, b: number): number {\n  return a + b;\n}\n",
  "src/greeting.ts": "export function greetingFor(name: string): string {\n  return `Hello, ${name}!`;\n}\n",
});
const indexUri = () => path.join(workspace.cache, "index");

/** Runs the built CLI; stdout and stderr are collected as chunks so streaming can be seen. */
function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ status: number | null; chunks: string[]; stdout: string; stderr: string }> {
  const proc = spawn(nodeBinary, [binPath, ...args], {
    env: { ...process.env, IFAI_LOG_LEVEL: "silent", IFAI_CACHE_DIR: workspace.cache, IFAI_MODEL: modelPath, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const chunks: string[] = [];
  let stderr = "";
  proc.stdout.setEncoding("utf8").on("data", (d: string) => chunks.push(d));
  proc.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  return new Promise((resolve) => proc.on("close", (status) => resolve({ status, chunks, stdout: chunks.join(""), stderr })));
}

beforeAll(async () => {
  modelPath = await tinyModel();
  fixture = new OpenAIFixture(modelPath);
  await fixture.start();
});
afterAll(async () => {
  await fixture?.stop();
  workspace.cleanup();
});

describe("ifai-lsp chat", () => {
  it("streams a local answer to stdout and reports the route and usage on stderr", async () => {
    const r = await cli(["chat", "What does addNumbers do?", "--backend", "local", "--max-tokens", "12", "--set", "model.threads=1", "--set", "chat.temperature=0"]);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/— local \(.*\.gguf\) · chat: this request asks for local → local/);
    expect(r.stderr).toMatch(/prompt \+ \d+ answer tokens/);
    expect(r.stdout.endsWith("\n")).toBe(true);
  });

  it("writes a cloud answer to stdout and names the provider and model", async () => {
    fixture.failNext({ kind: "reply", text: "It adds two numbers and returns the sum." });
    const settings = JSON.stringify({ fx: { baseUrl: fixture.baseUrl, model: "fixture-model" } });
    const r = await cli(["chat", "What does addNumbers do?", "--backend", "cloud", "--set", `cloud.providers=${settings}`, "--set", "cloud.maxRetries=0"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe("It adds two numbers and returns the sum.\n");
    expect(r.stderr).toMatch(/— cloud:fx \(fixture-model\)/);
  });

  it("adds codebase context from the read-only index with --codebase", async () => {
    const built = await cli(["index", workspace.root, "--uri", indexUri(), "--quiet"]);
    expect(built.status).toBe(0);
    const r = await cli(["chat", "where is addNumbers defined?", "--codebase", "--dir", workspace.root, "--backend", "local", "--json", "--max-tokens", "2", "--set", `index.uri=${indexUri()}`, "--set", "model.threads=1"]);
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.sources.map((s: { path: string }) => s.path)).toContain("src/math.ts");
    expect(out.servedBy).toBe("local");
  });

  it("explains a missing question instead of failing obscurely", async () => {
    const r = await cli(["chat"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/no question given/);
  });
});
