/** The listing of `models list`: the catalogue, custom models and the configured model file, with what is installed. */
import path from "node:path";
import { CATALOGUE, entryBytes, type ModelFormat, type ModelRole } from "./catalogue.js";
import { fileSize, hasGgufMagic, listFiles } from "./files.js";
import { integrityOf, type Integrity } from "./integrity.js";
import { readManifest, type ManifestRecord } from "./manifest.js";

/** Models pulled by URL live in <cache>/models/custom and have the id `custom/<file>`. */
export const CUSTOM_DIR = "custom";
export const CUSTOM_PREFIX = "custom/";

export interface ModelListEntry {
  id: string;
  name: string;
  source: "catalogue" | "custom";
  format: ModelFormat | "unknown";
  roles: readonly ModelRole[];
  licence?: string;
  parameters?: string;
  quantization?: string;
  description?: string;
  /** Catalogue estimate, or the file size for custom models. */
  approxBytes: number;
  installed: boolean;
  /** Bytes of interrupted downloads waiting to be resumed. */
  partialBytes: number;
  /** Bytes on disk of the complete files. */
  installedBytes: number;
  /** Absolute path of the main file (the GGUF, or the ONNX graph). */
  path: string;
  /** True when it is the file configured as model.path. */
  inUse: boolean;
  /** What the files' integrity rests on; see `Integrity`. */
  integrity: Integrity;
  /** The same in words, for listings. */
  integrityDetail: string;
}

export async function listModels(modelsDir: string, configuredModelPath: string | undefined): Promise<ModelListEntry[]> {
  const manifest = await readManifest(modelsDir);
  const configured = configuredModelPath ? path.resolve(configuredModelPath) : undefined;
  const out: ModelListEntry[] = [];
  for (const entry of CATALOGUE) {
    let installedBytes = 0;
    let partialBytes = 0;
    let installed = true;
    for (const file of entry.files) {
      const abs = path.join(modelsDir, file.localPath);
      const size = await fileSize(abs);
      if (size === undefined) installed = false;
      else installedBytes += size;
      partialBytes += (await fileSize(`${abs}.part`)) ?? 0;
    }
    const main = path.join(modelsDir, entry.files[0]!.localPath);
    out.push({
      id: entry.id,
      name: entry.name,
      source: "catalogue",
      format: entry.format,
      roles: entry.roles,
      licence: entry.licence,
      parameters: entry.parameters,
      quantization: entry.quantization,
      description: entry.description,
      approxBytes: entryBytes(entry),
      installed,
      partialBytes,
      installedBytes,
      path: main,
      inUse: configured === main,
      ...integrityOf(entry.files.map((f) => ({ pinned: f.sha256 !== undefined, record: manifest.files[f.localPath] })), installed, "catalogue"),
    });
  }
  for (const name of await listFiles(path.join(modelsDir, CUSTOM_DIR))) {
    if (name.endsWith(".part") || name.endsWith(".part.json")) continue;
    const abs = path.join(modelsDir, CUSTOM_DIR, name);
    const size = (await fileSize(abs)) ?? 0;
    const localPath = `${CUSTOM_PREFIX}${name}`;
    out.push(customEntry(localPath, abs, size, true, configured === abs, manifest.files[localPath]));
  }
  if (configured && !out.some((e) => e.path === configured)) {
    // The client may point model.path anywhere: the size of a file that is not a GGUF is not told.
    const size = await fileSize(configured);
    const gguf = size !== undefined && (await hasGgufMagic(configured).catch(() => false));
    out.push(customEntry(configured, configured, gguf ? size : 0, size !== undefined, true, undefined));
  }
  return out;
}

function customEntry(id: string, abs: string, size: number, installed: boolean, inUse: boolean, record: ManifestRecord | undefined): ModelListEntry {
  const lower = abs.toLowerCase();
  return {
    id,
    name: path.basename(abs),
    source: "custom",
    format: lower.endsWith(".gguf") ? "gguf" : lower.endsWith(".onnx") ? "onnx" : "unknown",
    roles: [],
    approxBytes: size,
    installed,
    partialBytes: 0,
    installedBytes: installed ? size : 0,
    path: abs,
    inUse,
    ...integrityOf([{ pinned: false, record }], installed, "custom"),
  };
}
