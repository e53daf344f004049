import fs from "node:fs";
import { renderEmbeddingModelsDoc } from "../index/embedding/catalogDoc.js";

// Rewrites docs/embedding-models.md from the embedding catalogue (npm run docs:embedding).
const target = new URL("../../docs/embedding-models.md", import.meta.url);
fs.writeFileSync(target, renderEmbeddingModelsDoc());
process.stdout.write(`wrote ${target.pathname}\n`);
