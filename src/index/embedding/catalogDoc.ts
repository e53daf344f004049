/** Renders docs/embedding-models.md from the catalogue (npm run docs:embedding; a test keeps them equal). */
import { CATALOG_FIELD_DESCRIPTIONS, EMBEDDING_CATALOG, type CatalogEntry } from "./catalog.js";

function cell(field: keyof CatalogEntry, value: unknown): string {
  // Prefixes are shown quoted: their trailing spaces matter.
  if (field.endsWith("Prefix") && value !== "") return `\`${JSON.stringify(value)}\``;
  const text = Array.isArray(value) ? value.join(", ") : String(value);
  return (text === "" ? "(none)" : text).replace(/\n/g, "\\n").replace(/\|/g, "\\|");
}

export function renderEmbeddingModelsDoc(): string {
  const fields = Object.keys(CATALOG_FIELD_DESCRIPTIONS) as Array<keyof CatalogEntry>;
  const lines = [
    "# Embedding models",
    "",
    "<!-- Generated from src/index/embedding/catalog.ts by `npm run docs:embedding`; edit the catalogue, not this file. -->",
    "",
    "The codebase index works with full-text search alone, with no model at all. An embedding model adds",
    "vector search, and the index then fuses both (hybrid search). Embedding runs in a worker thread with",
    "onnxruntime-node on the CPU, one thread by default.",
    "",
    "A model folder holds an ONNX export (`model.onnx`, or `model_quantized.onnx` for INT8, which is",
    "preferred when both are present; `onnx/` subfolders are searched too) and its `tokenizer.json`.",
    "Name a catalogue entry to get its pooling, prefixes and limits; otherwise they are read from the",
    "folder's sentence-transformers files (`1_Pooling/config.json`, `config_sentence_transformers.json`,",
    "`sentence_bert_config.json`), and without those the model gets mean pooling and no prefixes (a log",
    "line says so). Changing the model, its pooling or its prefixes re-embeds into a new table.",
    "",
    "## Catalogue",
    "",
    `| | ${EMBEDDING_CATALOG.map((e) => e.id).join(" | ")} |`,
    `|---|${EMBEDDING_CATALOG.map(() => "---").join("|")}|`,
  ];
  for (const field of fields.filter((f) => f !== "id")) {
    lines.push(`| ${field} | ${EMBEDDING_CATALOG.map((e) => cell(field, e[field])).join(" | ")} |`);
  }
  lines.push("", "## Fields", "");
  for (const field of fields) lines.push(`- \`${field}\`: ${CATALOG_FIELD_DESCRIPTIONS[field]}`);
  lines.push(
    "",
    "## Speed on a CPU",
    "",
    "`npm run bench:embedding` (add `--base` for the 12-layer size) measures generated models of these",
    "models' exact layer shapes, whose random weights run at a real model's speed. On one core of the",
    "2-core build machine, 40-line code chunks of about 240 tokens: an all-MiniLM-L6-v2-shaped model",
    "embeds about 3,700 tokens/s in FP32 and 8,500 in INT8 (15 and 35 chunks/s); a 12-layer × 768",
    "INT8 model (jina-embeddings-v2-base-code / CodeRankEmbed class) about 1,100 tokens/s (5 chunks/s).",
    "Batching several texts gained nothing at these sizes. Qwen3-Embedding-0.6B is several times slower",
    "again. A query is one short text: a few milliseconds for the small shapes.",
    "",
  );
  return lines.join("\n");
}
