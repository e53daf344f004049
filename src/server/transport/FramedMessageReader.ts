import type { Readable } from "node:stream";
import { AbstractMessageReader, Disposable, type DataCallback, type Message } from "vscode-jsonrpc/node";
import type { Logger } from "../../util/logger.js";

export interface FramingLimits {
  /** The longest header block (all header lines of one message); LSP headers are a few dozen bytes. */
  maxHeaderBytes: number;
  /** The largest body a client may declare; larger declarations are refused without allocating. */
  maxBodyBytes: number;
  /** Bytes discarded in a row without one well-framed message; past this the stream is given up. */
  maxGarbageBytes: number;
}

export const DEFAULT_FRAMING_LIMITS: FramingLimits = {
  maxHeaderBytes: 8 * 1024,
  maxBodyBytes: 128 * 1024 * 1024,
  maxGarbageBytes: 32 * 1024 * 1024,
};

/** What the reader tells its owner besides messages: bodies that are not JSON, and giving up. */
export interface FramingEvents {
  /** A well-framed body that is not JSON: the owner answers ParseError (-32700) with id null. */
  onParseError(reason: string): void;
  /** Garbage went on past maxGarbageBytes: the owner logs and exits so the editor restarts the server. */
  onFatal(reason: string): void;
}

const HEADER_NAME = Buffer.from("content-length");
const LF = 0x0a;
const CR = 0x0d;

/**
 * Reads LSP base-protocol frames (`Content-Length: N\r\n\r\n` + N bytes of JSON) from a byte
 * stream and never goes deaf. vscode-jsonrpc's reader stops for good at the first bad header;
 * this one reports every framing error to the log and resynchronises on the next
 * `Content-Length` header. It tolerates LF-only line ends, header names in any case, extra
 * headers and blank lines between messages; it refuses declared lengths above maxBodyBytes
 * without allocating them, and it cuts a body short when a new header starts inside it (a
 * declared length longer than the data), since `Content-Length` can never occur outside a string
 * in JSON. Every pass through the loop consumes at least one byte or waits for more, so hostile
 * input cannot make it spin.
 */
export class FramedMessageReader extends AbstractMessageReader {
  private chunks: Buffer[] = [];
  private length = 0;
  /** The declared body length of the message being read; -1 while reading headers. */
  private bodyLength = -1;
  /** How far the current incomplete body has been scanned for a new header, and the scanner state. */
  private scan: BodyScan = freshScan();
  /**
   * Where scanForHeader stopped: the chunk it was in and that chunk's offset in the buffer. Without
   * it every read of a body sent in tiny pieces walked all earlier pieces again (quadratic: a 1 MB
   * body in 7-byte reads never finished). `chunk` is checked by identity, so any change to the
   * leading chunks (a merge or a discard) starts the walk from the front again.
   */
  private scanCursor: { index: number; offset: number; chunk: Buffer } | undefined;
  private garbage = 0;
  private callback: DataCallback | undefined;
  private failed = false;

  constructor(
    private readonly input: Readable,
    private readonly logger: Logger,
    private readonly events: FramingEvents,
    private readonly limits: FramingLimits = DEFAULT_FRAMING_LIMITS,
  ) {
    super();
  }

  listen(callback: DataCallback): Disposable {
    this.callback = callback;
    const onData = (data: Buffer | string): void => this.onData(typeof data === "string" ? Buffer.from(data, "utf8") : data);
    const onError = (error: Error): void => this.fireError(error);
    const onClose = (): void => this.fireClose();
    this.input.on("data", onData);
    this.input.on("error", onError);
    this.input.on("close", onClose);
    this.input.on("end", onClose);
    return Disposable.create(() => {
      this.input.off("data", onData);
      this.input.off("error", onError);
      this.input.off("close", onClose);
      this.input.off("end", onClose);
    });
  }

