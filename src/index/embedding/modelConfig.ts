/**
 * Reads an embedding model folder: which ONNX file and tokenizer to load, and how to pool and
 * prefix. A catalogue entry decides when one is named or recognised; otherwise the folder's own
 * sentence-transformers files (1_Pooling/config.json, config_sentence_transformers.json,
 * sentence_bert_config.json) and config.json do; with none of those, mean pooling and no prefixes.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { EMBEDDING_CATALOG, findCatalogEntry, guessCatalogEntry, type CatalogEntry, type Pooling } from "./catalog.js";

/** A problem with the model folder or the model itself, worded for the user. */
export class EmbeddingModelError extends Error {
  override readonly name = "EmbeddingModelError";
}

export interface ResolvedEmbeddingModel {
  folder: string;
  modelPath: string;
  tokenizerPath: string;
  /** tokenizer_config.json, when the folder has one. */
  tokenizerConfigPath: string | undefined;
  /** Short name: the catalogue id, else the folder's name. */
  name: string;
  catalogEntry: CatalogEntry | undefined;
  pooling: Pooling;
  queryPrefix: string;
  documentPrefix: string;
  maxTokens: number;
  /** What the catalogue promises; a different real output size is an error. */
  expectedDimensions: number | undefined;
  /** config.json's hidden_size; a different real output size is only logged (a Dense layer may follow). */
  configHiddenSize: number | undefined;
  /** Where the pooling/prefix settings came from, for the log. */
  source: "catalogue" | "folder config" | "defaults";
  /** Lines worth logging about how the folder was read. */
  notes: string[];
}

const FALLBACK_MODEL_FILES = ["model_quantized.onnx", "model.onnx", "onnx/model_quantized.onnx", "onnx/model.onnx"];
const DEFAULT_MAX_TOKENS = 512;

function readJson(file: string): Record<string, unknown> | undefined {
  if (!existsSync(file)) return undefined;
  try {
    const value: unknown = JSON.parse(readFileSync(file, "utf8"));
    return value !== null && typeof value === "object" ? (value as Record<string, unknown>) : undefined;
  } catch (error) {
    throw new EmbeddingModelError(`${file} is not valid JSON: ${(error as Error).message}`);
  }
}

function positiveInt(value: unknown): number | undefined {
  return typeof value === "number" && Number.isInteger(value) && value > 0 ? value : undefined;
}

