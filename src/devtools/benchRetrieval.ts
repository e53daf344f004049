/**
 * npm run bench:retrieval — code search quality on a CodeSearchNet-style set built from the
 * JavaScript/TypeScript sources of the installed npm packages: the first sentence of a function's
 * JSDoc comment is the query, the function with its doc comment removed is the target, and every
 * other collected function is a distractor. Reports MRR@10 and Recall@10 (and query p50/p95) for
 * full-text search and, in the same run, for hybrid search with two generated embedders: a
 * random one (its vectors mean nothing; hybrid must stay close to full text alone) and a hashed
 * bag of subwords (a weak real signal; hybrid should add). Each hybrid index is also searched by
 * its vectors alone, and with the fusion hybrid search had before (equal weights, rank constant
 * 60, k candidates per side, no guard).
 *
 *   --lexical-only              full-text search only
 *   --embedding-model-dir DIR   also run hybrid search with this ONNX model folder
 *   --embedding-model ID        its catalogue id
 *   --max-queries N             cap the number of queries (default 1500)
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Parser, type Node } from "web-tree-sitter";
import { looksGenerated, looksMinified } from "../index/chunking/chunkFile.js";
import { loadGrammar } from "../index/chunking/grammars.js";
import { DEFAULT_INDEX_SETTINGS, IndexService, type IndexSettings } from "../index/IndexService.js";
import type { SearchOptions } from "../index/types.js";
import { writeHashingEmbedder } from "./onnx/hashingEmbeddingModel.js";
import { writeTinyEmbedder } from "./onnx/tinyEmbeddingModel.js";
import { silentLogger } from "../util/logger.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const log = (s = ""): void => void process.stdout.write(`${s}\n`);
const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const maxQueries = Number(arg("--max-queries") ?? 1500);
const modelDir = arg("--embedding-model-dir") ?? process.env.IFAI_EMBEDDING_MODEL_DIR ?? "";
const modelId = arg("--embedding-model") ?? "";
const flag = (name: string): boolean => process.argv.includes(name);
/** The real all-MiniLM-L6-v2 WordPiece vocabulary beside a team checkout; else the built-in one. */
const MINILM_TOKENIZER = path.resolve(root, "../shared/models/all-MiniLM-L6-v2-tokenizer");

interface Pair {
  query: string;
  /** The function's source without its doc comment. */
  code: string;
  ext: string;
  origin: string;
}

const FUNCTION_LIKE = new Set(["function_declaration", "generator_function_declaration", "method_definition", "function_signature"]);

