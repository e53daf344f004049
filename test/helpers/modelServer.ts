import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";

/** How the server misbehaves for a path. */
export type Fault =
  | { kind: "status"; status: number }
  | { kind: "html" }
  /** Sends this many bytes of the body, then destroys the socket (once; later requests are served whole). */
  | { kind: "cut"; afterBytes: number; times?: number }
  /** Ignores Range headers and always answers 200 with the whole file. */
  | { kind: "no-range" }
  /** Sends this many bytes, then neither sends more nor closes (a hung transfer). */
  | { kind: "stall"; afterBytes: number; onStall?: () => void };

export interface ServedFile {
  /** A file on disk (streamed) or bytes in memory. */
  file?: string;
  data?: Buffer;
  /** Sent as X-Linked-Etag (quoted, as the hub does) on the redirect or the answer. */
  linkedEtag?: string;
  /** Answer with a hub-style 302 to /cdn/<path> first, carrying the X-Linked-* headers. */
  redirect?: boolean;
  /** The ETag sent (quotes included); by default a strong ETag derived from the content, as CDNs send; null sends none. */
  etag?: string | null;
  /** Sent as Last-Modified when given. */
  lastModified?: string;
  fault?: Fault;
}

export interface RequestRecord {
  path: string;
  range?: string;
  ifRange?: string;
  status: number;
}

/**
 * A real HTTP server on 127.0.0.1 that serves model files the way the Hugging Face hub does:
 * Range requests (206 + Content-Range), optional 302 to a CDN path with X-Linked-Etag, and
 * faults on demand (an error status, an HTML page, a connection cut midway).
 */
export class ModelServer {
  readonly files = new Map<string, ServedFile>();
  readonly requests: RequestRecord[] = [];
  private server: http.Server | undefined;
  private sockets = new Set<net.Socket>();
  base = "";

  async start(): Promise<string> {
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.server.on("connection", (s) => {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.base;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** Serves `file` at the hub-style path of `repo` (`/{repo}/resolve/main/{path}`). */
  serve(repo: string, filePath: string, file: ServedFile): string {
    const key = `/${repo}/resolve/main/${filePath}`;
    this.files.set(key, file);
    return key;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? "/", "http://x");
    const isCdn = url.pathname.startsWith("/cdn/");
    const key = isCdn ? url.pathname.slice("/cdn".length) : url.pathname;
    const served = this.files.get(decodeURIComponent(key)) ?? this.files.get(key);
    const record = (status: number): void => {
      const ifRange = req.headers["if-range"];
      this.requests.push({ path: url.pathname, ...(req.headers.range ? { range: req.headers.range } : {}), ...(typeof ifRange === "string" ? { ifRange } : {}), status });
    };
    if (!served) {
      record(404);
      res.writeHead(404, { "content-type": "text/plain" }).end("Entry not found");
      return;
    }
    const size = served.file ? fs.statSync(served.file).size : served.data!.length;
    const linked: Record<string, string> = served.linkedEtag ? { "x-linked-etag": `"${served.linkedEtag}"`, "x-linked-size": String(size) } : {};
    const fault = served.fault;
    if (fault?.kind === "status") {
      record(fault.status);
      res.writeHead(fault.status, { "content-type": "text/plain" }).end("Internal Server Error");
      return;
    }
    if (fault?.kind === "html") {
      record(200);
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end("<!doctype html><html><body>Please log in</body></html>");
      return;
    }
    if (served.redirect && !isCdn) {
      record(302);
      res.writeHead(302, { location: `/cdn${key}`, ...linked }).end();
      return;
    }
    let start = 0;
    let end = size - 1;
    let status = 200;
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? "");
    if (range && fault?.kind !== "no-range") {
      start = Number(range[1]);
      if (range[2]) end = Math.min(Number(range[2]), size - 1);
      if (start >= size) {
        record(416);
        res.writeHead(416, { "content-range": `bytes */${size}` }).end();
        return;
      }
      status = 206;
    }
    record(status);
    const etag = served.etag === undefined ? defaultEtag(served, size) : served.etag;
    const headers: Record<string, string> = {
      "content-type": "application/octet-stream",
      "content-length": String(end - start + 1),
      "accept-ranges": "bytes",
      ...(etag ? { etag } : {}),
      ...(served.lastModified ? { "last-modified": served.lastModified } : {}),
      ...(isCdn ? {} : linked),
    };
    if (status === 206) headers["content-range"] = `bytes ${start}-${end}/${size}`;
    res.writeHead(status, headers);
    const cut = fault?.kind === "cut" && (fault.times ?? 1) > 0 ? fault : undefined;
    if (cut) cut.times = (cut.times ?? 1) - 1;
    const stall = fault?.kind === "stall" ? fault : undefined;
    const stop = cut ?? stall;
    const limit = stop ? Math.min(end, start + stop.afterBytes - 1) : end;
    const stream = served.file ? createReadStream(served.file, { start, end: limit }) : bufferStream(served.data!.subarray(start, limit + 1));
    stream.on("end", () => {
      if (stall) res.write("", () => stall.onStall?.());
      if (cut) {
        // Flush what was written, then break the connection as a dropped network would.
        res.socket?.end();
      }
    });
    stream.pipe(res, { end: !stop });
  }
}

/** Like a CDN: a strong ETag from the content (in memory) or from size and modification time (on disk). This server ignores If-Range. */
function defaultEtag(served: ServedFile, size: number): string {
  if (served.data) return `"${createHash("sha256").update(served.data).digest("hex").slice(0, 32)}"`;
  return `"${size.toString(16)}-${Math.round(fs.statSync(served.file!).mtimeMs).toString(16)}"`;
}

function bufferStream(data: Buffer): Readable {
  const step = 64 * 1024;
  const chunks: Buffer[] = [];
  for (let i = 0; i < data.length; i += step) chunks.push(data.subarray(i, i + step));
  return Readable.from(chunks);
}

/** A 127.0.0.1 port with nothing listening: connections to it are refused. */
export async function refusedPort(): Promise<string> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}
