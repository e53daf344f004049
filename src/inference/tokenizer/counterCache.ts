/**
 * The JavaScript token counter of a model file, kept on disk between processes. Building it
 * parses the GGUF's merges (151k strings for Qwen), and V8 keeps the pages that took: about 27 MB
 * of a language server's resident memory, in every editor window. The first window (or restart)
 * builds the counter's table and stores it; the others read the table, one 4 MB file, and never
 * create those strings. A table that does not validate is rebuilt.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { BpeTokenCounter } from "./BpeTokenCounter.js";
import { readGgufVocabulary } from "./ggufVocabulary.js";
import { MergeTable } from "./MergeTable.js";

/** The stored table's name: the model file's path, size and modification time, so a replaced file gets a new one. */
function tableFile(folder: string, modelPath: string, stat: fs.Stats): string {
  const key = crypto.createHash("sha256").update(`${path.resolve(modelPath)}\u0000${stat.size}\u0000${stat.mtimeMs}`).digest("hex").slice(0, 32);
  return path.join(folder, `merges-${key}.bin`);
}

/**
 * The counter for the model file, from `folder` when a table for this very file is stored there,
 * else built from the file (and stored, when the folder can be written; a failure to store costs
 * nothing but the next window's build). Undefined when the file's tokenizer is not one
 * BpeTokenCounter reproduces.
 */
export async function cachedTokenCounter(modelPath: string, folder: string): Promise<BpeTokenCounter | undefined> {
  const stat = await fs.promises.stat(modelPath);
  const file = tableFile(folder, modelPath, stat);
  const stored = await fs.promises.readFile(file).catch(() => undefined);
  const table = stored ? MergeTable.fromBytes(stored) : undefined;
  const counter = table ? BpeTokenCounter.fromTable(table) : undefined;
  if (counter) return counter;
  const built = BpeTokenCounter.forVocabulary(await readGgufVocabulary(modelPath));
  if (!built) return undefined;
  // Written aside and renamed: a window reading meanwhile sees the old file or the whole new one.
  const temporary = `${file}.${process.pid}.tmp`;
  try {
    await fs.promises.mkdir(folder, { recursive: true });
    await fs.promises.writeFile(temporary, built.table.toBytes());
    await fs.promises.rename(temporary, file);
  } catch {
    // A read-only cache folder: every window builds its own. Nothing half-written is left.
    await fs.promises.rm(temporary, { force: true }).catch(() => undefined);
  }
  return built;
}
