import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { CATALOGUE, findEntry, fileUrls } from "../src/inference/models/catalogue.js";
import { DownloadError, downloadFile, parseLinkedEtag } from "../src/inference/models/download.js";
import { ModelManager, ModelManagerError } from "../src/inference/models/ModelManager.js";
import { tempDir, tinyModel } from "./helpers/models.js";
import { ModelServer, refusedPort } from "./helpers/modelServer.js";

const sha = (data: Buffer): string => createHash("sha256").update(data).digest("hex");
const payload = randomBytes(3 * 1024 * 1024 + 123);
const payloadSha = sha(payload);

let server: ModelServer;
let base: string;
const dirs: Array<{ path: string; cleanup: () => void }> = [];
const newDir = (): string => {
  const d = tempDir("ifai-models-");
  dirs.push(d);
  return d.path;
};

beforeAll(async () => {
  server = new ModelServer();
  base = await server.start();
});
afterAll(async () => {
  await server.stop();
});
afterEach(() => {
  server.files.clear();
  server.requests.length = 0;
  for (const d of dirs.splice(0)) d.cleanup();
});

const url = (key: string): string => `${base}${key}`;
const leftovers = (dir: string): string[] => fs.readdirSync(dir, { recursive: true }).map(String).filter((f) => !f.startsWith("manifest"));