export function resolveEmbeddingModel(modelDir: string, catalogId?: string): ResolvedEmbeddingModel {
  const given = path.resolve(modelDir);
  if (!existsSync(given)) throw new EmbeddingModelError(`embedding model folder ${given} does not exist`);
  // A path to the .onnx file itself is accepted too: its folder is the model folder.
  const givenIsFile = statSync(given).isFile();
  const folder = givenIsFile ? path.dirname(given) : given;

  let entry: CatalogEntry | undefined;
  if (catalogId) {
    entry = findCatalogEntry(catalogId);
    if (entry === undefined) {
      throw new EmbeddingModelError(
        `unknown embedding model "${catalogId}"; the catalogue has ${EMBEDDING_CATALOG.map((e) => e.id).join(", ")} (or leave it empty to read the folder's config)`,
      );
    }
  }
  const notes: string[] = [];
  const config = readJson(path.join(folder, "config.json"));
  if (entry === undefined) {
    const nameOrPath = typeof config?.["_name_or_path"] === "string" ? (config["_name_or_path"] as string) : "";
    entry = guessCatalogEntry(path.basename(folder)) ?? (nameOrPath ? guessCatalogEntry(nameOrPath) : undefined);
    if (entry !== undefined) notes.push(`recognised the model folder as catalogue entry ${entry.id}`);
  }

  const tokenizerPath = path.join(folder, entry?.tokenizerFile ?? "tokenizer.json");
  if (!existsSync(tokenizerPath)) {
    throw new EmbeddingModelError(`embedding model folder ${folder} has no ${path.relative(folder, tokenizerPath)} (the Hugging Face tokenizer file that belongs with the model)`);
  }
  const candidates = givenIsFile ? [path.basename(given)] : [...(entry?.modelFiles ?? FALLBACK_MODEL_FILES)];
  const modelFile = candidates.find((file) => existsSync(path.join(folder, file)) && statSync(path.join(folder, file)).isFile());
  if (modelFile === undefined) {
    throw new EmbeddingModelError(`embedding model folder ${folder} has no ONNX model (looked for ${candidates.join(", ")})`);
  }
  const tokenizerConfigPath = path.join(folder, "tokenizer_config.json");
  const tokenizerConfig = readJson(tokenizerConfigPath);

  // Limits the folder itself states: the sentence-transformers max_seq_length is what the model
  // was trained and evaluated with, so it wins over the tokenizer's and the position table's.
  const stMaxLength = positiveInt(readJson(path.join(folder, "sentence_bert_config.json"))?.["max_seq_length"]);
  const modelMaxLength = positiveInt(tokenizerConfig?.["model_max_length"]);
  const positions = positiveInt(config?.["max_position_embeddings"]);
  const folderMaxTokens = stMaxLength ?? Math.min(modelMaxLength ?? Infinity, positions ?? Infinity);
  const configDimensions = positiveInt(config?.["hidden_size"]);

  const base = {
    folder,
    modelPath: path.join(folder, modelFile),
    tokenizerPath,
    tokenizerConfigPath: tokenizerConfig === undefined ? undefined : tokenizerConfigPath,
    configHiddenSize: configDimensions,
    notes,
  };
  if (entry !== undefined) {
    return {
      ...base,
      name: entry.id,
      catalogEntry: entry,
      pooling: entry.pooling,
      queryPrefix: entry.queryPrefix,
      documentPrefix: entry.documentPrefix,
      maxTokens: Math.min(entry.maxTokens, Number.isFinite(folderMaxTokens) ? folderMaxTokens : Infinity),
      expectedDimensions: entry.dimensions,
      source: "catalogue",
    };
  }

  let source: ResolvedEmbeddingModel["source"] = "defaults";
  let pooling: Pooling = "mean";
  const poolingConfig = readJson(path.join(folder, "1_Pooling", "config.json"));
  if (poolingConfig !== undefined) {
    source = "folder config";
    if (poolingConfig["pooling_mode_cls_token"] === true) pooling = "cls";
    else if (poolingConfig["pooling_mode_lasttoken"] === true) pooling = "last";
    else if (poolingConfig["pooling_mode_mean_tokens"] === true) pooling = "mean";
    else notes.push(`1_Pooling/config.json asks for a pooling mode ifai-lsp does not support; using mean pooling`);
  }
  let queryPrefix = "";
  let documentPrefix = "";
  const prompts = readJson(path.join(folder, "config_sentence_transformers.json"))?.["prompts"];
  if (prompts !== null && typeof prompts === "object") {
    source = "folder config";
    const p = prompts as Record<string, unknown>;
    queryPrefix = typeof p["query"] === "string" ? p["query"] : "";
    documentPrefix = typeof p["document"] === "string" ? p["document"] : typeof p["passage"] === "string" ? p["passage"] : "";
  }
  if (source === "defaults") {
    notes.push(
      `model folder ${folder} matches no catalogue entry and has no sentence-transformers config: using mean pooling and no query/document prefixes (set the catalogue id if the model needs others)`,
    );
  }
  return {
    ...base,
    name: path.basename(folder),
    catalogEntry: undefined,
    pooling,
    queryPrefix,
    documentPrefix,
    maxTokens: Number.isFinite(folderMaxTokens) ? folderMaxTokens : DEFAULT_MAX_TOKENS,
    expectedDimensions: undefined,
    source,
  };
}
