import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { IgnoreRules, isSecretPath as indexSecretPath } from "../src/privacy/ignoreRules.js";
import { ContextGate } from "../src/privacy/context.js";
import { assertEgress, configureEgress, egressRefusal, EgressRefusedError, gatedFetch, isLoopbackHost } from "../src/privacy/egress.js";
import { redactForCloud, redactSecrets } from "../src/privacy/redact.js";
import { sensitiveFileReason } from "../src/privacy/secretFiles.js";
import { tempDir } from "./helpers/models.js";

const fixtures = path.join(import.meta.dirname, "fixtures", "secrets");
const corpus = JSON.parse(fs.readFileSync(path.join(fixtures, "corpus.json"), "utf8")) as Array<{ kind: string; secret: string; text: string }>;
const ordinary = JSON.parse(fs.readFileSync(path.join(fixtures, "ordinary.json"), "utf8")) as Array<{ kind: string; text: string }>;

describe("redaction for cloud requests", () => {
  it("redacts every secret of the corpus, alone and inside ordinary code", async () => {
    for (const entry of corpus) {
      const r = await redactForCloud(entry.text);
      expect(r.text, entry.kind).not.toContain(entry.secret);
      expect(r.text, entry.kind).toMatch(/\[REDACTED [^\]]+\]/);
      expect(r.found.length, entry.kind).toBeGreaterThan(0);
    }
    const mixed = corpus.map((e, i) => `${ordinary[i % ordinary.length]!.text}\n${e.text}\n`).join("");
    const r = await redactForCloud(mixed);
    expect(corpus.filter((e) => r.text.includes(e.secret)).map((e) => e.kind)).toEqual([]);
  });

  it("leaves ordinary code alone: hashes, UUIDs, lockfile integrity, env lookups, placeholders", async () => {
    for (const entry of ordinary) expect((await redactForCloud(entry.text)).text, entry.kind).toBe(entry.text);
  });

  it("a secretlint-disable comment in the text does not switch redaction off", async () => {
    const secret = corpus.find((e) => e.kind === "Stripe live secret key")!;
    const r = await redactForCloud(`// secretlint-disable\n${secret.text}\n// secretlint-enable`);
    expect(r.text).not.toContain(secret.secret);
  });

  it("hostile text terminates: one 1 MB line of near-matches for every pattern", async () => {
    const line = "password=:@ postgres://a:b eyJx.eyJ token: Bearer sk-".repeat(20_000);
    const r = await redactForCloud(line);
    expect(r.text.length).toBeGreaterThan(0);
    expect(redactSecrets(line).text.length).toBeGreaterThan(0);
  });

  it("costs little on a 100 KB prompt (figure printed; timing goals live in benchmarks)", async () => {
    const code = fs.readFileSync(path.join(import.meta.dirname, "..", "src", "features", "completion", "CompletionService.ts"), "utf8");
    let prompt = "";
    while (prompt.length < 100_000) prompt += code;
    prompt = prompt.slice(0, 100_000);
    await redactForCloud(prompt);
    const runs: number[] = [];
    for (let i = 0; i < 5; i++) {
      const started = performance.now();
      await redactForCloud(prompt);
      runs.push(performance.now() - started);
    }
    runs.sort((a, b) => a - b);
    console.log(`redactForCloud on a 100 KB prompt: median ${runs[2]!.toFixed(1)} ms (5 runs: ${runs.map((r) => r.toFixed(1)).join(", ")})`);
    expect((await redactForCloud(prompt)).text).toBe(prompt);
  });
});

describe("egress gate", () => {
  afterEach(() => configureEgress({ localOnly: false, env: process.env }));

  it("knows loopback addresses, and treats every other name as leaving the machine", () => {
    for (const host of ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "api.localhost", "::ffff:127.0.0.1"]) expect(isLoopbackHost(host), host).toBe(true);
    for (const host of ["huggingface.co", "10.0.0.1", "192.168.1.2", "::2", "localhost.example.com", "127.0.0.1.nip.io", "0.0.0.0"]) expect(isLoopbackHost(host), host).toBe(false);
  });

  it("in local-only mode by setting or by environment refuses non-loopback URLs for every purpose, naming how to allow them", () => {
    expect(egressRefusal("https://huggingface.co/x", "model download")).toBeUndefined();
    configureEgress({ localOnly: true, env: {} });
    expect(egressRefusal("https://huggingface.co/x", "model download")).toMatch(/local-only mode is on \(privacy\.localOnly is on\).*set privacy\.localOnly to false/);
    expect(egressRefusal("http://127.0.0.1:11434/v1", "cloud API")).toBeUndefined();
    configureEgress({ localOnly: false, env: { IFAI_LOCAL_ONLY: "1" } });
    expect(egressRefusal("https://api.openai.com/v1", "cloud API")).toMatch(/IFAI_LOCAL_ONLY is set in the environment.*unset the environment variable IFAI_LOCAL_ONLY/);
    expect(() => assertEgress("https://hf-mirror.com/a", "model download")).toThrow(EgressRefusedError);
    expect(egressRefusal("file:///etc/passwd", "cloud API")).toMatch(/only http\(s\)/);
  });

  it("a gated fetch rejects before any connection is made", async () => {
    configureEgress({ localOnly: true, env: {} });
    await expect(gatedFetch("cloud API")("https://api.openai.com/v1/models")).rejects.toThrow(/local-only mode is on/);
  });
});

