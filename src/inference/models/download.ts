/**
 * Downloads one file with resume, mirror fail-over and SHA-256 verification, on Node's built-in
 * fetch. The bytes go to `<dest>.part`, appended to with an HTTP Range request after an
 * interruption; the hash is computed while writing (the kept prefix is hashed first), and only a
 * complete, verified file is renamed into place, so `dest` is either absent or whole.
 *
 * A resume never splices two different files: the identity of the source the `.part` bytes came
 * from (its hub hash, strong ETag, length, Last-Modified; `sourceIdentity.ts`) is kept beside it,
 * and a source that cannot be shown to serve the same file gets the download from byte zero.
 *
 * Why not node-llama-cpp's createModelDownloader (ipull): it takes a single URL (no mirror list),
 * checks no hash, trusts an existing file whose size matches, keeps partial data in its own
 * `.ipull` format with metadata appended, and accepts a 200 HTML error page as the model. Each of
 * those is a requirement here, so wrapping it would leave little of it in use.
 */
import { createHash, type Hash } from "node:crypto";
import { createReadStream } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { diskFull, DownloadError, mb, prepareFolder, statfsFreeBytes, writeFailure } from "./downloadErrors.js";
import { describeDifference, discardPartial, identityOf, readIdentity, writeIdentity } from "./sourceIdentity.js";

export { DownloadError, statfsFreeBytes, type DownloadErrorCode } from "./downloadErrors.js";
import { assertEgress } from "../../privacy/egress.js";

export interface DownloadProgress {
  /** Bytes of the file on disk so far, including a resumed prefix. */
  receivedBytes: number;
  /** The file's full size once a server has told it. */
  totalBytes?: number;
  /** The host currently serving. */
  host: string;
}

export interface DownloadRequest {
  /** Candidate URLs, tried in order; a failing one hands over to the next, resuming where it stopped. */
  urls: readonly string[];
  /** The final path. */
  dest: string;
  /** A pinned hash; when absent the hub's X-Linked-Etag (an LFS SHA-256) is used if a server sends one. */
  sha256?: string;
  /** Expected size for the free-disk pre-check before any connection (the catalogue's estimate). */
  expectedBytes?: number;
}

export interface DownloadOptions {
  signal?: AbortSignal;
  onProgress?: (progress: DownloadProgress) => void;
  /** Free bytes in a folder; injectable so tests can simulate a full disk. */
  freeBytes?: (dir: string) => Promise<number>;
  /** Receives one line per mirror that failed (for logs). */
  onMirrorFailure?: (url: string, reason: string) => void;
  /** A mirror that sends nothing (no headers, no bytes) for this long is abandoned for the next; default 30 s. */
  idleTimeoutMs?: number;
}

export interface DownloadResult {
  path: string;
  bytes: number;
  sha256: string;
  /** Where the reference hash came from: the catalogue, the hub's header, or none (hash only recorded). */
  verifiedBy: "pinned" | "x-linked-etag" | "none";
  url: string;
  /** Bytes from an earlier, interrupted run that are part of the final file (0 when it started over). */
  resumedFromBytes: number;
  /** Partial data thrown away because a source served a different (or unidentifiable) file; one reason each. */
  restarts: string[];
  ms: number;
}

/** Raised inside one mirror attempt: decides whether the next mirror is tried. */
class MirrorFailure extends Error {
  constructor(
    message: string,
    readonly restartFromZero = false,
  ) {
    super(message);
  }
}

const MAX_REDIRECTS = 10;
const PROGRESS_INTERVAL_MS = 200;

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

async function sizeOf(file: string): Promise<number> {
  try {
    return (await fs.stat(file)).size;
  } catch {
    return 0;
  }
}

async function hashPrefix(file: string, bytes: number): Promise<Hash> {
  const hash = createHash("sha256");
  if (bytes > 0) {
    for await (const chunk of createReadStream(file, { start: 0, end: bytes - 1 })) hash.update(chunk as Buffer);
  }
  return hash;
}

