/**
 * The embedding models ifai-lsp knows how to run, as data. A model folder (an ONNX file plus its
 * tokenizer.json) is matched to an entry by id; folders that match none are read from their own
 * config files instead (see modelConfig.ts). Figures are from the models' own cards and published
 * benchmark tables, as recorded in the team's NOTES.md; none of the weights can be downloaded on
 * the build machines, so sizes are those of the published files.
 */

export type Pooling = "mean" | "cls" | "last";

export interface CatalogEntry {
  id: string;
  huggingFaceRepo: string;
  dimensions: number;
  pooling: Pooling;
  queryPrefix: string;
  documentPrefix: string;
  maxTokens: number;
  parameters: string;
  sizeInt8MB: string;
  licence: string;
  modelFiles: readonly string[];
  tokenizerFile: string;
  codeRetrieval: string;
  notes: string;
}

/** What each field of a catalogue entry means (for docs, `--help` output and reviewers). */
export const CATALOG_FIELD_DESCRIPTIONS: Record<keyof CatalogEntry, string> = {
  id: "Name used in settings (the catalogId) and in the index's model id.",
  huggingFaceRepo: "Where the model card and the weights are published.",
  dimensions: "Length of the output vector; checked against the model's real output at load time.",
  pooling: "How token states become one vector: mean over unpadded tokens, the first ([CLS]) token, or the last unpadded token.",
  queryPrefix: "Text put before search queries (kind \"query\"), exactly as the model was trained with it; empty for none.",
  documentPrefix: "Text put before indexed code chunks (kind \"document\"); empty for none.",
  maxTokens: "Longest input the model accepts, in tokens including special tokens; longer inputs are truncated.",
  parameters: "Model size in parameters.",
  sizeInt8MB: "Download size of the INT8 (quantised) ONNX file, in MB.",
  licence: "Licence of the weights.",
  modelFiles: "ONNX files looked for, relative to the model folder, in order of preference.",
  tokenizerFile: "The Hugging Face tokenizer file, relative to the model folder.",
  codeRetrieval: "Published code-retrieval quality (CodeSearchNet MRR, CoIR, MTEB-Code), for comparison only.",
  notes: "Anything else a user choosing a model should know.",
};

const DEFAULT_MODEL_FILES = ["model_quantized.onnx", "model.onnx", "onnx/model_quantized.onnx", "onnx/model.onnx"] as const;

export const EMBEDDING_CATALOG: readonly CatalogEntry[] = [
  {
    id: "jina-embeddings-v2-base-code",
    huggingFaceRepo: "jinaai/jina-embeddings-v2-base-code",
    dimensions: 768,
    pooling: "mean",
    queryPrefix: "",
    documentPrefix: "",
    maxTokens: 8192,
    parameters: "161M",
    sizeInt8MB: "162",
    licence: "Apache-2.0",
    modelFiles: DEFAULT_MODEL_FILES,
    tokenizerFile: "tokenizer.json",
    codeRetrieval: "CodeSearchNet MRR 67.2, CoIR 58.4",
    notes:
      "Official onnx/model_quantized.onnx. ALiBi positions allow 8k tokens, but attention cost grows with the square of the length: chunks of about 512 tokens keep CPU indexing practical.",
  },
  {
    id: "CodeRankEmbed",
    huggingFaceRepo: "nomic-ai/CodeRankEmbed",
    dimensions: 768,
    pooling: "cls",
    queryPrefix: "Represent this query for searching relevant code: ",
    documentPrefix: "",
    maxTokens: 8192,
    parameters: "137M",
    sizeInt8MB: "132-138 (community INT8 exports)",
    licence: "MIT",
    modelFiles: DEFAULT_MODEL_FILES,
    tokenizerFile: "tokenizer.json",
    codeRetrieval: "CodeSearchNet 77.9, CoIR 60.1",
    notes: "The best code retrieval of the small models. Queries need the prefix; code chunks get none. No official ONNX export: use a community one.",
  },
  {
    id: "all-MiniLM-L6-v2",
    huggingFaceRepo: "sentence-transformers/all-MiniLM-L6-v2",
    dimensions: 384,
    pooling: "mean",
    queryPrefix: "",
    documentPrefix: "",
    maxTokens: 256,
    parameters: "22.7M",
    sizeInt8MB: "23",
    licence: "Apache-2.0",
    modelFiles: DEFAULT_MODEL_FILES,
    tokenizerFile: "tokenizer.json",
    codeRetrieval: "general English text model; weak on code",
    notes:
      "The model the original design uses and wants to replace. Fast and small; trained on 128-token inputs and truncates at 256 word pieces.",
  },
  {
    id: "Qwen3-Embedding-0.6B",
    huggingFaceRepo: "Qwen/Qwen3-Embedding-0.6B",
    dimensions: 1024,
    pooling: "last",
    queryPrefix: "Instruct: Given a code search query, retrieve relevant code snippets that answer the query\nQuery: ",
    documentPrefix: "",
    maxTokens: 32768,
    parameters: "0.6B",
    sizeInt8MB: "600-1100 (depending on the export)",
    licence: "Apache-2.0",
    modelFiles: DEFAULT_MODEL_FILES,
    tokenizerFile: "tokenizer.json",
    codeRetrieval: "MTEB-Code 75.4",
    notes:
      "The large option: best quality, several times slower than the others on a CPU. Last-token pooling reads the final token's state, which must be the <|endoftext|> the tokenizer appends: check that the tokenizer.json of an export does. Queries take an instruction (any task description works), documents none. Exports that also expect position_ids are fed 0..n-1; exports that expect past key/values are refused with a clear message.",
  },
];

export function findCatalogEntry(id: string): CatalogEntry | undefined {
  const wanted = id.toLowerCase();
  return EMBEDDING_CATALOG.find((e) => e.id.toLowerCase() === wanted || e.huggingFaceRepo.toLowerCase() === wanted);
}

/** Matches a folder name or a config's `_name_or_path` against the catalogue ("Xenova/all-MiniLM-L6-v2" → all-MiniLM-L6-v2). */
export function guessCatalogEntry(name: string): CatalogEntry | undefined {
  const last = name.replace(/\\/g, "/").split("/").filter(Boolean).pop()?.toLowerCase();
  if (last === undefined) return undefined;
  return EMBEDDING_CATALOG.find((e) => e.id.toLowerCase() === last);
}