  /** Feeds bytes through the frame parser; public so the framing can be tested without a process. */
  onData(data: Buffer): void {
    if (this.failed || data.length === 0) return;
    this.chunks.push(data);
    this.length += data.length;
    try {
      while (!this.failed && this.step());
    } catch (error) {
      // A parser bug must not leave the stream stuck: drop what is buffered and start over.
      this.logger.error({ err: error }, "framing: unexpected error; buffered input dropped");
      this.discard(this.length);
      this.bodyLength = -1;
    }
  }

  /** One step of the frame parser; false when it needs more bytes. */
  private step(): boolean {
    return this.bodyLength < 0 ? this.readHeaders() : this.readBody();
  }

  private readHeaders(): boolean {
    if (this.length === 0) return false;
    const head = this.peek(Math.min(this.length, this.limits.maxHeaderBytes + 2));
    let pos = 0;
    const lines: string[] = [];
    for (;;) {
      const nl = head.indexOf(LF, pos);
      if (nl < 0) {
        if (head.length > this.limits.maxHeaderBytes) return this.framingError(`header block longer than ${this.limits.maxHeaderBytes} bytes`);
        return false;
      }
      const end = nl > pos && head[nl - 1] === CR ? nl - 1 : nl;
      const line = head.toString("latin1", pos, end);
      pos = nl + 1;
      if (line.length > 0) {
        // A header name inside a line (an unterminated header ran into the next message's)
        // means this block is broken; resynchronise at that inner header.
        if (indexOfCaseless(Buffer.from(line, "latin1"), HEADER_NAME) > 0) return this.framingError("a header line runs into another Content-Length header");
        lines.push(line);
        continue;
      }
      if (lines.length === 0) {
        // Blank lines between messages are tolerated and dropped.
        this.discard(pos);
        return true;
      }
      break;
    }
    const parsed = parseHeaders(lines, this.limits.maxBodyBytes);
    if (typeof parsed === "string") return this.framingError(parsed);
    this.discard(pos);
    this.bodyLength = parsed;
    this.scan = freshScan();
    return true;
  }

  private readBody(): boolean {
    if (this.length >= this.bodyLength) {
      const declared = this.bodyLength;
      this.bodyLength = -1;
      const parsed = parseJson(this.peek(declared));
      if (parsed.ok) {
        this.discard(declared);
        this.garbage = 0;
        this.callback?.(parsed.value as Message);
        return true;
      }
      // Not JSON. If a header starts inside it (or runs past its end), the declared length ran
      // into the next message: answer for the part before and keep the next message.
      // Only the declared bytes decide (a tail that begins like a header counts as one), so the
      // answer never depends on how much of the next message the last read happened to bring.
      // A wrong guess costs only a framing error on the next step.
      const cut = findHeaderInBody(this.peek(declared), freshScan(), declared, true);
      if (cut >= 0) {
        this.discard(cut);
        this.parseError("the declared Content-Length was longer than the message", cut);
      } else {
        this.discard(declared);
        this.parseError(`the body is not valid JSON (${parsed.error})`, declared);
      }
      return true;
    }
    // Incomplete: a header inside what was declared as body means the length was a lie.
    const cut = this.scanForHeader();
    if (cut < 0) return false;
    const body = this.take(cut);
    this.logger.warn({ declared: this.bodyLength, received: cut }, "framing: a new header began before the declared body length; resynchronised there");
    this.bodyLength = -1;
    this.deliver(body, "the declared Content-Length was longer than the message");
    return true;
  }

  private deliver(body: Buffer, framingProblem: string): void {
    this.parseError(framingProblem, body.length);
  }

  private parseError(reason: string, bytes: number): void {
    this.logger.warn({ bytes }, `framing: parse error: ${reason}`);
    // The frame itself was well formed, so the stream is in step again.
    this.garbage = 0;
    this.events.onParseError(reason);
  }