async function main(): Promise<void> {
  log(`ifai-lsp retrieval benchmark — ${os.cpus().length} cores, node ${process.version}`);
  const { pairs, distractors, files } = await collect();
  log(`functions from ${files} npm source files: ${pairs.length} with a usable JSDoc summary (queries), ${distractors.length} more as distractors`);
  const chosen = pairs.slice(0, maxQueries);

  const work = fs.mkdtempSync(path.join(os.tmpdir(), "ifai-bench-retrieval-"));
  try {
    const corpus = path.join(work, "corpus");
    const targets = new Map<string, string>();
    let n = 0;
    const write = (code: string, ext: string): string => {
      const rel = `fn/${String(Math.floor(n / 500)).padStart(3, "0")}/f${n}${ext}`;
      n++;
      const file = path.join(corpus, ...rel.split("/"));
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, `${code}\n`);
      return rel;
    };
    for (const p of chosen) targets.set(p.query, write(p.code, p.ext));
    for (const d of distractors) write(d.code, d.ext);
    log(`corpus: ${n} functions, one per file`);

    // Embedders of the same run: a random one (vectors without meaning: hybrid must not be much
    // worse than full text alone) and a hashed bag of subwords (a weak real signal: hybrid should add).
    const models: Array<[string, string, string]> = [];
    if (!flag("--lexical-only")) {
      const random = path.join(work, "model-random");
      await writeTinyEmbedder(random, { hidden: 64, seed: 7 });
      models.push(["random", random, ""]);
      const hashing = path.join(work, "model-hashing");
      const made = await writeHashingEmbedder(hashing, { dimensions: 256, ...(fs.existsSync(MINILM_TOKENIZER) ? { tokenizerDir: MINILM_TOKENIZER } : {}) });
      log(`hashing embedder: ${made.dimensions} dims over ${made.vocabSize} tokens (${made.tokenizer === MINILM_TOKENIZER ? "all-MiniLM-L6-v2's WordPiece vocabulary" : made.tokenizer})`);
      models.push(["hashing", hashing, ""]);
    }
    if (modelDir) models.push(["model", modelDir, modelId]);

    const results: Record<string, Score> = {};
    const lexicalService = await buildIndex(work, corpus, "lexical", {});
    if (lexicalService) {
      results["lexical"] = await evaluate(lexicalService, targets, {});
      report("lexical", results["lexical"], lexicalService);
      await lexicalService.dispose();
    }
    const cli = cliSearchTimes(corpus, path.join(work, "cache-lexical"), [...targets.keys()].slice(0, 12));
    log(`ifai-lsp search (a process per query, full text): p50/p95 ${cli.search.p50.toFixed(0)}/${cli.search.p95.toFixed(0)} ms; an empty node process ${cli.node.p50.toFixed(0)} ms`);
    for (const [name, dir, id] of models) {
      const service = await buildIndex(work, corpus, name, { embeddingModelDir: dir, embeddingModel: id });
      if (!service) continue;
      for (const [variant, fusion] of FUSION_VARIANTS) {
        const key = `${name}${variant}`;
        results[key] = await evaluate(service, targets, fusion);
        report(key, results[key], service);
      }
      await service.dispose();
    }
    const lexicalMrr = results["lexical"]?.mrr10 ?? 0;
    const ratios = Object.fromEntries(Object.entries(results).filter(([k]) => k !== "lexical").map(([k, v]) => [k, Number((lexicalMrr > 0 ? v.mrr10 / lexicalMrr : 0).toFixed(3))]));
    log(`MRR@10 relative to lexical: ${Object.entries(ratios).map(([k, v]) => `${k} ${v.toFixed(2)}×`).join(", ")}`);
    log(
      JSON.stringify({
        bench: "retrieval",
        queries: chosen.length,
        corpusFunctions: n,
        ...Object.fromEntries(Object.entries(results).map(([k, v]) => [k, { mrr10: Number(v.mrr10.toFixed(3)), recall10: Number(v.recall10.toFixed(3)), msPerQuery: Number(v.ms.toFixed(1)), p95Ms: Number(v.p95.toFixed(1)) }])),
        mrrVsLexical: ratios,
        cliSearchMs: { p50: Math.round(cli.search.p50), p95: Math.round(cli.search.p95), emptyNodeP50: Math.round(cli.node.p50) },
      }),
    );
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

interface Score {
  mrr10: number;
  recall10: number;
  queries: number;
  ms: number;
  p95: number;
}

/**
 * Fusion settings compared on each hybrid index: the configured defaults, the vector side alone,
 * the vector weight a user with a strong model would set, and what hybrid search did before (equal weights, k candidates per side, no agreement guard).
 */
const FUSION_VARIANTS: Array<[string, SearchOptions["fusion"]]> = [
  ["", {}],
  ["-vectorOnly", { lexical: 0, minVectorShare: 1 }],
  // What a user with a strong model is told to do: raise the vector weight (the guard stays on).
  ["-vector1", { vector: 1 }],
  ["-equalRrf", { lexical: 1, vector: 1, rankConstant: 60, candidates: 10, minVectorShare: 1 }],
];

export async function buildIndex(work: string, corpus: string, name: string, settings: Partial<IndexSettings>): Promise<IndexService | undefined> {
  const service = new IndexService({ logger: silentLogger(), env: { IFAI_CACHE_DIR: path.join(work, `cache-${name}`) }, workers: 1 });
  const started = performance.now();
  await service.configure({ ...DEFAULT_INDEX_SETTINGS, watch: false, ...settings });
  await service.setFolders([{ uri: pathToFileURL(corpus).href }]);
  await service.whenIdle();
  for (const f of service.folderIndexes()) await f.compact();
  const status = service.status();
  if (settings.embeddingModelDir && status.mode !== "hybrid") {
    log(`${name}: the embedding model could not be used (${status.message ?? "?"}); skipped`);
    await service.dispose();
    return undefined;
  }
  log(`${name}: ${status.folders[0]?.chunks ?? 0} chunks indexed in ${((performance.now() - started) / 1000).toFixed(1)} s${status.model ? ` (model ${status.model})` : ""}`);
  return service;
}

export async function evaluate(service: IndexService, targets: Map<string, string>, fusion: SearchOptions["fusion"]): Promise<Score> {
  let reciprocal = 0;
  let found = 0;
  const times: number[] = [];
  for (const [query, target] of targets) {
    const t0 = performance.now();
    const hits = await service.search(query, { k: 10, ...(fusion ? { fusion } : {}) });
    times.push(performance.now() - t0);
    const rank = hits.findIndex((h) => h.path === target);
    if (rank >= 0) {
      reciprocal += 1 / (rank + 1);
      found++;
    }
  }
  times.sort((a, b) => a - b);
  const q = targets.size;
  return { mrr10: reciprocal / q, recall10: found / q, queries: q, ms: times[Math.floor(q / 2)] ?? 0, p95: times[Math.min(q - 1, Math.floor(q * 0.95))] ?? 0 };
}

function report(name: string, s: Score, service: IndexService): void {
  log(`${name.padEnd(18)} MRR@10 ${s.mrr10.toFixed(3)}  Recall@10 ${s.recall10.toFixed(3)}  (${s.queries} queries, p50/p95 ${s.ms.toFixed(1)}/${s.p95.toFixed(1)} ms, ${service.mode})`);
}

/**
 * `ifai-lsp search --json` as a user runs it, one process per query on the warm machine (the
 * first run, which warms the file cache, is not counted), next to an empty node process as the
 * floor. Every answer must parse as the JSON array of hits.
 */
function cliSearchTimes(corpus: string, cacheDir: string, queries: readonly string[]): { search: { p50: number; p95: number }; node: { p50: number; p95: number } } {
  const bin = path.join(root, "bin", "ifai-lsp.js");
  const env = { ...process.env, IFAI_CACHE_DIR: cacheDir };
  const time = (args: readonly string[], check?: (stdout: string) => void): number => {
    const t0 = performance.now();
    const run = spawnSync(process.execPath, args, { env, encoding: "utf8" });
    const ms = performance.now() - t0;
    if (run.status !== 0) throw new Error(`${args.join(" ")} exited ${run.status}: ${run.stderr}`);
    check?.(run.stdout);
    return ms;
  };
  const stats = (times: number[]): { p50: number; p95: number } => {
    const sorted = [...times].sort((a, b) => a - b);
    return { p50: sorted[Math.floor(sorted.length / 2)] ?? 0, p95: sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.95))] ?? 0 };
  };
  const isHits = (stdout: string): void => {
    if (!Array.isArray(JSON.parse(stdout))) throw new Error(`ifai-lsp search --json printed ${stdout.slice(0, 200)}`);
  };
  time([bin, "search", "--dir", corpus, "--json", queries[0] ?? "x"], isHits);
  const search = queries.map((q) => time([bin, "search", "--dir", corpus, "--json", q], isHits));
  const node = queries.map(() => time(["-e", ""]));
  return { search: stats(search), node: stats(node) };
}

