import crypto from "node:crypto";
import { Parser } from "web-tree-sitter";
import { hasSecretContent } from "../../privacy/ignoreRules.js";
import { detectLanguage, type GrammarId } from "../languages.js";
import { lineTokenSums } from "../tokens.js";
import type { HashedChunk } from "../types.js";
import { chunkTree } from "./codeChunker.js";
import { DEFAULT_LIMITS, pathWords, type ChunkLimits } from "./common.js";
import { loadGrammar } from "./grammars.js";
import { chunkLines } from "./textChunker.js";

export type SkipReason = "binary" | "invalid-utf8" | "minified" | "generated" | "secret" | "empty";

export type FileOutcome =
  | { status: "indexed"; hash: string; language: string; parser: "tree-sitter" | "lines"; chunks: HashedChunk[] }
  | { status: "skipped"; hash: string; reason: SkipReason };

export interface ChunkOptions {
  limits?: ChunkLimits;
  /** A parse taking longer than this falls back to line windows (pathological input). */
  parseDeadlineMs?: number;
  /** Called often while parsing and between pieces of work; may block (the worker pauses here while completions run). */
  checkpoint?: () => void;
  /** Files above this size are chunked by lines without parsing (parsing cost grows with size). */
  maxParseBytes?: number;
}

const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

export function contentHash(data: string | Uint8Array): string {
  return crypto.hash("sha1", data, "hex");
}

/** Decodes, classifies and chunks one file's bytes. Never throws for bad content: it skips. */
export async function chunkFileBytes(rel: string, bytes: Uint8Array, options: ChunkOptions = {}): Promise<FileOutcome> {
  const hash = contentHash(bytes);
  if (bytes.length === 0) return { status: "skipped", hash, reason: "empty" };
  if (bytes.subarray(0, 8192).includes(0)) return { status: "skipped", hash, reason: "binary" };
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    return { status: "skipped", hash, reason: "invalid-utf8" };
  }
  return chunkFileText(rel, text, { ...options, hash });
}

/** Chunks text that is already decoded (an open editor buffer). */
export async function chunkFileText(rel: string, text: string, options: ChunkOptions & { hash?: string } = {}): Promise<FileOutcome> {
  const hash = options.hash ?? contentHash(text);
  if (text.trim() === "") return { status: "skipped", hash, reason: "empty" };
  if (text.includes("\0")) return { status: "skipped", hash, reason: "binary" };
  if (hasSecretContent(text)) return { status: "skipped", hash, reason: "secret" };
  if (looksMinified(text)) return { status: "skipped", hash, reason: "minified" };
  if (looksGenerated(text)) return { status: "skipped", hash, reason: "generated" };

  const normalized = text.includes("\r") ? text.replace(/\r\n?/g, "\n") : text;
  const lines = normalized.split("\n");
  const firstLine = lines[0] ?? "";
  const language = detectLanguage(rel, firstLine);
  const limits = options.limits ?? DEFAULT_LIMITS;
  const sums = lineTokenSums(lines);
  const words = pathWords(rel);
  let chunks = undefined;
  let parser: "tree-sitter" | "lines" = "lines";
  if (language.grammar && normalized.length <= (options.maxParseBytes ?? 2_000_000)) {
    chunks = await parseAndChunk(language.grammar, normalized, language.id, lines, sums, limits, words, options);
    if (chunks) parser = "tree-sitter";
  }
  chunks ??= chunkLines(lines, sums, language.id, limits, words);
  const hashed = chunks.map((c) => ({ ...c, hash: contentHash(c.text) }));
  return { status: "indexed", hash, language: language.id, parser, chunks: hashed };
}

const parsers = new Map<GrammarId, Parser>();

async function parseAndChunk(
  grammar: GrammarId,
  text: string,
  language: string,
  lines: string[],
  sums: Int32Array,
  limits: ChunkLimits,
  words: string[],
  options: ChunkOptions,
): Promise<ReturnType<typeof chunkTree> | undefined> {
  const lang = await loadGrammar(grammar);
  if (!lang) return undefined;
  let parser = parsers.get(grammar);
  if (!parser) {
    parser = new Parser();
    parser.setLanguage(lang);
    parsers.set(grammar, parser);
  }
  const deadline = performance.now() + (options.parseDeadlineMs ?? 5000);
  const checkpoint = options.checkpoint;
  let paused = 0;
  const tree = parser.parse(text, null, {
    progressCallback: () => {
      if (checkpoint) {
        const before = performance.now();
        checkpoint();
        paused += performance.now() - before;
      }
      return (performance.now() - paused > deadline) as unknown as void;
    },
  });
  if (!tree) {
    // A cancelled parse would otherwise be resumed by the next call.
    parser.reset();
    return undefined;
  }
  try {
    return chunkTree({ root: tree.rootNode, grammar, language, lines, sums, limits, pathWords: words });
  } finally {
    tree.delete();
  }
}

/** Minified or packed code: long lines on average, or one huge line. */
export function looksMinified(text: string): boolean {
  if (text.length < 4096) return false;
  let newlines = 0;
  let longest = 0;
  let last = -1;
  for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) {
    newlines++;
    longest = Math.max(longest, i - last);
    last = i;
  }
  longest = Math.max(longest, text.length - last);
  return text.length / (newlines + 1) > 300 || (longest > 20_000 && longest > text.length / 4);
}

const GENERATED = /@generated\b|\bDO NOT EDIT\b|\b(?:auto-?generated|automatically generated) (?:file|code|by)\b/i;
const COMMENT_LINE = /^\s*(?:\/\/|#|\/\*|\*|<!--|--|;|%|'|REM\b)/i;

/** A generated-file marker in a comment of the first lines ("Code generated … DO NOT EDIT", "@generated"). */
export function looksGenerated(text: string): boolean {
  const head = text.slice(0, 1000).split("\n", 12);
  return head.some((line) => COMMENT_LINE.test(line) && GENERATED.test(line));
}