/** The hub sends the LFS object's SHA-256 as X-Linked-Etag (quoted, sometimes weak) on its resolve response. */
export function parseLinkedEtag(value: string | null): string | undefined {
  if (!value) return undefined;
  const bare = value.trim().replace(/^W\//, "").replace(/^"|"$/g, "").toLowerCase();
  return /^[0-9a-f]{64}$/.test(bare) ? bare : undefined;
}

interface Opened {
  response: Response;
  linkedSha256?: string;
  linkedSize?: number;
  finalUrl: string;
}

/**
 * Performs the HTTP request (the only place that does), following redirects by hand so that
 * headers of the first hop (the hub's X-Linked-Etag) are seen. A resume sends If-Range with the
 * kept validator, so a server that knows the file changed answers with the whole new file.
 */
async function open(url: string, offset: number, signal: AbortSignal, userSignal: AbortSignal | undefined, ifRange?: string): Promise<Opened> {
  let current = url;
  let linkedSha256: string | undefined;
  let linkedSize: number | undefined;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const headers: Record<string, string> = { "user-agent": "ifai-lsp model manager", "accept-encoding": "identity" };
    if (offset > 0) headers.range = `bytes=${offset}-`;
    if (offset > 0 && ifRange) headers["if-range"] = ifRange;
    assertEgress(current, "model download");
    let response: Response;
    try {
      response = await fetch(current, { headers, redirect: "manual", signal });
    } catch (error) {
      if (userSignal?.aborted || error instanceof MirrorFailure) throw error;
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new MirrorFailure(`cannot connect (${cause?.code ?? cause?.message ?? (error as Error).message})`);
    }
    linkedSha256 ??= parseLinkedEtag(response.headers.get("x-linked-etag"));
    const size = Number(response.headers.get("x-linked-size"));
    if (linkedSize === undefined && Number.isSafeInteger(size) && size > 0) linkedSize = size;
    if (response.status >= 300 && response.status < 400 && response.headers.has("location")) {
      await response.body?.cancel();
      current = new URL(response.headers.get("location")!, current).toString();
      continue;
    }
    return { response, linkedSha256, linkedSize, finalUrl: current };
  }
  throw new MirrorFailure(`more than ${MAX_REDIRECTS} redirects`);
}

/** State shared by the attempts of one download. */
interface Run {
  /** Bytes of the .part file from before this call that are still in it. */
  keptFromEarlier: number;
  restarts: string[];
}

/** Downloads `request.dest` from the first URL that serves it whole and with the right hash. */
export async function downloadFile(request: DownloadRequest, options: DownloadOptions = {}): Promise<DownloadResult> {
  const started = performance.now();
  const { signal } = options;
  const dir = path.dirname(request.dest);
  const part = `${request.dest}.part`;
  const freeBytes = options.freeBytes ?? statfsFreeBytes;
  if (request.urls.length === 0) {
    throw new DownloadError("no-urls", `No download source for ${path.basename(request.dest)}: configure models.mirrors or allow the public mirrors (models.publicMirrors).`);
  }
  await prepareFolder(dir);

  const run: Run = { keptFromEarlier: await sizeOf(part), restarts: [] };
  if (run.keptFromEarlier > 0 && !(await readIdentity(part))) {
    // A partial file whose source is unknown (written by an older version, or its side file lost)
    // cannot be shown to belong to any source: it is not resumed.
    await discardPartial(part);
    run.restarts.push(`${mb(run.keptFromEarlier)} of partial data of unknown origin discarded`);
    run.keptFromEarlier = 0;
  }
  if (request.expectedBytes !== undefined) {
    const needed = request.expectedBytes - run.keptFromEarlier;
    const free = await freeBytes(dir);
    if (needed > free) throw diskFull(dir, needed, free);
  }

  const failures: string[] = [];
  for (const url of request.urls) {
    if (signal?.aborted) break;
    try {
      const result = await attempt(url, request, part, dir, freeBytes, options, run);
      return { ...result, resumedFromBytes: run.keptFromEarlier, restarts: run.restarts, ms: Math.round(performance.now() - started) };
    } catch (error) {
      if (error instanceof DownloadError && error.code !== "hash-mismatch") throw error;
      if (signal?.aborted) break;
      const reason = error instanceof Error ? error.message : String(error);
      failures.push(`${hostOf(url)}: ${reason}`);
      options.onMirrorFailure?.(url, reason);
    }
  }
  if (signal?.aborted) {
    throw new DownloadError("cancelled", `Download of ${path.basename(request.dest)} cancelled; ${mb(await sizeOf(part))} kept in ${part}, and the next pull resumes from there.`);
  }
  const kept = await sizeOf(part);
  // An empty partial file (no source answered with bytes) leaves nothing behind.
  if (kept === 0) await discardPartial(part);
  const resume = kept > 0 ? ` ${mb(kept)} are kept in ${part}; pulling again resumes from there if the source still serves the same file.` : "";
  const mismatch = failures.some((f) => f.includes("SHA-256 mismatch"));
  throw new DownloadError(
    mismatch && failures.length === 1 ? "hash-mismatch" : "all-mirrors-failed",
    `Could not download ${path.basename(request.dest)} from any source — ${failures.join("; ")}.${resume} Check the network or proxy, or set models.mirrors to a reachable mirror.`,
  );
}

