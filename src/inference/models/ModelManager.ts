import fs from "node:fs/promises";
import path from "node:path";
import type { Logger } from "../../util/logger.js";
import { UnknownModelError, fileUrls, findEntry, type CatalogueEntry, type MirrorOptions } from "./catalogue.js";
import { downloadFile, type DownloadProgress, type DownloadResult } from "./download.js";
import { fileSize, hasGgufMagic, sha256File } from "./files.js";
import { confineToModels } from "./confine.js";
import { identityFile } from "./sourceIdentity.js";
import { ModelManagerError } from "./errors.js";
import { MATCH_DETAIL, type Integrity } from "./integrity.js";
import { CUSTOM_DIR, CUSTOM_PREFIX, listModels, type ModelListEntry } from "./listModels.js";
import { readManifest, updateManifest, type ManifestRecord } from "./manifest.js";

export type { Integrity } from "./integrity.js";
export type { ModelListEntry } from "./listModels.js";
export { ModelManagerError } from "./errors.js";

export interface ModelManagerOptions {
  /** The folder models live in: <cache>/models. */
  modelsDir: string;
  mirrors: MirrorOptions;
  /** Privacy mode: refuse every download. */
  localOnly: boolean;
  /** The model file the server is configured to use, so the listing can mark it. */
  configuredModelPath?: string;
  freeBytes?: (dir: string) => Promise<number>;
  logger?: Logger;
}




export interface PullProgress {
  id: string;
  file: string;
  fileIndex: number;
  fileCount: number;
  /** Bytes on disk across all files of the model. */
  receivedBytes: number;
  totalBytes: number;
  host: string;
}

export interface PullOptions {
  signal?: AbortSignal;
  onProgress?: (progress: PullProgress) => void;
  /** For a URL: the expected SHA-256 of the file. */
  sha256?: string;
  /** For a URL: the file name to store it under (default: the URL's last path segment). */
  name?: string;
}

export interface PullResult {
  id: string;
  path: string;
  files: Array<Pick<DownloadResult, "path" | "bytes" | "sha256" | "verifiedBy" | "url" | "resumedFromBytes" | "restarts" | "ms"> & { alreadyPresent: boolean }>;
}

/**
 * ok: matches the catalogue's pinned SHA-256. unchanged: matches the hash recorded when it was
 * downloaded (which proves only that it did not change since). unverified: there is no reference.
 */
export type VerifyStatus = "ok" | "unchanged" | "mismatch" | "missing" | "unverified" | "not-gguf";

/** What a file was compared with: see `Integrity`. */
export type VerifyReference = Integrity;

export interface VerifyResult {
  id: string;
  ok: boolean;
  files: Array<{ path: string; status: VerifyStatus; reference: VerifyReference; bytes?: number; sha256?: string; expected?: string; detail: string }>;
  ms: number;
}

export interface VerifyOptions {
  signal?: AbortSignal;
  /**
   * Where a file path may point. "models" (what editors get): only files in the model folder and
   * the configured model.path, symlinks resolved. "any" (the command line, the user's own shell).
   */
  paths?: "models" | "any";
}

export interface RemoveResult {
  id: string;
  removed: string[];
  freedBytes: number;
}



/**
 * Lists, downloads, removes and verifies models in <cache>/models. Catalogue models keep their
 * catalogue file names (the default completion model is where model.path's default points);
 * models pulled by URL go to <cache>/models/custom and get the id `custom/<file>`.
 */
export class ModelManager {
  private readonly inFlight = new Map<string, Promise<PullResult>>();

  constructor(private readonly options: ModelManagerOptions) {}

  get modelsDir(): string {
    return this.options.modelsDir;
  }

  /** The catalogue entry for an id, or an error listing the known ids. */
  resolve(id: string): CatalogueEntry {
    const entry = findEntry(id);
    if (!entry) throw new UnknownModelError(id);
    return entry;
  }

  async list(): Promise<ModelListEntry[]> {
    return listModels(this.modelsDir, this.options.configuredModelPath);
  }

