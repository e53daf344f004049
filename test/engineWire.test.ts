import fs from "node:fs";
import path from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { ensurePrivateFolder, UnsafeEngineFolderError } from "../src/engine/socketPath.js";
import { validClientMessage } from "../src/engine/validate.js";
import { encode, LineReader, MAX_LINE_BYTES, type ClientMessage } from "../src/engine/wire.js";
import { tempDir } from "./helpers/models.js";

const dir = tempDir("ifai-engine-folder-");
afterAll(() => dir.cleanup());

describe("the shared engine's wire", () => {
  it("reads the same messages whatever sizes the stream's reads have", () => {
    const message = fc.record({ t: fc.constant("verdict"), id: fc.nat(), stop: fc.boolean(), note: fc.string({ unit: "grapheme", maxLength: 40 }) });
    fc.assert(
      fc.property(fc.array(message, { maxLength: 20 }), fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1 }), (messages, sizes) => {
        const bytes = Buffer.from(messages.map((m) => encode(m as unknown as ClientMessage)).join(""));
        const read: unknown[] = [];
        const reader = new LineReader((m) => read.push(m), (reason) => read.push({ broken: reason }));
        for (let i = 0, k = 0; i < bytes.length; k++) {
          const size = sizes[k % sizes.length]!;
          reader.push(bytes.subarray(i, i + size));
          i += size;
        }
        expect(read).toEqual(messages);
      }),
      { seed: 7, numRuns: 200 },
    );
  });

  it("gives up on a line that is not JSON or that never ends within the bound", () => {
    const broken: string[] = [];
    new LineReader(() => undefined, (reason) => broken.push(reason)).push(Buffer.from("{nope\n"));
    const endless = new LineReader(() => undefined, (reason) => broken.push(reason));
    const chunk = Buffer.alloc(1024 * 1024, 0x61);
    for (let sent = 0; sent <= MAX_LINE_BYTES; sent += chunk.length) endless.push(chunk);
    expect(broken).toEqual(["a message that is not JSON", `a message over ${MAX_LINE_BYTES} bytes`]);
  });

  it("accepts only well-formed client messages", () => {
    const key = { model: { modelPath: "/m.gguf", threads: 1, contextSize: 2048, batchSize: 64 }, chat: { contextSize: 1024 }, nextEdit: { contextSize: 2048, speculative: true } };
    expect(validClientMessage({ t: "hello", version: 1, key, label: "x" })).toBeDefined();
    expect(validClientMessage({ t: "focus", extra: "ignored" })).toEqual({ t: "focus" });
    expect(validClientMessage({ t: "generate", id: 1, request: { prompt: [{ kind: "special", token: "fim_prefix" }, { kind: "text", text: "a" }], maxTokens: 4, maxTimeMs: 100, temperature: 0 } })).toBeDefined();
    for (const bad of [
      null,
      [],
      { t: "hello", version: 1, key: { model: {} }, label: "x" },
      { t: "generate", id: -1, request: {} },
      { t: "generate", id: 1, request: { prompt: [{ kind: "special", token: "not_a_token" }], maxTokens: 4, maxTimeMs: 100, temperature: 0 } },
      { t: "chat", id: 2, request: { messages: [{ role: "wizard", content: "x" }], maxTokens: 1, maxTimeMs: 1, temperature: 0 } },
      { t: "cancel", id: "1" },
      { t: "shutdown-everything" },
    ]) {
      expect(validClientMessage(bad)).toBeUndefined();
    }
  });
});

describe("the shared engine's folder", () => {
  it("is created private, and a folder others can enter or a link is refused", () => {
    const mine = path.join(dir.path, "engine");
    ensurePrivateFolder(mine);
    expect(fs.statSync(mine).mode & 0o777).toBe(0o700);

    const open = path.join(dir.path, "open");
    fs.mkdirSync(open, { mode: 0o755 });
    fs.chmodSync(open, 0o755);
    expect(() => ensurePrivateFolder(open)).toThrow(UnsafeEngineFolderError);

    const link = path.join(dir.path, "link");
    fs.symlinkSync(mine, link);
    expect(() => ensurePrivateFolder(link)).toThrow(/not a directory/);
  });
});
