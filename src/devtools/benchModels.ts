/**
 * npm run bench:models — the model manager's download and verify throughput on the model of the
 * exact Qwen2.5-Coder-0.5B shape (random weights, ~500 MB), served by a Range-capable HTTP server
 * on 127.0.0.1 in this process. Baseline in the same run: a plain file copy of the same bytes.
 * Also times a resume after a transfer cut at half way. Prints p50/p95 and ends with one JSON line.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { downloadFile } from "../inference/models/download.js";
import { sha256File } from "../inference/models/files.js";
import { formatSummary, summarize } from "./bench/stats.js";
import { ensureGeneratedModel, QWEN25_CODER_05B_SHAPE } from "./gguf/qwen2Model.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const runs = process.argv.includes("--quick") ? 2 : 5;
const log = (s = ""): void => void process.stdout.write(`${s}\n`);

/** Serves one file with Range support; `?cut=N` sends N bytes and then drops the connection. */
function serve(file: string, sha256: string): Promise<{ url: string; close: () => Promise<void> }> {
  const size = fs.statSync(file).size;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    const cut = Number(url.searchParams.get("cut") ?? 0);
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? "");
    const start = range ? Number(range[1]) : 0;
    const headers: Record<string, string> = {
      "content-type": "application/octet-stream",
      "content-length": String(size - start),
      "x-linked-etag": `"${sha256}"`,
    };
    if (range) headers["content-range"] = `bytes ${start}-${size - 1}/${size}`;
    res.writeHead(range ? 206 : 200, headers);
    const end = cut > 0 ? Math.min(size - 1, start + cut - 1) : size - 1;
    const stream = createReadStream(file, { start, end, highWaterMark: 1 << 20 });
    stream.pipe(res, { end: cut === 0 });
    if (cut > 0) stream.on("end", () => res.socket?.end());
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () =>
      resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/model.gguf`, close: () => new Promise((r) => server.close(() => r())) }),
    ),
  );
}

async function main(): Promise<void> {
  const vocabPath = path.resolve(root, "../shared/models/ggml-vocab-qwen2.5.gguf");
  const vocab = fs.existsSync(vocabPath) ? { vocabGgufPath: vocabPath } : ("byte" as const);
  log(`ifai-lsp model download benchmark — ${os.cpus().length} cores, node ${process.version}`);
  const genStart = performance.now();
  const model = await ensureGeneratedModel(path.join(root, ".cache", "bench-models"), { shape: QWEN25_CODER_05B_SHAPE, quant: "Q8_0", vocab, seed: 1 });
  const bytes = fs.statSync(model).size;
  const mb = bytes / 1e6;
  log(`model: ${path.basename(model)} (${mb.toFixed(0)} MB, ready in ${((performance.now() - genStart) / 1000).toFixed(1)} s)`);
  const sha256 = createHash("sha256").update(fs.readFileSync(model)).digest("hex");
  const server = await serve(model, sha256);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "ifai-bench-models-"));
  const copyMs: number[] = [];
  const downloadMs: number[] = [];
  const verifyMs: number[] = [];
  const resumeMs: number[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      const copy = path.join(work, "copy.gguf");
      let t = performance.now();
      fs.copyFileSync(model, copy);
      copyMs.push(performance.now() - t);
      fs.rmSync(copy);

      const dest = path.join(work, "model.gguf");
      const result = await downloadFile({ urls: [server.url], dest, expectedBytes: bytes });
      if (result.verifiedBy !== "x-linked-etag" || result.sha256 !== sha256) throw new Error("download was not verified");
      downloadMs.push(result.ms);

      t = performance.now();
      if ((await sha256File(dest)) !== sha256) throw new Error("verify mismatch");
      verifyMs.push(performance.now() - t);
      fs.rmSync(dest);

      // Cut at half way, then resume: the resume hashes the kept half and fetches the rest.
      await downloadFile({ urls: [`${server.url}?cut=${Math.floor(bytes / 2)}`], dest }).catch(() => undefined);
      const resumed = await downloadFile({ urls: [server.url], dest });
      if (resumed.resumedFromBytes === 0 || resumed.sha256 !== sha256) throw new Error("resume did not resume");
      resumeMs.push(resumed.ms);
      fs.rmSync(dest);
    }
  } finally {
    await server.close();
    fs.rmSync(work, { recursive: true, force: true });
  }
  const rate = (ms: number[]): number[] => ms.map((x) => mb / (x / 1000));
  log();
  log(formatSummary("file copy (baseline)", summarize(copyMs, 0), "ms"));
  log(formatSummary("download + SHA-256 + rename, 127.0.0.1", summarize(downloadMs, 0), "ms"));
  log(formatSummary("download throughput", summarize(rate(downloadMs), 0), "MB/s"));
  log(formatSummary("verify (re-hash the file)", summarize(verifyMs, 0), "ms"));
  log(formatSummary("resume after a cut at 50%", summarize(resumeMs, 0), "ms"));
  log(
    JSON.stringify({
      bench: "models",
      modelMB: Math.round(mb),
      runs,
      copyMs: summarize(copyMs, 0),
      downloadMs: summarize(downloadMs, 0),
      downloadMBps: summarize(rate(downloadMs), 0),
      verifyMs: summarize(verifyMs, 0),
      resumeHalfMs: summarize(resumeMs, 0),
    }),
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