  /** Downloads a catalogue model (by id) or a custom one (by https URL); files already present are kept. */
  async pull(idOrUrl: string, options: PullOptions = {}): Promise<PullResult> {
    if (this.options.localOnly) {
      throw new ModelManagerError(
        `Local-only mode is on: downloads are refused so that nothing leaves this machine. Copy the model file to ${this.modelsDir} yourself (or set model.path to it), or turn local-only mode off to download.`,
      );
    }
    const key = idOrUrl.trim();
    const pending = this.inFlight.get(key);
    if (pending) return pending;
    const task = (isUrl(key) ? this.pullUrl(key, options) : this.pullEntry(this.resolve(key), options)).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, task);
    return task;
  }

  async remove(idOrPath: string): Promise<RemoveResult> {
    const { id, localPaths } = await this.filesOf(idOrPath);
    const removed: string[] = [];
    let freedBytes = 0;
    for (const localPath of localPaths) {
      const abs = path.join(this.modelsDir, localPath);
      for (const candidate of [abs, `${abs}.part`, identityFile(`${abs}.part`)]) {
        const size = await fileSize(candidate);
        if (size === undefined) continue;
        await fs.rm(candidate, { force: true });
        removed.push(candidate);
        freedBytes += size;
      }
    }
    await updateManifest(this.modelsDir, (files) => {
      for (const localPath of localPaths) delete files[localPath];
    });
    // Catalogue models with several files live in their own folder; drop it once empty.
    for (const dir of new Set(localPaths.map((p) => path.dirname(p)).filter((d) => d !== "." && d !== CUSTOM_DIR))) {
      await fs.rmdir(path.join(this.modelsDir, dir)).catch(() => undefined);
    }
    return { id, removed, freedBytes };
  }

  /** Re-hashes the files of a model and says what each was compared with: the pinned or the recorded SHA-256, or nothing. */
  async verify(idOrPath: string, options: VerifyOptions = {}): Promise<VerifyResult> {
    const { signal } = options;
    const started = performance.now();
    const manifest = await readManifest(this.modelsDir);
    let id: string;
    let targets: Array<{ abs: string; expected?: string; reference: Integrity; gguf: boolean; quiet?: boolean }>;
    if (!findEntry(idOrPath) && !idOrPath.startsWith(CUSTOM_PREFIX) && (path.isAbsolute(idOrPath) || idOrPath.includes("/") || idOrPath.includes(path.sep) || /\.(gguf|onnx)$/i.test(idOrPath))) {
      // A model file given by path: check it is readable and a GGUF, and report its hash.
      const abs = path.resolve(idOrPath);
      const where = options.paths === "any" ? "any" : await confineToModels(abs, idOrPath, this.modelsDir, this.options.configuredModelPath);
      id = abs;
      // model.path can be set by the client too: outside the model folder, only a GGUF file's size and hash are told.
      targets = [{ abs, reference: "none", gguf: where === "configured" || /\.gguf$/i.test(abs), ...(where === "configured" ? { quiet: true } : {}) }];
    } else {
      const files = await this.filesOf(idOrPath);
      id = files.id;
      targets = [];
      for (const localPath of files.localPaths) {
        const abs = path.join(this.modelsDir, localPath);
        // A file in the model folder may be a symlink to anywhere; what it resolves to must stay inside.
        if (options.paths !== "any") await confineToModels(abs, localPath, this.modelsDir, this.options.configuredModelPath);
        const pinned = files.pinned.get(localPath);
        const record = manifest.files[localPath];
        const reference: Integrity = pinned ? "pinned" : record?.sha256 ? (record.verifiedBy === "none" ? "recorded" : "checked-at-download") : "none";
        targets.push({ abs, reference, gguf: localPath.toLowerCase().endsWith(".gguf"), ...(pinned ?? record?.sha256 ? { expected: pinned ?? record!.sha256 } : {}) });
      }
    }
    const results: VerifyResult["files"] = [];
    for (const target of targets) {
      signal?.throwIfAborted();
      const { reference } = target;
      const size = await fileSize(target.abs);
      if (size === undefined) {
        results.push({ path: target.abs, status: "missing", reference, detail: "not downloaded" });
        continue;
      }
      if (target.gguf && !(await hasGgufMagic(target.abs))) {
        results.push({ path: target.abs, status: "not-gguf", reference, ...(target.quiet ? {} : { bytes: size }), detail: "not a GGUF file (wrong magic bytes)" });
        continue;
      }
      const sha256 = await sha256File(target.abs, signal);
      if (!target.expected) {
        results.push({ path: target.abs, status: "unverified", reference, bytes: size, sha256, detail: "no reference hash: nothing was pinned or recorded for this file, so its integrity is unknown; this is its SHA-256" });
      } else if (sha256 === target.expected) {
        results.push({ path: target.abs, status: reference === "pinned" ? "ok" : "unchanged", reference, bytes: size, sha256, expected: target.expected, detail: MATCH_DETAIL[reference] });
      } else {
        results.push({
          path: target.abs,
          status: "mismatch",
          reference,
          bytes: size,
          sha256,
          expected: target.expected,
          detail: `SHA-256 differs from ${reference === "pinned" ? "the catalogue's pinned hash" : "the hash recorded when it was downloaded"}: the file is corrupt or was replaced; remove it (ifai-lsp models rm ${id}) and pull again`,
        });
      }
    }
    const ok = results.every((r) => r.status === "ok" || r.status === "unchanged" || r.status === "unverified");
    return { id, ok, files: results, ms: Math.round(performance.now() - started) };
  }

  private async pullEntry(entry: CatalogueEntry, options: PullOptions): Promise<PullResult> {
    const manifest = await readManifest(this.modelsDir);
    const files: PullResult["files"] = [];
    const remainingApprox = (index: number): number => entry.files.slice(index + 1).reduce((sum, f) => sum + f.approxBytes, 0);
    let doneBytes = 0;
    for (const [index, file] of entry.files.entries()) {
      const dest = path.join(this.modelsDir, file.localPath);
      const existing = await fileSize(dest);
      const record = manifest.files[file.localPath];
      // A file put there by hand counts as present when no hash is pinned, or when it has the pinned one.
      const present = existing !== undefined && (record !== undefined || file.sha256 === undefined || (await sha256File(dest, options.signal)) === file.sha256);
      if (present) {
        // Present and complete (files only reach their final name after verification).
        files.push({ path: dest, bytes: existing!, sha256: record?.sha256 ?? "", verifiedBy: record?.verifiedBy ?? "none", url: record?.url ?? "", resumedFromBytes: 0, restarts: [], ms: 0, alreadyPresent: true });
        doneBytes += existing!;
        continue;
      }
      const urls = fileUrls(entry, file, this.options.mirrors);
      const result = await this.download(
        { urls, dest, ...(file.sha256 ? { sha256: file.sha256 } : {}), expectedBytes: file.approxBytes },
        options,
        (p) =>
          options.onProgress?.({
            id: entry.id,
            file: file.localPath,
            fileIndex: index,
            fileCount: entry.files.length,
            receivedBytes: doneBytes + p.receivedBytes,
            totalBytes: doneBytes + (p.totalBytes ?? file.approxBytes) + remainingApprox(index),
            host: p.host,
          }),
      );
      await updateManifest(this.modelsDir, (all) => {
        all[file.localPath] = record_(entry.id, result);
      });
      files.push({ ...result, alreadyPresent: false });
      doneBytes += result.bytes;
    }
    return { id: entry.id, path: path.join(this.modelsDir, entry.files[0]!.localPath), files };
  }

  private async pullUrl(url: string, options: PullOptions): Promise<PullResult> {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new ModelManagerError(`"${url}" is not a valid URL. Give a catalogue id (ifai-lsp models list) or an http(s) URL of a .gguf or .onnx file.`);
    }
    if (parsed.protocol !== "https:" && parsed.protocol !== "http:") {
      throw new ModelManagerError(`Only http and https URLs can be pulled, not ${parsed.protocol}//… Give a catalogue id (ifai-lsp models list) or an https URL.`);
    }
    const name = options.name ?? decodeURIComponent(parsed.pathname.split("/").pop() ?? "");
    if (!/^[\w.+-]+$/.test(name) || name.startsWith(".")) {
      throw new ModelManagerError(`Cannot derive a safe file name from ${url}; pass one with --name (letters, digits, . _ + -).`);
    }
    if (options.sha256 !== undefined && !/^[0-9a-fA-F]{64}$/.test(options.sha256)) {
      throw new ModelManagerError(`"${options.sha256}" is not a SHA-256 (64 hexadecimal characters).`);
    }
    const localPath = `${CUSTOM_PREFIX}${name}`;
    const dest = path.join(this.modelsDir, CUSTOM_DIR, name);
    const id = localPath;
    const result = await this.download(
      { urls: [url], dest, ...(options.sha256 ? { sha256: options.sha256.toLowerCase() } : {}) },
      options,
      (p) =>
        options.onProgress?.({ id, file: localPath, fileIndex: 0, fileCount: 1, receivedBytes: p.receivedBytes, totalBytes: p.totalBytes ?? 0, host: p.host }),
    );
    await updateManifest(this.modelsDir, (all) => {
      all[localPath] = record_(id, result);
    });
    return { id, path: dest, files: [{ ...result, alreadyPresent: false }] };
  }

  private async download(
    request: Parameters<typeof downloadFile>[0],
    options: PullOptions,
    onProgress: (p: DownloadProgress) => void,
  ): Promise<DownloadResult> {
    const logger = this.options.logger;
    logger?.info({ dest: request.dest, urls: request.urls }, "downloading model file");
    try {
      const result = await downloadFile(request, {
        ...(options.signal ? { signal: options.signal } : {}),
        ...(this.options.freeBytes ? { freeBytes: this.options.freeBytes } : {}),
        onProgress,
        onMirrorFailure: (url, reason) => logger?.warn({ url, reason }, "model mirror failed; trying the next"),
      });
      for (const reason of result.restarts) logger?.warn({ dest: result.path, reason }, "partial download discarded");
      logger?.info({ dest: result.path, bytes: result.bytes, ms: result.ms, verifiedBy: result.verifiedBy, resumedFromBytes: result.resumedFromBytes }, "model file downloaded");
      return result;
    } catch (error) {
      logger?.warn({ err: error, dest: request.dest }, "model download failed");
      throw error;
    }
  }

  /** The files (relative to modelsDir) an id stands for, and their pinned hashes. */
  private async filesOf(idOrPath: string): Promise<{ id: string; localPaths: string[]; pinned: Map<string, string> }> {
    const key = idOrPath.trim();
    if (key.startsWith(CUSTOM_PREFIX)) {
      const name = key.slice(CUSTOM_PREFIX.length);
      if (!/^[\w.+-]+$/.test(name) || name.startsWith(".")) throw new ModelManagerError(`"${key}" is not a custom model id (custom/<file name>).`);
      if ((await fileSize(path.join(this.modelsDir, CUSTOM_DIR, name))) === undefined && (await fileSize(path.join(this.modelsDir, CUSTOM_DIR, `${name}.part`))) === undefined) {
        const customs = (await this.list()).filter((e) => e.source === "custom" && e.id.startsWith(CUSTOM_PREFIX)).map((e) => e.id);
        throw new ModelManagerError(`No custom model "${key}" in ${path.join(this.modelsDir, CUSTOM_DIR)}.${customs.length ? ` Custom models: ${customs.join(", ")}.` : ""}`);
      }
      return { id: key, localPaths: [key], pinned: new Map() };
    }
    if (path.isAbsolute(key)) {
      throw new ModelManagerError(`${key} is not managed by ifai-lsp (it is outside ${this.modelsDir}); delete it yourself if you no longer need it.`);
    }
    const entry = this.resolve(key);
    const pinned = new Map<string, string>();
    for (const f of entry.files) if (f.sha256) pinned.set(f.localPath, f.sha256);
    return { id: entry.id, localPaths: entry.files.map((f) => f.localPath), pinned };
  }
}

function record_(id: string, result: DownloadResult): ManifestRecord {
  return { id, sha256: result.sha256, bytes: result.bytes, url: result.url, verifiedBy: result.verifiedBy, downloadedAt: new Date().toISOString() };
}

function isUrl(text: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(text);
}

