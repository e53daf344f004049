import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { discoverFiles } from "../src/index/discovery.js";
import { IgnoreRules, isSecretPath } from "../src/privacy/ignoreRules.js";
import { indexLocation } from "../src/index/store/location.js";
import { makeWorkspace } from "./helpers/indexWorkspace.js";

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

async function discovered(files: Record<string, string | Buffer>, maxFileBytes = 1_000_000): Promise<string[]> {
  const ws = makeWorkspace(files);
  cleanups.push(ws.cleanup);
  const result = await discoverFiles(new IgnoreRules(ws.root, { maxFileBytes }), { maxFiles: 10_000 });
  return result.files.map((f) => f.rel);
}

describe("ignore rules", () => {
  it("applies the default excludes: dependencies, build outputs, vendored, minified, generated, lockfiles, binaries", async () => {
    const found = await discovered({
      "src/app.ts": "export const a = 1;\n",
      "src/app.test.ts": "test();\n",
      "README.md": "# readme\n",
      "node_modules/lib/index.js": "module.exports = 1;\n",
      "packages/x/node_modules/y/index.js": "1;\n",
      "dist/app.js": "1;\n",
      "build/out.js": "1;\n",
      "target/debug/main.rs": "fn main() {}\n",
      "vendor/github.com/x/y.go": "package y\n",
      ".git/config": "[core]\n",
      "__pycache__/m.cpython-312.pyc": "x",
      ".venv/lib/site.py": "x = 1\n",
      "public/app.min.js": "var a=1;\n",
      "src/api.pb.go": "package api\n",
      "src/schema_pb2.py": "x = 1\n",
      "package-lock.json": "{}\n",
      "yarn.lock": "x\n",
      "Cargo.lock": "x\n",
      "go.sum": "x\n",
      "assets/logo.png": Buffer.from([0x89, 0x50, 0x4e, 0x47]),
      "fonts/a.woff2": Buffer.from([1, 2, 3]),
      "lib/native.so": Buffer.from([0x7f, 0x45]),
      "models/m.onnx": Buffer.from([1]),
      "app.js.map": "{}\n",
    });
    expect(found.sort()).toEqual(["README.md", "src/app.test.ts", "src/app.ts"]);
  });

  it("honours .gitignore (nested ones below their folder, negations, deeper files win) and .ifaiignore", async () => {
    const found = await discovered({
      ".gitignore": "*.log\n/tmp/\nsecret-notes.md\n",
      "tmp/scratch.ts": "1;\n",
      "src/tmp/kept.ts": "1;\n",
      "app.log": "x\n",
      "secret-notes.md": "x\n",
      "src/.gitignore": "generated/\n!important.log\n",
      "src/generated/types.ts": "1;\n",
      "src/important.log": "x\n",
      "src/main.ts": "1;\n",
      "lib/generated/keep.ts": "1;\n",
      ".ifaiignore": "docs/internal/\n!build/\n",
      "docs/internal/plan.md": "x\n",
      "docs/public.md": "x\n",
      "build/script.ts": "1;\n",
    });
    expect(found.sort()).toEqual([".gitignore", ".ifaiignore", "build/script.ts", "docs/public.md", "lib/generated/keep.ts", "src/.gitignore", "src/important.log", "src/main.ts", "src/tmp/kept.ts"]);
  });

  it("never indexes secrets, even when an ignore file re-includes them", async () => {
    const found = await discovered({
      ".ifaiignore": "!.env\n!*.pem\n",
      ".env": "API_KEY=abc\n",
      ".env.local": "API_KEY=abc\n",
      "config/.env.production": "X=1\n",
      "deploy/prod.env": "X=1\n",
      "certs/server.pem": "-----BEGIN CERTIFICATE-----\n",
      "certs/server.key": "k\n",
      "certs/client.p12": Buffer.from([1]),
      "keys/id_rsa": "k\n",
      "keys/id_ed25519.pub": "k\n",
      ".ssh/config": "Host x\n",
      ".aws/credentials": "[default]\n",
      ".npmrc": "//registry/:_authToken=x\n",
      "credentials.json": "{}\n",
      "infra/terraform.tfstate": "{}\n",
      "src/env.ts": "export const env = process.env;\n",
      "src/keys.ts": "export const keys = [];\n",
    });
    expect(found.sort()).toEqual([".ifaiignore", "src/env.ts", "src/keys.ts"]);
    expect(isSecretPath(".env.example")).toBe(true);
    expect(isSecretPath("src/environment.ts")).toBe(false);
  });

  it("leaves out files over the size cap without reading them", async () => {
    const ws = makeWorkspace({ "small.ts": "1;\n" });
    cleanups.push(ws.cleanup);
    // A 100 MB sparse file: instant to make, and it must not be read.
    const big = path.join(ws.root, "huge.ts");
    fs.writeFileSync(big, "");
    fs.truncateSync(big, 100 * 1024 * 1024);
    const result = await discoverFiles(new IgnoreRules(ws.root, { maxFileBytes: 1_000_000 }), { maxFiles: 100 });
    expect(result.files.map((f) => f.rel)).toEqual(["small.ts"]);
    expect(result.tooLarge).toBe(1);
  });

  it("does not follow symbolic links: a link loop ends, a link out of the workspace is not read", async () => {
    const ws = makeWorkspace({ "a/real.ts": "1;\n" });
    cleanups.push(ws.cleanup);
    fs.symlinkSync(path.join(ws.root, "a"), path.join(ws.root, "a", "loop"));
    fs.symlinkSync("/etc", path.join(ws.root, "etc-link"));
    fs.symlinkSync(path.join(ws.root, "a", "real.ts"), path.join(ws.root, "alias.ts"));
    fs.symlinkSync(path.join(ws.root, "missing"), path.join(ws.root, "dangling.ts"));
    const result = await discoverFiles(new IgnoreRules(ws.root, { maxFileBytes: 1_000_000 }), { maxFiles: 100 });
    expect(result.files.map((f) => f.rel)).toEqual(["a/real.ts"]);
  });

  it("skips folders it cannot read and stops at the file limit", async () => {
    const ws = makeWorkspace(Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`f${String(i).padStart(2, "0")}.ts`, "1;\n"])));
    cleanups.push(ws.cleanup);
    const result = await discoverFiles(new IgnoreRules(ws.root, { maxFileBytes: 1_000_000 }), { maxFiles: 10 });
    expect(result.files).toHaveLength(10);
    expect(result.truncated).toBe(true);
    const gone = await discoverFiles(new IgnoreRules(path.join(ws.root, "nope"), { maxFileBytes: 1_000_000 }), { maxFiles: 10 });
    expect(gone.files).toEqual([]);
    expect(gone.unreadableDirs).toBe(1);
  });

  it("answers for single paths the way the walk does (watcher and editor events)", () => {
    const ws = makeWorkspace({ ".gitignore": "out/\n", "src/.gitignore": "*.tmp\n" });
    cleanups.push(ws.cleanup);
    const rules = new IgnoreRules(ws.root, { maxFileBytes: 1000 });
    expect(rules.ignores("out", true)).toBe(true);
    expect(rules.ignores("out/a.ts", false)).toBe(true);
    expect(rules.ignores("node_modules/x/y.js", false)).toBe(true);
    expect(rules.ignores("src/a.tmp", false)).toBe(true);
    expect(rules.ignores("a.tmp", false)).toBe(false);
    expect(rules.ignores("src/a.ts", false)).toBe(false);
    expect(rules.ignores("src/.env", false)).toBe(true);
    expect(rules.ignores("../outside.ts", false)).toBe(true);
    // A changed ignore file is read again after invalidate().
    fs.writeFileSync(path.join(ws.root, ".gitignore"), "src/\n");
    expect(rules.ignores("src/a.ts", false)).toBe(false);
    rules.invalidate();
    expect(rules.ignores("src/a.ts", false)).toBe(true);
  });
});

describe("index location", () => {
  it("keys the default location by workspace path under the cache folder; a configured URI is used as is", () => {
    const env = { IFAI_CACHE_DIR: "/tmp/cache" };
    const a = indexLocation("/home/me/project", { env });
    const b = indexLocation("/home/other/project", { env });
    expect(a).toMatch(/^\/tmp\/cache\/index\/project-[0-9a-f]{12}$/);
    expect(a).not.toBe(b);
    expect(indexLocation("/home/me/project", { env })).toBe(a);
    expect(indexLocation("/home/me/project", { uri: "s3://bucket/idx/", env })).toBe("s3://bucket/idx");
    expect(indexLocation("/home/me/project", { uri: "s3://bucket/idx", folderCount: 2, env })).toBe("s3://bucket/idx/project");
    expect(indexLocation("/home/me/project", { uri: "/srv/index", env })).toBe("/srv/index");
  });
});