async function attempt(
  url: string,
  request: DownloadRequest,
  part: string,
  dir: string,
  freeBytes: (dir: string) => Promise<number>,
  options: DownloadOptions,
  run: Run,
): Promise<Omit<DownloadResult, "resumedFromBytes" | "restarts" | "ms">> {
  const { signal } = options;
  // One timer covers the whole attempt: it is reset by every answer and every chunk, so only a
  // mirror that goes silent is abandoned, however slow it is.
  const idleMs = options.idleTimeoutMs ?? 30_000;
  const idle = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const touch = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => idle.abort(new MirrorFailure(`sent nothing for ${Math.round(idleMs / 100) / 10} s`)), idleMs);
  };
  const attemptSignal = signal ? AbortSignal.any([signal, idle.signal]) : idle.signal;
  touch();
  try {
    return await transfer(url, request, part, dir, freeBytes, options, attemptSignal, touch, run);
  } finally {
    clearTimeout(timer);
  }
}

/** The whole file's length from a 206's Content-Range, a 200's Content-Length, or the hub's X-Linked-Size. */
function totalOf(response: Response, linkedSize: number | undefined): number | undefined {
  if (response.status === 206) {
    const match = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(response.headers.get("content-range") ?? "");
    if (match && match[3] !== "*") return Number(match[3]);
  } else if (response.headers.has("content-length")) {
    const length = Number(response.headers.get("content-length"));
    if (Number.isSafeInteger(length) && length >= 0) return length;
  }
  return linkedSize;
}

