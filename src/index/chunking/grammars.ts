import { createRequire } from "node:module";
import path from "node:path";
import { Language, Parser } from "web-tree-sitter";
import type { GrammarId } from "../languages.js";

const require = createRequire(import.meta.url);

/**
 * Where each grammar's WASM file comes from: @vscode/tree-sitter-wasm (no install scripts; all of
 * its grammars load in web-tree-sitter 0.27) and tree-sitter-c for C, which that package lacks.
 */
export function grammarPath(id: GrammarId): string {
  if (id === "c") return path.join(path.dirname(require.resolve("tree-sitter-c/package.json")), "tree-sitter-c.wasm");
  const name = id === "c_sharp" ? "c-sharp" : id;
  return path.join(path.dirname(require.resolve("@vscode/tree-sitter-wasm/package.json")), "wasm", `tree-sitter-${name}.wasm`);
}

export const GRAMMARS: readonly GrammarId[] = [
  "bash",
  "c",
  "cpp",
  "c_sharp",
  "go",
  "java",
  "javascript",
  "php",
  "python",
  "ruby",
  "rust",
  "typescript",
  "tsx",
];

let initialized: Promise<void> | undefined;
const languages = new Map<GrammarId, Promise<Language | undefined>>();
const failures = new Map<GrammarId, string>();

/** Loads web-tree-sitter once per thread. */
export function initParser(): Promise<void> {
  initialized ??= Parser.init();
  return initialized;
}

/**
 * The grammar for `id`, loaded once per thread; undefined (and the reason in grammarFailure)
 * when it does not load, so the file falls back to line windows instead of failing.
 */
export function loadGrammar(id: GrammarId): Promise<Language | undefined> {
  let pending = languages.get(id);
  if (!pending) {
    pending = initParser()
      .then(() => Language.load(grammarPath(id)))
      .catch((error: unknown) => {
        failures.set(id, error instanceof Error ? error.message : String(error));
        return undefined;
      });
    languages.set(id, pending);
  }
  return pending;
}

export function grammarFailure(id: GrammarId): string | undefined {
  return failures.get(id);
}
