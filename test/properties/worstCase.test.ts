import path from "node:path";
import { Worker } from "node:worker_threads";
import { afterEach, describe, expect, it } from "vitest";
import { projectRoot } from "../helpers/paths.js";

/**
 * Megabyte inputs shaped to hit the worst case of each text loop. A quadratic loop takes minutes
 * on them (and a synchronous loop cannot be interrupted in the test's own thread), so each runs
 * in a worker on the built code: the test then fails on the suite's timeout instead of hanging.
 */
const workers: Worker[] = [];
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.terminate()));
});

const builtUrl = (module: string): string => new URL(`file://${path.join(projectRoot, "dist", module)}`).href;

/**
 * Calls `name` from a built module in a worker. With `context` ([prefix, suffix, languageId]) the
 * post-processing context built from it is passed as the last argument.
 */
function runBuilt(module: string, name: string, args: unknown[], context?: [string, string, string]): Promise<unknown> {
  const source = `
    const { parentPort, workerData } = require("node:worker_threads");
    (async () => {
      const m = await import(workerData.url);
      const args = [...workerData.args];
      if (workerData.context) {
        const { buildContext } = await import(workerData.contextUrl);
        args.push(buildContext(...workerData.context));
      }
      parentPort.postMessage(m[workerData.name](...args));
    })();
  `;
  const workerData = { url: builtUrl(module), contextUrl: builtUrl("features/completion/postprocess/context.js"), name, args, context };
  // A loop that never advances but keeps allocating fails on the worker's heap limit.
  const worker = new Worker(source, { eval: true, workerData, resourceLimits: { maxOldGenerationSizeMb: 256 } });
  workers.push(worker);
  return new Promise((resolve, reject) => {
    worker.once("message", resolve);
    worker.once("error", reject);
  });
}

const MB = 1 << 20;

describe("worst-case inputs finish (each loop is linear in its input)", () => {
  it("post-processing with a megabyte of open brackets before the cursor and unmatched closers after it", async () => {
    const out = await runBuilt("features/completion/postprocess.js", "postprocessCompletion", [
      { prefix: "(".repeat(MB / 2), suffix: "]".repeat(MB / 2), languageId: "typescript", mode: "single-line", completion: "a" },
    ]);
    expect(out).toBe("a");
  });

  it("cutting a megabyte line that ends in a loop", async () => {
    const out = await runBuilt("features/completion/postprocess/repetition.js", "cutLineEndRepetition", ["x = " + "ab".repeat(MB / 2)]);
    expect(out).toBe("x =");
  });

  it("splitting a long line into index chunks advances even with a zero token bound", async () => {
    const line = "x".repeat(1000);
    const pieces = (await runBuilt("index/chunking/common.js", "splitRange", [[line], Int32Array.from([0, 400]), 0, 0, { maxTokens: 0, minTokens: 0 }])) as Array<{ startCol: number; endCol: number }>;
    expect(pieces.length).toBeGreaterThan(0);
    expect(pieces.at(-1)!.endCol).toBe(line.length);
    for (const p of pieces) expect(p.endCol).toBeGreaterThan(p.startCol);
  });

  it("removing the overlap with the rest of the line when both end and start with a long run of closers", async () => {
    const run = "]".repeat(100_000);
    const out = await runBuilt("features/completion/postprocess/suffix.js", "removeLineSuffixOverlap", [run], ["x = f(", run, "lua"]);
    expect(typeof out).toBe("string");
    expect(run.startsWith(out as string)).toBe(true);
  });

  it("cutting a completion of many identical closing lines at a repetition of the lines below", async () => {
    const lines = Array.from({ length: 400_000 }, () => "}");
    const out = await runBuilt("features/completion/postprocess/suffix.js", "cutAtSuffixRepetition", [lines], ["", "\n}\nother();\n", "typescript"]);
    expect(out).toEqual(lines);
  });

  it("next edits: minimal edits of a megabyte rewrite where every line changed (the line diff's cost bound)", async () => {
    const region = Array.from({ length: 100_000 }, (_, i) => `a${i}`).join("\n");
    const rewrite = Array.from({ length: 100_000 }, (_, i) => `b${i}`).join("\n");
    const edits = (await runBuilt("features/nextEdit/minimalEdits.js", "minimalEdits", [region, rewrite])) as Array<{ start: number; end: number; text: string }>;
    expect(edits.length).toBeGreaterThan(0);
  });

  it("next edits: words a megabyte long at both ends of a change, and a region around a megabyte line", async () => {
    const word = "w".repeat(MB);
    const edit = (await runBuilt("features/nextEdit/minimalEdits.js", "narrow", [`${word}x${word}`, `${word}y${word}`, 0])) as { start: number; end: number };
    expect(edit).toMatchObject({ start: 0, end: 2 * MB + 1 });
    const region = (await runBuilt("features/nextEdit/regions.js", "editableRegion", ["\n".repeat(MB / 2) + word, MB / 2 + 10, { linesAbove: 200, linesBelow: 200, maxChars: 4000, contextLines: 40 }])) as { start: number; end: number };
    expect(region.end - region.start).toBeLessThanOrEqual(4000);
  });

  it("reading a 4 MB message sent in 7-byte reads (the scan for a header inside the body resumes where it stopped)", async () => {
    const source = `
      const { parentPort, workerData } = require("node:worker_threads");
      const { PassThrough } = require("node:stream");
      (async () => {
        const { FramedMessageReader } = await import(workerData.url);
        const { silentLogger } = await import(workerData.loggerUrl);
        const body = JSON.stringify({ jsonrpc: "2.0", id: 9, method: "m", params: { text: "x".repeat(4 * 1024 * 1024) } });
        const stream = Buffer.from("Content-Length: " + Buffer.byteLength(body) + "\\r\\n\\r\\n" + body);
        const ids = [];
        const reader = new FramedMessageReader(new PassThrough(), silentLogger(), { onParseError: () => ids.push("parse error"), onFatal: () => ids.push("fatal") });
        reader.listen((m) => ids.push(m.id));
        for (let i = 0; i < stream.length; i += 7) reader.onData(stream.subarray(i, i + 7));
        parentPort.postMessage(ids);
      })();
    `;
    const workerData = { url: builtUrl("server/transport/FramedMessageReader.js"), loggerUrl: builtUrl("util/logger.js") };
    const worker = new Worker(source, { eval: true, workerData, resourceLimits: { maxOldGenerationSizeMb: 512 } });
    workers.push(worker);
    const ids = await new Promise((resolve, reject) => {
      worker.once("message", resolve);
      worker.once("error", reject);
    });
    expect(ids).toEqual([9]);
  });
});