/** Walks node_modules for .js/.ts sources and pairs JSDoc summaries with the functions they document. */
export async function collect(): Promise<{ pairs: Pair[]; distractors: Pair[]; files: number }> {
  const sources: string[] = [];
  const walk = (dir: string, rel: string): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name));
    } catch {
      return;
    }
    for (const entry of entries) {
      if (entry.isSymbolicLink()) continue;
      const childRel = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        if (entry.name === ".bin" || childRel.startsWith("node-llama-cpp/bins") || childRel === "typescript/lib") continue;
        walk(path.join(dir, entry.name), childRel);
      } else if (entry.isFile() && /\.(js|mjs|cjs|ts|mts)$/.test(entry.name) && !/\.d\.[mc]?ts$/.test(entry.name) && !/\.min\./.test(entry.name)) {
        sources.push(path.join(dir, entry.name));
      }
    }
  };
  walk(path.join(root, "node_modules"), "");

  const parsers = new Map<string, Parser>();
  for (const id of ["javascript", "typescript"] as const) {
    const lang = await loadGrammar(id);
    const parser = new Parser();
    parser.setLanguage(lang!);
    parsers.set(id, parser);
  }
  const bySummary = new Map<string, Pair[]>();
  const distractors: Pair[] = [];
  const seenCode = new Set<string>();
  let files = 0;
  for (const file of sources) {
    const stat = fs.statSync(file);
    if (stat.size > 500_000 || stat.size < 200) continue;
    const text = fs.readFileSync(file, "utf8");
    if (looksMinified(text) || looksGenerated(text)) continue;
    files++;
    const ts = /\.m?ts$/.test(file);
    const tree = parsers.get(ts ? "typescript" : "javascript")!.parse(text);
    if (!tree) continue;
    const origin = path.relative(path.join(root, "node_modules"), file);
    const visit = (node: Node, depth: number): void => {
      if (depth > 6) return;
      const children = node.namedChildren.filter((c): c is Node => c !== null);
      for (let i = 0; i < children.length; i++) {
        const child = children[i]!;
        const fn = functionOf(child);
        if (fn) {
          const code = child.text;
          if (code.length >= 80 && code.length <= 4000 && !seenCode.has(code)) {
            seenCode.add(code);
            const previous = children[i - 1];
            const summary = previous && previous.type === "comment" && previous.text.startsWith("/**") && child.startPosition.row - previous.endPosition.row <= 1 ? jsdocSummary(previous.text) : undefined;
            const pair = { query: summary ?? "", code, ext: ts ? ".ts" : ".js", origin };
            if (summary) {
              const list = bySummary.get(summary.toLowerCase()) ?? [];
              list.push(pair);
              bySummary.set(summary.toLowerCase(), list);
            } else if (distractors.length < 20_000) {
              distractors.push(pair);
            }
          }
        }
        if (child.type === "class_declaration" || child.type === "class" || child.type === "class_body" || child.type === "export_statement" || child.type === "program" || child.type === "statement_block" || child.type === "expression_statement" || child.type === "internal_module") visit(child, depth + 1);
        else if (child.type === "lexical_declaration" || child.type === "variable_declaration") visit(child, depth + 1);
      }
    };
    visit(tree.rootNode, 0);
    tree.delete();
  }
  // A summary shared by several functions is ambiguous: none of them is the answer.
  const pairs = [...bySummary.values()].filter((list) => list.length === 1).map((list) => list[0]!);
  // Spread over packages: a stable shuffle.
  pairs.sort((a, b) => hash(a.query) - hash(b.query));
  return { pairs, distractors: distractors.slice(0, 4000), files };
}

