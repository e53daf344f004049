import { PassThrough } from "node:stream";
import { beforeAll, describe, expect, it } from "vitest";
import { runFuzz } from "../src/devtools/fuzz/runFuzz.js";
import { frame } from "../src/devtools/fuzz/LspProcess.js";
import { Rng } from "../src/devtools/fuzz/Rng.js";
import { generateCase, KNOWN_COMMANDS } from "../src/devtools/fuzz/cases.js";
import { FramedMessageReader } from "../src/server/transport/FramedMessageReader.js";
import { silentLogger } from "../src/util/logger.js";
import { tinyModel } from "./helpers/models.js";

/** The CI slice of the protocol fuzzer (npm run fuzz runs the long one): a fixed seed, a few thousand cases. */
const SEED = 20261204;

let modelPath: string;
beforeAll(async () => {
  modelPath = await tinyModel();
});

describe("protocol fuzzer", () => {
  it("generates the same cases from the same seed", () => {
    const ctx = { uris: ["file:///a.ts"], commands: KNOWN_COMMANDS, tempDir: "/tmp/x", caseIndex: 17 };
    const a = generateCase(Rng.forCase(SEED, 17), ctx);
    const b = generateCase(Rng.forCase(SEED, 17), ctx);
    expect(a.bytes.equals(b.bytes)).toBe(true);
    expect(generateCase(Rng.forCase(SEED, 18), { ...ctx, caseIndex: 18 }).bytes.equals(a.bytes)).toBe(false);
  });

  it("reads the same messages whatever the chunking of a stream of fuzz cases", () => {
    const ctx = { uris: ["file:///a.ts"], commands: KNOWN_COMMANDS, tempDir: "/tmp/x", caseIndex: 0 };
    const stream = Buffer.concat(Array.from({ length: 300 }, (_, i) => Buffer.concat([generateCase(Rng.forCase(SEED, i), { ...ctx, caseIndex: i }).bytes, frame(`{"jsonrpc":"2.0","method":"marker","params":{"n":${i}}}`)])));
    // Messages are summarised (method, id, marker number): fuzz cases nest JSON deeper than a
    // recursive deep-equal can walk.
    const read = (chunk: number): string[] => {
      const out: string[] = [];
      const reader = new FramedMessageReader(new PassThrough(), silentLogger(), { onParseError: (reason) => out.push(`parse error: ${reason}`), onFatal: (reason) => out.push(`fatal: ${reason}`) });
      reader.listen((m) => {
        const { method, id, params } = m as { method?: unknown; id?: unknown; params?: { n?: unknown } };
        out.push(`message ${String(method)} ${typeof id === "object" ? "object" : String(id)}${method === "marker" ? ` ${String(params?.n)}` : ""}`);
      });
      for (let i = 0; i < stream.length; i += chunk) reader.onData(stream.subarray(i, i + chunk));
      return out;
    };
    const whole = read(stream.length);
    // Every marker sent after a case is read: the reader resynchronised after each one.
    const markers = whole.filter((m) => m.startsWith("message marker ")).map((m) => Number(m.split(" ").at(-1)));
    expect(markers).toEqual(Array.from({ length: 300 }, (_, i) => i));
    expect(read(7)).toEqual(whole);
    expect(read(4096)).toEqual(whole);
  });

  it("finds no crash, hang, deafness, unanswered request or stdout pollution in 3,000 cases", async () => {
    const report = await runFuzz({ seed: SEED, cases: 3000, batch: 50, batchesPerServer: 20, modelPath, batchTimeoutMs: 60_000 });
    expect(report.failures).toEqual([]);
    expect(report.uncaught.count).toBe(0);
    // A malformed request is the client's mistake (InvalidParams) and a refused one RequestFailed;
    // InternalError would mean a handler threw.
    expect(report.internalErrors.samples).toEqual([]);
    expect(report.cases).toBe(3000);
    // Each server went through the lifecycle edges (before initialize, after shutdown, exit 0).
    expect(report.servers).toBeGreaterThanOrEqual(3);
  }, 300_000);
});