describe("context gate", () => {
  const ws = tempDir("ifai-gate-ws-");
  const other = tempDir("ifai-gate-other-");
  afterAll(() => {
    ws.cleanup();
    other.cleanup();
  });
  fs.mkdirSync(path.join(ws.path, "src"), { recursive: true });
  fs.writeFileSync(path.join(ws.path, ".ifaiignore"), "*.test.ts\nprivate/\n");
  const gate = new ContextGate(() => [{ fsPath: ws.path }]);
  const inWs = (rel: string): string => pathToFileURL(path.join(ws.path, rel)).href;

  it("refuses ignored files, secret files and, for context, files outside the workspace", () => {
    expect(gate.contextRefusal(inWs("src/calc.ts"))).toBeUndefined();
    expect(gate.contextRefusal(inWs("src/calc.test.ts"))).toMatch(/src\/calc\.test\.ts is excluded by the workspace's ignore files/);
    expect(gate.contextRefusal(path.join(ws.path, "private", "notes.md"))).toMatch(/excluded/);
    expect(gate.contextRefusal(inWs("config/.env.production"))).toMatch(/looks like a secrets, key or certificate file/);
    expect(gate.contextRefusal(pathToFileURL(path.join(other.path, "util.test.ts")).href)).toMatch(/is outside the workspace folders/);
    expect(gate.contextRefusal(path.join(ws.path, "..", path.basename(other.path), "x.ts"))).toMatch(/outside the workspace/);
    // A path of unknown origin (a relative display path) is refused rather than guessed at.
    expect(gate.contextRefusal("src/calc.ts")).toMatch(/not a file path/);
    expect(gate.contextRefusal("untitled:Untitled-1")).toBeUndefined();
    expect(new ContextGate(() => []).contextRefusal(inWs("src/calc.ts"))).toMatch(/outside the workspace folders/);
  });

  it("the document the user acts on is judged by ignore rules and secrets, not confined", () => {
    expect(gate.documentRefusal(pathToFileURL(path.join(other.path, "util.ts")).href)).toBeUndefined();
    expect(gate.documentRefusal(inWs("src/calc.test.ts"))).toMatch(/excluded/);
    expect(gate.documentRefusal(inWs(".env"))).toMatch(/secrets/);
  });

  it("follows links: a workspace file that links outside the workspace or to a secret file is refused", () => {
    fs.writeFileSync(path.join(other.path, "notes.ts"), "export const notes = 1;\n");
    fs.mkdirSync(path.join(other.path, ".aws"), { recursive: true });
    fs.writeFileSync(path.join(other.path, ".aws", "credentials"), "[default]\n");
    fs.symlinkSync(path.join(other.path, "notes.ts"), path.join(ws.path, "src", "linked.ts"));
    fs.symlinkSync(path.join(other.path, ".aws", "credentials"), path.join(ws.path, "src", "config.ts"));
    fs.writeFileSync(path.join(ws.path, "src", "real.ts"), "export const real = 1;\n");
    fs.symlinkSync(path.join(ws.path, "src", "real.ts"), path.join(ws.path, "src", "alias.ts"));
    expect(gate.contextRefusal(inWs("src/linked.ts"))).toMatch(/links to .*notes\.ts, outside the workspace folders/);
    expect(gate.contextRefusal(inWs("src/config.ts"))).toMatch(/links to .*credentials: credentials looks like a secrets/);
    expect(gate.documentRefusal(inWs("src/config.ts"))).toMatch(/links to .*credentials/);
    expect(gate.contextRefusal(inWs("src/alias.ts"))).toBeUndefined();
    fs.writeFileSync(path.join(ws.path, "src", "calc.test.ts"), "it('adds', () => {});\n");
    fs.symlinkSync(path.join(ws.path, "src", "calc.test.ts"), path.join(ws.path, "src", "tests-alias.ts"));
    expect(gate.contextRefusal(inWs("src/tests-alias.ts"))).toMatch(/links to .*calc\.test\.ts: src\/calc\.test\.ts is excluded/);
  });

  it("reads ignore files again after reset, and by itself once they are older than its limit", () => {
    expect(gate.contextRefusal(inWs("src/late.ts"))).toBeUndefined();
    fs.appendFileSync(path.join(ws.path, ".ifaiignore"), "late.ts\n");
    gate.reset();
    expect(gate.contextRefusal(inWs("src/late.ts"))).toMatch(/excluded/);
    let clock = 0;
    const aging = new ContextGate(() => [{ fsPath: ws.path }], 2000, () => clock);
    expect(aging.contextRefusal(inWs("src/later.ts"))).toBeUndefined();
    fs.appendFileSync(path.join(ws.path, ".ifaiignore"), "later.ts\n");
    expect(aging.contextRefusal(inWs("src/later.ts"))).toBeUndefined();
    clock = 2001;
    expect(aging.contextRefusal(inWs("src/later.ts"))).toMatch(/excluded/);
  });
});

describe("one list of secret files for the index and the cloud", () => {
  it("every file the cloud refuses by name is a file the index never reads, and the other way round", () => {
    const names = ["credentials.yaml", "credentials.json", "signing.asc", "secret", "secrets", "secrets.toml", ".env", ".env.local", "prod.env", "server.key", "tls.pem", "id_ed25519", "id_rsa.pub", ".npmrc", ".pgpass", "terraform.tfvars", "app-secret.toml", ".ssh/config", ".aws/credentials", "deploy/kubeconfig"];
    const rules = new IgnoreRules("/nonexistent-root", { maxFileBytes: 1e9 });
    for (const name of names) {
      expect(!!sensitiveFileReason(`/p/${name}`), name).toBe(true);
      expect(indexSecretPath(name), name).toBe(true);
      expect(rules.ignores(name, false), name).toBe(true);
    }
    for (const name of ["src/env.ts", "credentials.ts", "secretary.py", "keys.ts", "README.md"]) {
      expect(sensitiveFileReason(`/p/${name}`), name).toBeUndefined();
      expect(indexSecretPath(name), name).toBe(false);
    }
  });
});