/** The function a node is or wraps (export, `const f = () => …`, `x.y = function …`). */
function functionOf(node: Node): Node | undefined {
  if (FUNCTION_LIKE.has(node.type)) return node;
  if (node.type === "export_statement") {
    const inner = node.childForFieldName("declaration");
    return inner ? functionOf(inner) : undefined;
  }
  if (node.type === "lexical_declaration" || node.type === "variable_declaration") {
    const declarators = node.namedChildren.filter((c) => c?.type === "variable_declarator");
    if (declarators.length !== 1) return undefined;
    const value = declarators[0]!.childForFieldName("value");
    return value && (value.type === "arrow_function" || value.type === "function_expression" || value.type === "function") ? node : undefined;
  }
  if (node.type === "expression_statement") {
    const assignment = node.namedChild(0);
    const right = assignment?.type === "assignment_expression" ? assignment.childForFieldName("right") : undefined;
    return right && (right.type === "function_expression" || right.type === "arrow_function" || right.type === "function") ? node : undefined;
  }
  return undefined;
}

/** The first sentence of a JSDoc comment, without tags and markup; undefined when it is too short to be a query. */
export function jsdocSummary(comment: string): string | undefined {
  const body = comment
    .replace(/^\/\*\*|\*\/$/g, "")
    .split("\n")
    .map((l) => l.replace(/^\s*\*\s?/, ""))
    .join("\n");
  const beforeTags = body.split(/\n\s*@|^\s*@/)[0] ?? "";
  const text = beforeTags
    .replace(/\{@\w+\s+([^}|]+)(?:\|[^}]*)?\}/g, "$1")
    .replace(/<[^>]+>/g, " ")
    .replace(/[`*_#]/g, "")
    .replace(/\s+/g, " ")
    .trim();
  const sentence = (text.split(/(?<=[.!?])\s|\n\n/)[0] ?? "").replace(/[.!?]$/, "").trim();
  const words = sentence.split(" ").filter((w) => /[A-Za-z]/.test(w));
  if (words.length < 3 || words.length > 40) return undefined;
  if (/^(TODO|FIXME|eslint|@|istanbul|prettier|tslint)/i.test(sentence)) return undefined;
  return sentence;
}

function hash(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main().catch((error: unknown) => {
    process.stderr.write(`bench:retrieval failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  });
}
