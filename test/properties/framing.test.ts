import { PassThrough } from "node:stream";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FramedMessageReader } from "../../src/server/transport/FramedMessageReader.js";
import { silentLogger } from "../../src/util/logger.js";
import { options } from "./arbitraries.js";

/** What the reader made of a byte stream fed in the given read sizes: messages (method/id), parse errors, a fatal end. */
function readAll(stream: Buffer, sizes: number[]): string[] {
  const out: string[] = [];
  const reader = new FramedMessageReader(new PassThrough(), silentLogger(), {
    onParseError: (reason) => out.push(`parse error: ${reason}`),
    onFatal: (reason) => out.push(`fatal: ${reason}`),
  });
  reader.listen((m) => out.push(`message ${String((m as { method?: string }).method)} ${String((m as { id?: unknown }).id)}`));
  let at = 0;
  for (let k = 0; at < stream.length; k++) {
    const size = Math.max(1, sizes[k % sizes.length] ?? 1);
    reader.onData(stream.subarray(at, at + size));
    at += size;
  }
  return out;
}

const frame = (body: string, declared = Buffer.byteLength(body)): string => `Content-Length: ${declared}\r\n\r\n${body}`;
const request = (id: number): string => JSON.stringify({ jsonrpc: "2.0", id, method: "m" });

/** Frames that are well formed, or broken the ways clients and fuzzers break them. */
const piece = fc.oneof(
  fc.nat(1000).map((id) => frame(request(id))),
  // A declared length longer than the body: the next header starts inside it.
  fc.tuple(fc.nat(1000), fc.integer({ min: 1, max: 4000 })).map(([id, extra]) => frame(request(id), Buffer.byteLength(request(id)) + extra)),
  // One byte too long: the body runs into the next header's first byte.
  fc.nat(1000).map((id) => frame(request(id), Buffer.byteLength(request(id)) + 1)),
  fc.nat(1000).map((id) => `Content-Length: ${id}\r\nContent-Length: ${id + 1}\r\n\r\n`),
  fc.constantFrom("Content-Length: abc\r\n\r\n", "garbage\r\n", "\r\n", "Content-Type: x\r\n\r\n{}", "content-length: 2\n\n{}"),
);

describe("LSP framing (FramedMessageReader)", () => {
  it("reads the same messages and errors whatever sizes the stream's reads have", () => {
    fc.assert(
      fc.property(fc.array(piece, { minLength: 1, maxLength: 12 }), fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 8 }), (pieces, sizes) => {
        // A final well-formed request shows the reader is in step at the end.
        const stream = Buffer.from(pieces.join("") + frame(request(424242)));
        const whole = readAll(stream, [stream.length]);
        expect(whole.at(-1)).toBe("message m 424242");
        expect(readAll(stream, sizes)).toEqual(whole);
        expect(readAll(stream, [1])).toEqual(whole);
      }),
      options(300),
    );
  });

  it("finds a header that arrives across several reads inside a body declared too long", () => {
    const stream = Buffer.from(frame(request(1), 500) + frame(request(2)));
    expect(readAll(stream, [3])).toEqual(["parse error: the declared Content-Length was longer than the message", "message m 2"]);
  });

  it("keeps a header whose first byte ends a complete, non-JSON body (declared one byte too long)", () => {
    const stream = Buffer.from(frame(request(1), Buffer.byteLength(request(1)) + 1) + frame(request(2)));
    const split = Buffer.byteLength(frame(request(1), Buffer.byteLength(request(1)) + 1)) + 1;
    expect(readAll(stream, [split, 1000])).toEqual(["parse error: the declared Content-Length was longer than the message", "message m 2"]);
  });
});
