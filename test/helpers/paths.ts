import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const binPath = path.join(projectRoot, "bin", "ifai-lsp.js");
/** The Node 24 that `npm install` puts in node_modules/.bin (the system Node may be too old). */
export const nodeBinary = process.execPath;
/** Real model files kept beside the checkout (absent in a user's clone). */
export const sharedModels = path.resolve(projectRoot, "../shared/models");
export const sharedVocab = path.join(sharedModels, "ggml-vocab-qwen2.5.gguf");
export const hasSharedVocab = fs.existsSync(sharedVocab);
/** Generated test models are cached here between runs (gitignored). */
export const testModelCache = path.join(projectRoot, ".cache", "test-models");