  /** Logs a framing error and skips to the next `Content-Length` header. */
  private framingError(reason: string): boolean {
    const snippet = this.peek(Math.min(this.length, 80)).toString("latin1").replace(/[^\x20-\x7e]/g, "?");
    this.logger.warn({ snippet }, `framing error: ${reason}; resynchronising on the next Content-Length header`);
    // Skip at least one byte so the same header is not matched again.
    this.discard(1);
    this.garbage += 1;
    const head = this.peek(this.length);
    const at = indexOfCaseless(head, HEADER_NAME);
    if (at >= 0) {
      this.discard(at);
      this.garbage += at;
    } else {
      // Keep a tail that may be the start of a header split across reads.
      const drop = Math.max(0, this.length - (HEADER_NAME.length - 1));
      this.discard(drop);
      this.garbage += drop;
    }
    if (this.garbage > this.limits.maxGarbageBytes) {
      this.failed = true;
      this.events.onFatal(`${this.garbage} bytes without a valid LSP header`);
      return false;
    }
    return true;
  }

  /** Scans the buffered part of an incomplete body for a header that starts outside a JSON string. */
  private scanForHeader(): number {
    // Chunk by chunk, so a large body arriving in many reads is scanned once, never re-joined.
    const cursor = this.scanCursor;
    const resume = cursor !== undefined && this.chunks[cursor.index] === cursor.chunk && cursor.offset <= this.scan.pos;
    let offset = resume ? cursor.offset : 0;
    for (let c = resume ? cursor.index : 0; c < this.chunks.length; c++) {
      const chunk = this.chunks[c]!;
      this.scanCursor = { index: c, offset, chunk };
      if (this.scan.pos < offset + chunk.length) {
        // Enough of the following chunks to see a whole header name across boundaries (a header
        // name can span several small reads).
        const window = c + 1 < this.chunks.length ? Buffer.concat([chunk, this.following(c, HEADER_NAME.length)]) : chunk;
        const local = { ...this.scan, pos: this.scan.pos - offset };
        const found = findHeaderInBody(window, local, chunk.length);
        this.scan = { ...local, pos: local.pos + offset };
        if (found >= 0) return found + offset;
        if (this.scan.pos < offset + chunk.length) return -1;
      }
      offset += chunk.length;
    }
    return -1;
  }

  /** Up to n bytes of the chunks after chunk c, joined. */
  private following(c: number, n: number): Buffer {
    const parts: Buffer[] = [];
    let got = 0;
    for (let k = c + 1; k < this.chunks.length && got < n; k++) {
      const part = this.chunks[k]!.subarray(0, n - got);
      parts.push(part);
      got += part.length;
    }
    return Buffer.concat(parts);
  }

  /** The first n buffered bytes as one Buffer (merging chunks only as far as needed). */
  private peek(n: number): Buffer {
    if (n <= 0) return Buffer.alloc(0);
    if (this.chunks[0]!.length >= n) return this.chunks[0]!.subarray(0, n);
    let merged = 0;
    let count = 0;
    while (merged < n && count < this.chunks.length) merged += this.chunks[count++]!.length;
    const joined = Buffer.concat(this.chunks.slice(0, count));
    this.chunks.splice(0, count, joined);
    return joined.subarray(0, n);
  }

  private take(n: number): Buffer {
    const out = Buffer.from(this.peek(n));
    this.discard(n);
    return out;
  }

  private discard(n: number): void {
    let left = Math.min(n, this.length);
    this.length -= left;
    while (left > 0) {
      const first = this.chunks[0]!;
      if (first.length <= left) {
        this.chunks.shift();
        left -= first.length;
      } else {
        this.chunks[0] = first.subarray(left);
        left = 0;
      }
    }
  }

  private unshift(data: Buffer): void {
    this.chunks.unshift(data);
    this.length += data.length;
  }
}

function parseJson(bytes: Buffer): { ok: true; value: unknown } | { ok: false; error: string } {
  try {
    return { ok: true, value: JSON.parse(bytes.toString("utf8")) };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message.slice(0, 200) : String(error) };
  }
}

