/**
 * <cache>/models/manifest.json: what was downloaded, from where, and its SHA-256 at the time.
 * `verify` compares against it for models whose catalogue entry pins no hash. Written through a
 * temporary file and a rename, so a crash never leaves it half-written.
 */
import fs from "node:fs/promises";
import path from "node:path";

export interface ManifestRecord {
  id: string;
  sha256: string;
  bytes: number;
  url: string;
  verifiedBy: "pinned" | "x-linked-etag" | "none";
  downloadedAt: string;
}

export interface Manifest {
  version: 1;
  /** Keyed by the file's path relative to <cache>/models. */
  files: Record<string, ManifestRecord>;
}

const FILE = "manifest.json";

export async function readManifest(modelsDir: string): Promise<Manifest> {
  try {
    const parsed = JSON.parse(await fs.readFile(path.join(modelsDir, FILE), "utf8")) as Partial<Manifest>;
    if (parsed && typeof parsed === "object" && parsed.files && typeof parsed.files === "object") return { version: 1, files: parsed.files };
  } catch {
    // Missing or unreadable: an empty manifest; verify then reports files as unverified.
  }
  return { version: 1, files: {} };
}

let queue: Promise<unknown> = Promise.resolve();

/** Read-modify-write, serialized within the process. */
export function updateManifest(modelsDir: string, change: (files: Record<string, ManifestRecord>) => void): Promise<void> {
  const run = queue.then(async () => {
    const manifest = await readManifest(modelsDir);
    change(manifest.files);
    await fs.mkdir(modelsDir, { recursive: true });
    const target = path.join(modelsDir, FILE);
    const temp = `${target}.${process.pid}.tmp`;
    await fs.writeFile(temp, `${JSON.stringify(manifest, null, 2)}\n`);
    await fs.rename(temp, target);
  });
  queue = run.catch(() => undefined);
  return run;
}
