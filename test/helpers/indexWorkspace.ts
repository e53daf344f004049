import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import type { Embedder } from "../../src/index/embedding/types.js";
import { DEFAULT_INDEX_SETTINGS, IndexService, type IndexSettings } from "../../src/index/IndexService.js";
import type { Logger } from "../../src/util/logger.js";
import { silentLogger } from "../../src/util/logger.js";
import { projectRoot } from "./paths.js";

export const samplesDir = path.join(projectRoot, "test", "fixtures", "index", "samples");

/** A temporary workspace folder with the given files, and a cache folder beside it. */
export function makeWorkspace(files: Record<string, string | Buffer> = {}): { root: string; uri: string; cache: string; write: (rel: string, content: string | Buffer) => void; cleanup: () => void } {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), "ifai-index-"));
  const root = path.join(base, "ws");
  const cache = path.join(base, "cache");
  fs.mkdirSync(root);
  const write = (rel: string, content: string | Buffer): void => {
    const file = path.join(root, ...rel.split("/"));
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, content);
  };
  for (const [rel, content] of Object.entries(files)) write(rel, content);
  return {
    root,
    uri: pathToFileURL(root).href,
    cache,
    write,
    cleanup: () => {
      try {
        fs.chmodSync(root, 0o755);
      } catch {
        // gone already
      }
      fs.rmSync(base, { recursive: true, force: true });
    },
  };
}

/** Copies the per-language samples into a workspace. */
export function sampleFiles(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of fs.readdirSync(samplesDir)) out[`src/${f}`] = fs.readFileSync(path.join(samplesDir, f), "utf8");
  return out;
}

export interface ServiceHandle {
  service: IndexService;
  problems: string[];
}

/** An IndexService on one folder, started, first pass done. */
export async function startService(
  ws: { uri: string; cache: string },
  settings: Partial<IndexSettings> = {},
  extra: { workers?: number; createEmbedder?: (o: { modelDir: string; catalogId?: string; logger: Logger }) => Promise<Embedder>; logger?: Logger } = {},
): Promise<ServiceHandle> {
  const problems: string[] = [];
  const service = new IndexService({
    logger: extra.logger ?? silentLogger(),
    env: { IFAI_CACHE_DIR: ws.cache },
    workers: extra.workers ?? 1,
    onProblem: (m) => problems.push(m),
    ...(extra.createEmbedder ? { createEmbedder: extra.createEmbedder } : {}),
  });
  await service.configure({ ...DEFAULT_INDEX_SETTINGS, watch: false, ...settings });
  await service.setFolders([{ uri: ws.uri }]);
  await service.whenIdle();
  return { service, problems };
}

/**
 * Resolves when `check` passes, re-checking whenever the service reports a change (no fixed
 * sleeps); rejects with the last failure after `timeoutMs`.
 */
export async function waitForIndex<T>(service: IndexService, check: () => Promise<T | undefined | false>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let wake: (() => void) | undefined;
  const off = service.onChange(() => wake?.());
  try {
    for (;;) {
      const changed = new Promise<void>((resolve) => (wake = resolve));
      const value = await check();
      if (value) return value;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error("condition not reached in time");
      // Woken by the next index change, or re-checked at the deadline.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([changed, new Promise<void>((r) => (timer = setTimeout(r, left)))]);
      clearTimeout(timer);
    }
  } finally {
    off();
  }
}

/** Hash of every file under a folder, to show the index never touches the user's files. */
export function treeDigest(root: string): string {
  const hash = crypto.createHash("sha256");
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(dir, entry.name);
      if (entry.isSymbolicLink()) hash.update(`L${p}->${fs.readlinkSync(p)}`);
      else if (entry.isDirectory()) walk(p);
      else if (entry.isFile()) {
        const stat = fs.statSync(p);
        hash.update(`F${p}:${stat.size}:${stat.mtimeMs}`);
        if (stat.size < 10_000_000) hash.update(fs.readFileSync(p));
      }
    }
  };
  walk(root);
  return hash.digest("hex");
}

/** A deterministic embedder that counts what it embeds (for incremental-update tests). */
export class CountingEmbedder implements Embedder {
  readonly embedded: string[] = [];
  readonly queries: string[] = [];
  constructor(
    readonly modelId = "counting-v1",
    readonly dimensions = 8,
    private readonly outputDimensions = dimensions,
  ) {}

  async embed(texts: string[], kind: "query" | "document"): Promise<Float32Array[]> {
    if (kind === "document") this.embedded.push(...texts);
    else this.queries.push(...texts);
    return texts.map((t) => {
      const v = new Float32Array(this.outputDimensions);
      for (const word of t.toLowerCase().match(/[a-z]+/g) ?? []) {
        let h = 0;
        for (let i = 0; i < word.length; i++) h = (h * 31 + word.charCodeAt(i)) >>> 0;
        v[h % this.outputDimensions]! += 1;
      }
      const norm = Math.hypot(...v) || 1;
      return v.map((x) => x / norm);
    });
  }

  async dispose(): Promise<void> {}
}

/**
 * A mismatched embedding model at its worst: every query lands on the chunks that say "decoy"
 * (which full-text search for the query never finds), and every other chunk points elsewhere.
 */
export class ContraryEmbedder implements Embedder {
  readonly modelId = "contrary-v1";
  readonly dimensions = 4;

  async embed(texts: string[], kind: "query" | "document"): Promise<Float32Array[]> {
    return texts.map((t) => (kind === "query" || t.includes("decoy") ? Float32Array.of(1, 0, 0, 0) : Float32Array.of(0, 1, 0, 0)));
  }

  async dispose(): Promise<void> {}
}