describe("catalogue", () => {
  it("has the Qwen2.5-Coder sizes and the embedding models, each with a licence, size and mirrors", () => {
    for (const id of ["qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b", "qwen2.5-coder-3b", "qwen2.5-coder-0.5b-instruct", "jina-embeddings-v2-base-code", "CodeRankEmbed", "all-MiniLM-L6-v2", "qwen3-embedding-0.6b"]) {
      const entry = findEntry(id);
      expect(entry, id).toBeDefined();
      expect(entry!.licence).toMatch(/\S/);
      for (const file of entry!.files) {
        expect(file.approxBytes).toBeGreaterThan(0);
        if (file.sha256 !== undefined) expect(file.sha256).toMatch(/^[0-9a-f]{64}$/);
        const urls = fileUrls(entry!, file, { mirrors: [], publicMirrors: true });
        expect(urls[0]).toBe(`https://huggingface.co/${entry!.hubRepo}/resolve/main/${file.path}`);
        expect(urls[1]).toMatch(/^https:\/\/hf-mirror\.com\//);
      }
    }
    expect(findEntry("qwen2.5-coder-0.5b-instruct")!.files.map((f) => fileUrls(findEntry("qwen2.5-coder-0.5b-instruct")!, f, { mirrors: [], publicMirrors: true })[2])).toEqual([
      "https://modelscope.cn/models/Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF/resolve/master/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    ]);
    expect(new Set(CATALOGUE.map((e) => e.id)).size).toBe(CATALOGUE.length);
    // The default completion model lands exactly where model.path's default points.
    expect(findEntry("qwen2.5-coder-0.5b")!.files[0]!.localPath).toBe("qwen2.5-coder-0.5b-q4_k_m.gguf");
  });

  it("pins a hash only with a pinned revision, and lists unpinned entries as such", async () => {
    for (const entry of CATALOGUE) {
      // A branch can move to a new upload: a hash pinned to "main" would one day refuse the right file.
      if (entry.files.some((f) => f.sha256 !== undefined)) expect(entry.revision, entry.id).toMatch(/^[0-9a-f]{40}$/);
    }
    const listed = await new ModelManager({ modelsDir: path.join(newDir(), "models"), mirrors: { mirrors: [], publicMirrors: false }, localOnly: false }).list();
    for (const e of listed) {
      const pinned = findEntry(e.id)!.files.every((f) => f.sha256 !== undefined);
      expect(e.integrity, e.id).toBe(pinned ? "pinned" : "none");
      if (!pinned) expect(e.integrityDetail).toMatch(/pins no SHA-256/);
    }
  });

  it("reads the hub's X-Linked-Etag in its quoted and weak forms and ignores non-SHA-256 etags", () => {
    expect(parseLinkedEtag(`"${payloadSha}"`)).toBe(payloadSha);
    expect(parseLinkedEtag(`W/"${payloadSha.toUpperCase()}"`)).toBe(payloadSha);
    expect(parseLinkedEtag(`"abc123"`)).toBeUndefined();
    expect(parseLinkedEtag(null)).toBeUndefined();
  });
});

describe("downloadFile against a real HTTP server", () => {
  it("downloads, verifies a pinned hash and renames atomically, reporting progress", async () => {
    const dir = newDir();
    const key = server.serve("org/repo", "m.bin", { data: payload });
    const seen: number[] = [];
    const result = await downloadFile({ urls: [url(key)], dest: path.join(dir, "m.bin"), sha256: payloadSha }, { onProgress: (p) => seen.push(p.receivedBytes) });
    expect(result.verifiedBy).toBe("pinned");
    expect(result.sha256).toBe(payloadSha);
    expect(fs.readFileSync(path.join(dir, "m.bin")).equals(payload)).toBe(true);
    expect(seen.at(-1)).toBe(payload.length);
    expect(leftovers(dir)).toEqual(["m.bin"]);
  });

  it("resumes a transfer cut midway from the .part file with a Range request", async () => {
    const dir = newDir();
    const dest = path.join(dir, "m.bin");
    const cutAt = 1_000_000;
    const key = server.serve("org/repo", "m.bin", { data: payload, fault: { kind: "cut", afterBytes: cutAt } });
    const first = await downloadFile({ urls: [url(key)], dest, sha256: payloadSha }).catch((e: unknown) => e);
    expect(first).toBeInstanceOf(DownloadError);
    expect((first as Error).message).toMatch(/connection broke|ended early/);
    expect((first as Error).message).toMatch(/resumes/);
    expect(fs.existsSync(dest)).toBe(false);
    const kept = fs.statSync(`${dest}.part`).size;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThanOrEqual(cutAt);

    const second = await downloadFile({ urls: [url(key)], dest, sha256: payloadSha });
    expect(second.resumedFromBytes).toBe(kept);
    expect(server.requests.at(-1)).toMatchObject({ range: `bytes=${kept}-`, status: 206 });
    expect(fs.readFileSync(dest).equals(payload)).toBe(true);
    expect(fs.existsSync(`${dest}.part`)).toBe(false);
  });

  it("continues on the next mirror from where a broken one stopped", async () => {
    const dir = newDir();
    const dest = path.join(dir, "m.bin");
    const broken = server.serve("a/repo", "m.bin", { data: payload, fault: { kind: "cut", afterBytes: 2_000_000 } });
    const good = server.serve("b/repo", "m.bin", { data: payload });
    const result = await downloadFile({ urls: [url(broken), url(good)], dest, sha256: payloadSha });
    expect(result.url).toBe(url(good));
    const resumed = server.requests.find((r) => r.path === good);
    expect(resumed?.range).toMatch(/^bytes=\d+-$/);
    expect(resumed?.status).toBe(206);
    expect(fs.readFileSync(dest).equals(payload)).toBe(true);
  });

  it("rejects a wrong hash, deletes the file and says so", async () => {
    const dir = newDir();
    const dest = path.join(dir, "m.bin");
    const key = server.serve("org/repo", "m.bin", { data: payload });
    const wrong = "0".repeat(64);
    const error = (await downloadFile({ urls: [url(key)], dest, sha256: wrong }).catch((e: unknown) => e)) as DownloadError;
    expect(error).toBeInstanceOf(DownloadError);
    expect(error.code).toBe("hash-mismatch");
    expect(error.message).toMatch(/SHA-256 mismatch.*deleted/);
    expect(leftovers(dir)).toEqual([]);
  });

  it("fails over when the first mirror refuses connections, answers 500 or sends an HTML page", async () => {
    const refused = await refusedPort();
    const good = server.serve("good/repo", "m.bin", { data: payload });
    const http500 = server.serve("e500/repo", "m.bin", { data: payload, fault: { kind: "status", status: 500 } });
    const html = server.serve("html/repo", "m.bin", { data: payload, fault: { kind: "html" } });
    const failures: string[] = [];
    for (const first of [`${refused}/x/m.bin`, url(http500), url(html)]) {
      const dir = newDir();
      const result = await downloadFile(
        { urls: [first, url(good)], dest: path.join(dir, "m.bin"), sha256: payloadSha },
        { onMirrorFailure: (_u, reason) => failures.push(reason) },
      );
      expect(result.url).toBe(url(good));
      expect(fs.readFileSync(path.join(dir, "m.bin")).equals(payload)).toBe(true);
    }
    expect(failures[0]).toMatch(/cannot connect \(ECONNREFUSED\)/);
    expect(failures[1]).toMatch(/HTTP 500/);
    expect(failures[2]).toMatch(/HTML page/);
  });

  it("names every failed mirror when none works, leaving nothing behind", async () => {
    const dir = newDir();
    const refused = await refusedPort();
    const missing = url("/nobody/repo/resolve/main/m.bin");
    const error = (await downloadFile({ urls: [`${refused}/m.bin`, missing], dest: path.join(dir, "m.bin") }).catch((e: unknown) => e)) as DownloadError;
    expect(error.code).toBe("all-mirrors-failed");
    expect(error.message).toMatch(/ECONNREFUSED.*HTTP 404/);
    expect(leftovers(dir)).toEqual([]);
  });

  it("checks the hub's X-Linked-Etag when no hash is pinned, across a redirect to the CDN", async () => {
    const good = server.serve("hub/repo", "m.bin", { data: payload, linkedEtag: payloadSha, redirect: true });
    const dir = newDir();
    const result = await downloadFile({ urls: [url(good)], dest: path.join(dir, "m.bin") });
    expect(result.verifiedBy).toBe("x-linked-etag");
    expect(server.requests.map((r) => r.status)).toEqual([302, 200]);

    const lying = server.serve("liar/repo", "m.bin", { data: payload, linkedEtag: "f".repeat(64), redirect: true });
    const dir2 = newDir();
    const error = (await downloadFile({ urls: [url(lying)], dest: path.join(dir2, "m.bin") }).catch((e: unknown) => e)) as DownloadError;
    expect(error.code).toBe("hash-mismatch");
    expect(leftovers(dir2)).toEqual([]);
  });

  it("refuses a download larger than the free space before connecting", async () => {
    const dir = newDir();
    const key = server.serve("org/repo", "m.bin", { data: payload });
    const error = (await downloadFile({ urls: [url(key)], dest: path.join(dir, "m.bin"), expectedBytes: 5_000_000 }, { freeBytes: async () => 1_000_000 }).catch(
      (e: unknown) => e,
    )) as DownloadError;
    expect(error.code).toBe("disk-full");
    expect(error.message).toMatch(/Not enough disk space.*5\.0 MB more are needed and 1\.0 MB are free/);
    expect(server.requests).toEqual([]);
    // Once the server tells the real size, the check runs again.
    const late = (await downloadFile({ urls: [url(key)], dest: path.join(dir, "m.bin") }, { freeBytes: async () => 1_000 }).catch((e: unknown) => e)) as DownloadError;
    expect(late.code).toBe("disk-full");
    expect(leftovers(dir)).toEqual([]);
  });

  it("explains a cache folder that cannot be written (a path under a regular file, which fails even as root)", async () => {
    const dir = newDir();
    fs.writeFileSync(path.join(dir, "file"), "x");
    const key = server.serve("org/repo", "m.bin", { data: payload });
    const error = (await downloadFile({ urls: [url(key)], dest: path.join(dir, "file", "models", "m.bin") }).catch((e: unknown) => e)) as DownloadError;
    expect(error.code).toBe("not-writable");
    expect(error.message).toMatch(/Cannot write to the model folder .*ENOTDIR.*IFAI_CACHE_DIR/);
    expect(server.requests).toEqual([]);
  });

  it("stops on cancel and leaves no final file; a mirror that goes silent is abandoned for the next, resuming", async () => {
    const dir = newDir();
    const dest = path.join(dir, "m.bin");
    const controller = new AbortController();
    const key = server.serve("org/repo", "m.bin", { data: payload, fault: { kind: "stall", afterBytes: 500_000, onStall: () => controller.abort(new Error("user cancelled")) } });
    const error = (await downloadFile({ urls: [url(key)], dest }, { signal: controller.signal }).catch((e: unknown) => e)) as DownloadError;
    expect(error.code).toBe("cancelled");
    expect(error.message).toMatch(/cancelled; .* kept in .*m\.bin\.part, and the next pull resumes/);
    expect(fs.existsSync(dest)).toBe(false);
    // Whatever arrived before the cancel is kept for a resume (possibly nothing, if it came first).
    expect(fs.statSync(`${dest}.part`, { throwIfNoEntry: false })?.size ?? 0).toBeLessThanOrEqual(500_000);

    const silent = server.serve("silent/repo", "m.bin", { data: payload, fault: { kind: "stall", afterBytes: 700_000 } });
    const good = server.serve("good/repo", "m.bin", { data: payload });
    const failures: string[] = [];
    const result = await downloadFile({ urls: [url(silent), url(good)], dest, sha256: payloadSha }, { idleTimeoutMs: 300, onMirrorFailure: (_u, r) => failures.push(r) });
    expect(failures).toEqual(["sent nothing for 0.3 s"]);
    expect(result.url).toBe(url(good));
    expect(server.requests.find((r) => r.path === good)?.range).toMatch(/^bytes=\d+-$/);
    expect(fs.readFileSync(dest).equals(payload)).toBe(true);
  });

  it("starts over when a server ignores Range and sends the whole file", async () => {
    const dir = newDir();
    const dest = path.join(dir, "m.bin");
    fs.writeFileSync(`${dest}.part`, payload.subarray(0, 1000));
    const key = server.serve("org/repo", "m.bin", { data: payload, fault: { kind: "no-range" } });
    await downloadFile({ urls: [url(key)], dest, sha256: payloadSha });
    expect(fs.readFileSync(dest).equals(payload)).toBe(true);
  });
});

describe("resume never splices two files (identity of the partial file's source)", () => {
  // Same length, different bytes: the length alone cannot tell them apart.
  const other = Buffer.from(payload.map((b) => b ^ 0x5a));
  const otherSha = sha(other);
  const cut = 1_000_000;

  it("a transfer cut on mirror A and resumed on mirror B that serves other bytes starts over on B and installs B's whole file", async () => {
    const dir = newDir();
    const dest = path.join(dir, "m.bin");
    const a = server.serve("a/repo", "m.bin", { data: payload, fault: { kind: "cut", afterBytes: cut } });
    const b = server.serve("b/repo", "m.bin", { data: other });
    const result = await downloadFile({ urls: [url(a), url(b)], dest });
    expect(fs.readFileSync(dest).equals(other)).toBe(true);
    expect(result.sha256).toBe(otherSha);
    expect(result.resumedFromBytes).toBe(0);
    expect(result.restarts).toHaveLength(1);
    expect(result.restarts[0]).toMatch(/ETag .* differs .*started over/);
    // B was asked to resume, its identity compared with A's, then asked for the whole file.
    const asked = server.requests.filter((r) => r.path === b);
    expect(asked.map((r) => r.status)).toEqual([206, 200]);
    expect(asked[1]!.range).toBeUndefined();
    expect(leftovers(dir)).toEqual(["m.bin"]);
  });

  it("keeps the source's identity beside the .part between runs, and resumes only where it matches", async () => {
    const dir = newDir();
    const dest = path.join(dir, "m.bin");
    const a = server.serve("a/repo", "m.bin", { data: payload, fault: { kind: "cut", afterBytes: cut } });
    await expect(downloadFile({ urls: [url(a)], dest })).rejects.toThrow(/resumes/);
    const identity = JSON.parse(fs.readFileSync(`${dest}.part.json`, "utf8")) as { etag?: string; totalBytes?: number };
    expect(identity).toMatchObject({ totalBytes: payload.length, etag: expect.stringMatching(/^"/) });

    // The file behind the same URL changed (another upload): its new ETag forbids the resume.
    // The resume carried the kept ETag as If-Range (this server ignores it; the comparison catches it).
    server.serve("a/repo", "m.bin", { data: other });
    const changed = await downloadFile({ urls: [url(a)], dest });
    expect(server.requests.at(-2)).toMatchObject({ path: a, status: 206, ifRange: identity.etag });
    expect(fs.readFileSync(dest).equals(other)).toBe(true);
    expect(changed.restarts[0]).toMatch(/differs/);
    fs.rmSync(dest);

    // A mirror with the same bytes but a different ETag, both hub-style with the LFS hash: the hash decides, so it resumes.
    const hubA = server.serve("hub-a/repo", "m.bin", { data: payload, linkedEtag: payloadSha, redirect: true, etag: '"cdn-a"', fault: { kind: "cut", afterBytes: cut } });
    const hubB = server.serve("hub-b/repo", "m.bin", { data: payload, linkedEtag: payloadSha, redirect: true, etag: '"cdn-b"' });
    const resumed = await downloadFile({ urls: [url(hubA), url(hubB)], dest });
    expect(resumed.restarts).toEqual([]);
    expect(server.requests.filter((r) => r.path === `/cdn${hubB}`).map((r) => r.status)).toEqual([206]);
    expect(resumed.verifiedBy).toBe("x-linked-etag");
    expect(fs.readFileSync(dest).equals(payload)).toBe(true);
  });

  it("does not resume from a source that gives nothing to compare (no hash, ETag or Last-Modified)", async () => {
    const dir = newDir();
    const dest = path.join(dir, "m.bin");
    const a = server.serve("a/repo", "m.bin", { data: payload, etag: null, fault: { kind: "cut", afterBytes: cut } });
    const b = server.serve("b/repo", "m.bin", { data: other, etag: null });
    const result = await downloadFile({ urls: [url(a), url(b)], dest });
    expect(fs.readFileSync(dest).equals(other)).toBe(true);
    expect(result.restarts[0]).toMatch(/nothing shows that it serves the same file/);
    expect(result.verifiedBy).toBe("none");
  });

  it("never installs a file that differs from a pinned hash, however the transfer went", async () => {
    const dir = newDir();
    const dest = path.join(dir, "m.bin");
    const a = server.serve("a/repo", "m.bin", { data: payload, fault: { kind: "cut", afterBytes: cut } });
    const b = server.serve("b/repo", "m.bin", { data: other });
    const error = (await downloadFile({ urls: [url(a), url(b)], dest, sha256: payloadSha }).catch((e: unknown) => e)) as DownloadError;
    expect(error).toBeInstanceOf(DownloadError);
    expect(error.message).toMatch(/SHA-256 mismatch/);
    expect(fs.existsSync(dest)).toBe(false);
    expect(leftovers(dir)).toEqual([]);
  });

  it("does not resume a .part whose source is unknown (left by an older version)", async () => {
    const dir = newDir();
    const dest = path.join(dir, "m.bin");
    fs.writeFileSync(`${dest}.part`, other.subarray(0, cut));
    const key = server.serve("org/repo", "m.bin", { data: payload });
    const result = await downloadFile({ urls: [url(key)], dest });
    expect(fs.readFileSync(dest).equals(payload)).toBe(true);
    expect(result.resumedFromBytes).toBe(0);
    expect(result.restarts[0]).toMatch(/unknown origin discarded/);
    expect(server.requests.at(-1)!.range).toBeUndefined();
  });
});

describe("ModelManager", () => {
  const entry = findEntry("qwen2.5-coder-0.5b")!;
  const manager = (modelsDir: string, extra: Partial<ConstructorParameters<typeof ModelManager>[0]> = {}): ModelManager =>
    new ModelManager({ modelsDir, mirrors: { mirrors: [base], publicMirrors: false }, localOnly: false, ...extra });

  it("pulls a catalogue model from a mirror, lists it, verifies it against the recorded hash and removes it", async () => {
    const gguf = fs.readFileSync(await tinyModel());
    server.serve(entry.hubRepo, entry.files[0]!.path, { data: gguf, linkedEtag: sha(gguf), redirect: true });
    const modelsDir = path.join(newDir(), "models");
    const m = manager(modelsDir, { configuredModelPath: path.join(modelsDir, entry.files[0]!.localPath) });
    const progress: number[] = [];
    const pulled = await m.pull("qwen2.5-coder-0.5b", { onProgress: (p) => progress.push(p.receivedBytes) });
    expect(pulled.path).toBe(path.join(modelsDir, "qwen2.5-coder-0.5b-q4_k_m.gguf"));
    expect(pulled.files[0]).toMatchObject({ verifiedBy: "x-linked-etag", bytes: gguf.length, alreadyPresent: false });
    expect(progress.at(-1)).toBe(gguf.length);

    const again = await m.pull("qwen2.5-coder-0.5b");
    expect(again.files[0]!.alreadyPresent).toBe(true);

    const listed = (await m.list()).find((e) => e.id === entry.id)!;
    // Not pinned by the catalogue: checked against the hub's hash while downloading, and said so.
    expect(listed).toMatchObject({ installed: true, inUse: true, integrity: "checked-at-download", installedBytes: gguf.length });
    const verified = await m.verify(entry.id);
    expect(verified.ok).toBe(true);
    expect(verified.files[0]).toMatchObject({ status: "unchanged", reference: "checked-at-download", sha256: sha(gguf) });
    expect(verified.files[0]!.detail).toMatch(/^matches the hash recorded when it was downloaded, which was checked then against the hash its source published/);

    // A corrupted byte is caught by verify.
    const fd = fs.openSync(pulled.path, "r+");
    fs.writeSync(fd, Buffer.from([0xff]), 0, 1, 100);
    fs.closeSync(fd);
    const bad = await m.verify(entry.id);
    expect(bad.ok).toBe(false);
    expect(bad.files[0]!.status).toBe("mismatch");
    expect(bad.files[0]!.detail).toMatch(/models rm qwen2\.5-coder-0\.5b/);

    const removed = await m.remove(entry.id);
    expect(removed.freedBytes).toBe(gguf.length);
    expect(fs.existsSync(pulled.path)).toBe(false);
    expect((await m.list()).find((e) => e.id === entry.id)!.installed).toBe(false);
  });

  it("pulls a multi-file embedding model into its own folder", async () => {
    const e = findEntry("all-minilm-l6-v2")!;
    const onnx = randomBytes(200_000);
    const tok = Buffer.from('{"model":{}}');
    server.serve(e.hubRepo, e.files[0]!.path, { data: onnx });
    server.serve(e.hubRepo, e.files[1]!.path, { data: tok });
    const modelsDir = path.join(newDir(), "models");
    const pulled = await manager(modelsDir).pull(e.id);
    expect(pulled.files.map((f) => path.relative(modelsDir, f.path))).toEqual([path.join("all-MiniLM-L6-v2", "model_quantized.onnx"), path.join("all-MiniLM-L6-v2", "tokenizer.json")]);
    expect(fs.readFileSync(pulled.files[1]!.path).equals(tok)).toBe(true);
  });

  it("pulls a custom model by URL with a given hash and lists it as custom", async () => {
    const key = server.serve("corp/internal", "our-coder.gguf", { data: payload });
    const modelsDir = path.join(newDir(), "models");
    const m = manager(modelsDir);
    const pulled = await m.pull(url(key), { sha256: payloadSha });
    expect(pulled.id).toBe("custom/our-coder.gguf");
    const listed = (await m.list()).find((e) => e.id === "custom/our-coder.gguf");
    expect(listed).toMatchObject({ source: "custom", installed: true, integrity: "checked-at-download" });
    await expect(m.pull(url(key), { sha256: "nothex" })).rejects.toThrow(/not a SHA-256/);
    await expect(m.pull("ftp//nonsense")).rejects.toThrow(/Unknown model id/);
    await expect(m.pull("ftp://example.com/x.gguf")).rejects.toThrow(/Only http and https URLs/);
    await expect(m.pull("https://")).rejects.toThrow(/not a valid URL/);
    expect((await m.remove("custom/our-coder.gguf")).removed).toHaveLength(1);
  });

  it("reports a discarded partial download in the pull result, and rm removes a .part with its source identity", async () => {
    const modelsDir = path.join(newDir(), "models");
    const m = manager(modelsDir);
    const dest = path.join(modelsDir, "custom", "p.bin");
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.writeFileSync(`${dest}.part`, payload.subarray(0, 1000).map((b) => b ^ 1));
    const key = server.serve("corp/internal", "p.bin", { data: payload, fault: { kind: "cut", afterBytes: 500_000 } });
    await expect(m.pull(url(key))).rejects.toThrow(/resumes from there/);
    expect(fs.existsSync(`${dest}.part.json`)).toBe(true);
    const removed = await m.remove("custom/p.bin");
    expect(removed.removed.map((f) => path.basename(f)).sort()).toEqual(["p.bin.part", "p.bin.part.json"]);

    fs.writeFileSync(`${dest}.part`, payload.subarray(0, 1000));
    const pulled = await m.pull(url(key));
    expect(pulled.files[0]!.restarts).toEqual([expect.stringMatching(/unknown origin discarded/)]);
    expect(fs.readFileSync(dest).equals(payload)).toBe(true);
  });

  it("calls a hash recorded with nothing to check it against what it is: recorded, not verified", async () => {
    const key = server.serve("corp/internal", "plain.bin", { data: payload });
    const m = manager(path.join(newDir(), "models"));
    const pulled = await m.pull(url(key));
    expect(pulled.files[0]!.verifiedBy).toBe("none");
    expect((await m.list()).find((e) => e.id === "custom/plain.bin")).toMatchObject({ integrity: "recorded", integrityDetail: expect.stringMatching(/^not verified/) });
    const verified = await m.verify("custom/plain.bin");
    expect(verified.files[0]).toMatchObject({ status: "unchanged", reference: "recorded" });
    expect(verified.files[0]!.detail).toMatch(/not independently verified/);
  });

  it("names the known ids for an unknown one, and refuses downloads in local-only mode", async () => {
    const m = manager(path.join(newDir(), "models"));
    await expect(m.pull("qwen-9000")).rejects.toThrow(/Unknown model id "qwen-9000"\. Known ids: qwen2\.5-coder-0\.5b, .*all-MiniLM-L6-v2/);
    await expect(m.verify("qwen-9000")).rejects.toThrow(/Known ids/);
    const local = manager(path.join(newDir(), "models"), { localOnly: true });
    const error = await local.pull("qwen2.5-coder-0.5b").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelManagerError);
    expect((error as Error).message).toMatch(/Local-only mode is on: downloads are refused/);
    expect(server.requests).toEqual([]);
  });

  it("verifies a user-supplied model file anywhere on disk when asked from the command line", async () => {
    const model = await tinyModel();
    const m = manager(path.join(newDir(), "models"));
    const result = await m.verify(model, { paths: "any" });
    expect(result.files[0]).toMatchObject({ status: "unverified", reference: "none", sha256: sha(fs.readFileSync(model)) });
    expect(result.files[0]!.detail).toMatch(/^no reference hash/);
    const notGguf = path.join(newDir(), "fake.gguf");
    fs.writeFileSync(notGguf, "hello");
    expect((await m.verify(notGguf, { paths: "any" })).files[0]!.status).toBe("not-gguf");
  });
});

describe("hardware recommendation", () => {
  it("recommends by GPU memory first, then cores and RAM", async () => {
    const { recommendModel } = await import("../src/inference/models/hardware.js");
    const GB = 1e9;
    expect(recommendModel({ backend: "cpu", cores: 2, ramTotal: 24 * GB, ramFree: 20 * GB }).id).toBe("qwen2.5-coder-0.5b");
    expect(recommendModel({ backend: "cpu", cores: 16, ramTotal: 32 * GB, ramFree: 20 * GB }).id).toBe("qwen2.5-coder-1.5b");
    expect(recommendModel({ backend: "cuda", vram: { total: 24 * GB, free: 20 * GB, unified: false }, cores: 8, ramTotal: 32 * GB, ramFree: 20 * GB })).toMatchObject({
      id: "qwen2.5-coder-3b",
      reason: expect.stringMatching(/Qwen Research licence/),
    });
    expect(recommendModel({ backend: "vulkan", vram: { total: 4 * GB, free: 3 * GB, unified: false }, cores: 4, ramTotal: 8 * GB, ramFree: 4 * GB }).id).toBe("qwen2.5-coder-1.5b");
    expect(recommendModel({ backend: "metal", vram: { total: 8 * GB, free: 1 * GB, unified: true }, cores: 4, ramTotal: 8 * GB, ramFree: 1 * GB }).reason).toMatch(/too little free memory/);
  });

  it("uses the embedding ids of the index's own catalogue", async () => {
    const { findCatalogEntry } = await import("../src/index/embedding/catalog.js");
    for (const e of CATALOGUE.filter((c) => c.roles.includes("embedding"))) expect(findCatalogEntry(e.id)?.id, e.id).toBe(e.id);
  });
});