async function transfer(
  url: string,
  request: DownloadRequest,
  part: string,
  dir: string,
  freeBytes: (dir: string) => Promise<number>,
  options: DownloadOptions,
  attemptSignal: AbortSignal,
  touch: () => void,
  run: Run,
): Promise<Omit<DownloadResult, "resumedFromBytes" | "restarts" | "ms">> {
  const { signal } = options;
  let offset = await sizeOf(part);
  const kept = offset > 0 ? await readIdentity(part) : undefined;
  if (offset > 0 && !kept) {
    await discardPartial(part);
    offset = 0;
  }
  const startOver = async (reason: string): Promise<void> => {
    await discardPartial(part);
    run.restarts.push(`${hostOf(url)}: ${reason}; the ${mb(offset)} kept were discarded and the download started over`);
    run.keptFromEarlier = 0;
    offset = 0;
  };
  // If-Range only to the URL the bytes came from: another mirror's validators differ even for the
  // same file, and the comparison below (hashes first) decides there.
  const opened = await open(url, offset, attemptSignal, signal, kept?.url === url ? (kept.etag ?? kept.lastModified) : undefined);
  touch();
  const { response } = opened;

  if (response.status === 416 && offset > 0) {
    // The kept prefix is as long as the file or longer (a different file): start over from this mirror.
    await response.body?.cancel();
    await startOver("the partial file is longer than the file it serves");
    return transfer(url, request, part, dir, freeBytes, options, attemptSignal, touch, run);
  }
  if (response.status !== 200 && response.status !== 206) {
    await response.body?.cancel();
    throw new MirrorFailure(`HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ""}`);
  }
  const contentType = response.headers.get("content-type") ?? "";
  if (/text\/html/i.test(contentType)) {
    await response.body?.cancel();
    throw new MirrorFailure("answered with an HTML page instead of the file (a login, error or captcha page)");
  }

  const identity = identityOf(url, response, opened.linkedSha256, totalOf(response, opened.linkedSize));
  if (response.status === 206) {
    const match = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(response.headers.get("content-range") ?? "");
    const difference = offset === 0 ? undefined : kept ? describeDifference(kept, identity) : "the partial file's source is unknown";
    if (!match || Number(match[1]) !== offset) {
      await response.body?.cancel();
      await discardPartial(part);
      throw new MirrorFailure("answered the range request with a different range; the partial file was discarded");
    }
    if (difference !== undefined) {
      // Appending this source's bytes to another file's prefix would splice two files: start over here.
      await response.body?.cancel();
      await startOver(difference);
      return transfer(url, request, part, dir, freeBytes, options, attemptSignal, touch, run);
    }
  } else if (offset > 0) {
    // A 200 answer is the whole file: the server ignored Range (or If-Range found the file changed).
    run.restarts.push(`${hostOf(url)}: answered with the whole file; the ${mb(offset)} kept were replaced`);
    run.keptFromEarlier = 0;
    offset = 0;
  }
  const start = response.status === 206 ? offset : 0;
  const total = identity.totalBytes;

  const expected = request.sha256?.toLowerCase() ?? opened.linkedSha256;
  const verifiedBy: DownloadResult["verifiedBy"] = request.sha256 ? "pinned" : opened.linkedSha256 ? "x-linked-etag" : "none";
  if (request.sha256 && opened.linkedSha256 && opened.linkedSha256 !== request.sha256.toLowerCase()) {
    await response.body?.cancel();
    throw new MirrorFailure(`serves a different file (its hub hash ${opened.linkedSha256.slice(0, 12)}… is not the pinned ${request.sha256.slice(0, 12)}…)`);
  }
  if (total !== undefined) {
    const free = await freeBytes(dir);
    if (total - start > free) {
      await response.body?.cancel();
      throw diskFull(dir, total - start, free);
    }
  }
  if (!response.body) throw new MirrorFailure("sent no body");

  const hash = await hashPrefix(part, start);
  if (start === 0) await writeIdentity(part, identity);
  const handle = await fs.open(part, start > 0 ? "a" : "w");
  let received = start;
  let lastReport = 0;
  const host = hostOf(url);
  const report = (force: boolean): void => {
    const now = performance.now();
    if (!force && now - lastReport < PROGRESS_INTERVAL_MS) return;
    lastReport = now;
    options.onProgress?.({ receivedBytes: received, ...(total !== undefined ? { totalBytes: total } : {}), host });
  };
  report(true);
  try {
    const reader = response.body.getReader();
    for (;;) {
      let chunk: Awaited<ReturnType<typeof reader.read>>;
      try {
        chunk = await reader.read();
      } catch (error) {
        if (signal?.aborted || error instanceof MirrorFailure) throw error;
        throw new MirrorFailure(`the connection broke after ${mb(received)} (${(error as Error).message})`);
      }
      if (chunk.done) break;
      touch();
      try {
        await handle.write(chunk.value);
      } catch (error) {
        throw await writeFailure(error, dir, part);
      }
      hash.update(chunk.value);
      received += chunk.value.byteLength;
      report(false);
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
  report(true);

  if (total !== undefined && received !== total) {
    throw new MirrorFailure(`the transfer ended early at ${mb(received)} of ${mb(total)}`);
  }
  const actual = hash.digest("hex");
  if (expected !== undefined && actual !== expected) {
    await discardPartial(part);
    throw new MirrorFailure(`SHA-256 mismatch (expected ${expected}, got ${actual}); the corrupt file was deleted`);
  }
  try {
    await fs.rename(part, request.dest);
  } catch (error) {
    throw await writeFailure(error, dir, part);
  }
  await discardPartial(part);
  return { path: request.dest, bytes: received, sha256: actual, verifiedBy, url };
}