/** Parses header lines into the body length, or a reason why they are not a valid LSP header. */
export function parseHeaders(lines: string[], maxBodyBytes: number): number | string {
  let length: number | undefined;
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon <= 0) return `header line without a name and colon: ${JSON.stringify(line.slice(0, 60))}`;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === "content-length") {
      if (!/^\d{1,16}$/.test(value)) return `Content-Length is not a non-negative whole number: ${JSON.stringify(value.slice(0, 40))}`;
      const n = Number(value);
      if (n > maxBodyBytes) return `Content-Length ${n} is above the limit of ${maxBodyBytes} bytes`;
      if (length !== undefined && length !== n) return "two different Content-Length headers";
      length = n;
    } else if (name === "content-type") {
      const charset = /charset\s*=\s*"?([^;"\s]+)/i.exec(value)?.[1]?.toLowerCase();
      if (charset && charset !== "utf-8" && charset !== "utf8") return `unsupported charset ${JSON.stringify(charset)} (LSP is UTF-8)`;
    }
  }
  if (length === undefined) return "no Content-Length header";
  return length;
}

/** The scanner's state across reads: position, and where it is in the JSON grammar. */
export interface BodyScan {
  pos: number;
  inString: boolean;
  escaped: boolean;
  depth: number;
  /** The JSON value is over (its top level closed, or a byte no JSON allows was seen): what follows is not JSON. */
  over: boolean;
}

export const freshScan = (): BodyScan => ({ pos: 0, inString: false, escaped: false, depth: 0, over: false });

/**
 * Where, in a body, a `Content-Length` header starts outside any JSON string (-1: nowhere yet).
 * Once the JSON value is over, anything after it is garbage (quotes included), so a header is
 * looked for without regard to strings. `state` carries the scan across calls. With `partialAtEnd`
 * the body is complete, and a header cut off by its end (`…}Conte`) counts from where it begins.
 */
export function findHeaderInBody(body: Buffer, state: BodyScan, end = body.length, partialAtEnd = false): number {
  let i = state.pos;
  for (; i < end; i++) {
    const b = body[i]!;
    if (!state.over && state.inString) {
      if (state.escaped) state.escaped = false;
      else if (b === 0x5c) state.escaped = true;
      else if (b === 0x22) state.inString = false;
      // A raw control character cannot occur in a JSON string: the value is broken here.
      else if (b < 0x20) state.over = true;
      continue;
    }
    if (!state.over) {
      if (b === 0x22) {
        state.inString = true;
        continue;
      }
      if (b === 0x7b || b === 0x5b) state.depth++;
      else if (b === 0x7d || b === 0x5d) {
        state.depth--;
        if (state.depth <= 0) state.over = true;
        continue;
      }
    }
    // 'C' or 'c' never occurs outside a string in JSON: it can only start a new header.
    if (b === 0x43 || b === 0x63) {
      if (body.length - i < HEADER_NAME.length) {
        // With partialAtEnd the body is all there is: a header cut off by its end still counts.
        if (!partialAtEnd) break;
        if (isCaselessPrefixOfHeader(body.subarray(i))) {
          state.pos = i;
          return i;
        }
        continue;
      }
      if (matchesCaseless(body, i, HEADER_NAME)) {
        state.pos = i;
        return i;
      }
    }
  }
  state.pos = i;
  return -1;
}

function matchesCaseless(buf: Buffer, at: number, lower: Buffer): boolean {
  for (let j = 0; j < lower.length; j++) {
    const c = buf[at + j]!;
    if ((c >= 0x41 && c <= 0x5a ? c + 32 : c) !== lower[j]) return false;
  }
  return true;
}

/** Whether bytes (shorter than the header name) could be the start of a `Content-Length` header. */
function isCaselessPrefixOfHeader(bytes: Buffer): boolean {
  if (bytes.length === 0 || bytes.length >= HEADER_NAME.length) return false;
  for (let j = 0; j < bytes.length; j++) {
    const c = bytes[j]!;
    if ((c >= 0x41 && c <= 0x5a ? c + 32 : c) !== HEADER_NAME[j]) return false;
  }
  return true;
}

function indexOfCaseless(buf: Buffer, lower: Buffer): number {
  for (let i = 0; i + lower.length <= buf.length; i++) {
    const c = buf[i]!;
    if ((c === 0x43 || c === 0x63) && matchesCaseless(buf, i, lower)) return i;
  }
  return -1;
}
