/**
 * The identity of the file a download source serves, kept beside `<dest>.part` as
 * `<dest>.part.json`, so that an interrupted download resumes only from a source that serves the
 * very same bytes. Two mirrors, or one mirror before and after the file was replaced, can serve
 * different files under one name; appending the second to the first would splice them.
 *
 * Only validators that identify content are trusted: the hub's LFS SHA-256 (X-Linked-Etag), a
 * strong ETag, and Last-Modified from the same URL; the total length must agree whenever both
 * sides state it. When nothing comparable is known, the answer is "different": restarting costs
 * bandwidth, splicing costs a corrupt model.
 */
import fs from "node:fs/promises";

export interface SourceIdentity {
  /** The URL that was asked (before redirects). */
  url: string;
  /** The hub's LFS SHA-256 of the file (X-Linked-Etag), lower-case hex. */
  sha256?: string;
  /** A strong ETag of the final response, quotes included. Weak ones (W/) do not identify bytes. */
  etag?: string;
  lastModified?: string;
  /** The whole file's length as the source stated it. */
  totalBytes?: number;
}

/** The side file that holds the identity of the source a `.part` file came from. */
export function identityFile(part: string): string {
  return `${part}.json`;
}

/** What a response says about the file it serves. */
export function identityOf(url: string, response: Response, linkedSha256: string | undefined, totalBytes: number | undefined): SourceIdentity {
  const etag = response.headers.get("etag")?.trim();
  const lastModified = response.headers.get("last-modified")?.trim();
  return {
    url,
    ...(linkedSha256 ? { sha256: linkedSha256 } : {}),
    ...(etag && !etag.startsWith("W/") ? { etag } : {}),
    ...(lastModified ? { lastModified } : {}),
    ...(totalBytes !== undefined ? { totalBytes } : {}),
  };
}

/**
 * Why `now` may not serve the file `kept` came from, or undefined when it provably serves the
 * same one. Content hashes decide first, then strong ETags, then Last-Modified of the same URL.
 */
export function describeDifference(kept: SourceIdentity, now: SourceIdentity): string | undefined {
  if (kept.totalBytes !== undefined && now.totalBytes !== undefined && kept.totalBytes !== now.totalBytes) {
    return `its file is ${now.totalBytes} bytes long, the partial download's source had ${kept.totalBytes}`;
  }
  if (kept.sha256 && now.sha256) return kept.sha256 === now.sha256 ? undefined : `its file's SHA-256 ${now.sha256.slice(0, 12)}… differs from ${kept.sha256.slice(0, 12)}…`;
  if (kept.etag && now.etag) return kept.etag === now.etag ? undefined : `its ETag ${now.etag} differs from ${kept.etag}`;
  if (kept.lastModified && now.lastModified && kept.url === now.url) {
    return kept.lastModified === now.lastModified ? undefined : `its file was modified (${now.lastModified}, was ${kept.lastModified})`;
  }
  return "nothing shows that it serves the same file (no common hash, ETag or Last-Modified)";
}

export async function readIdentity(part: string): Promise<SourceIdentity | undefined> {
  try {
    const parsed = JSON.parse(await fs.readFile(identityFile(part), "utf8")) as Partial<SourceIdentity>;
    if (!parsed || typeof parsed !== "object" || typeof parsed.url !== "string") return undefined;
    return {
      url: parsed.url,
      ...(typeof parsed.sha256 === "string" ? { sha256: parsed.sha256 } : {}),
      ...(typeof parsed.etag === "string" ? { etag: parsed.etag } : {}),
      ...(typeof parsed.lastModified === "string" ? { lastModified: parsed.lastModified } : {}),
      ...(Number.isSafeInteger(parsed.totalBytes) ? { totalBytes: parsed.totalBytes! } : {}),
    };
  } catch {
    return undefined;
  }
}

/** Written before the first byte of a fresh `.part`, so a `.part` never exists without knowing its source. */
export async function writeIdentity(part: string, identity: SourceIdentity): Promise<void> {
  await fs.writeFile(identityFile(part), `${JSON.stringify(identity)}\n`);
}

/** Removes a partial download and its identity. */
export async function discardPartial(part: string): Promise<void> {
  await fs.rm(part, { force: true });
  await fs.rm(identityFile(part), { force: true });
}
