import { Parser, type Node } from "web-tree-sitter";
import { loadGrammar } from "../../index/chunking/grammars.js";
import { detectLanguage, type GrammarId } from "../../index/languages.js";

/** LSP language ids the index's extension table does not name directly. */
const BY_LANGUAGE_ID: Record<string, GrammarId> = {
  typescript: "typescript",
  typescriptreact: "tsx",
  javascript: "javascript",
  javascriptreact: "javascript",
  python: "python",
  go: "go",
  rust: "rust",
  java: "java",
  c: "c",
  cpp: "cpp",
  csharp: "c_sharp",
  ruby: "ruby",
  php: "php",
  shellscript: "bash",
};

/** The grammar for a document: from its file name (the index's table), else its language id. */
export function grammarFor(languageId: string, filePath?: string): GrammarId | undefined {
  if (filePath) {
    const byPath = detectLanguage(filePath).grammar;
    if (byPath) return byPath;
  }
  return BY_LANGUAGE_ID[languageId];
}

const parsers = new Map<GrammarId, Parser>();

async function parserFor(grammar: GrammarId): Promise<Parser | undefined> {
  const language = await loadGrammar(grammar);
  if (!language) return undefined;
  let parser = parsers.get(grammar);
  if (!parser) {
    parser = new Parser();
    parser.setLanguage(language);
    parsers.set(grammar, parser);
  }
  return parser;
}

/** ERROR and MISSING nodes in a tree: what an edit must not increase. */
function countErrors(root: Node): number {
  if (!root.hasError) return 0;
  let count = 0;
  const cursor = root.walk();
  try {
    for (;;) {
      const node = cursor.currentNode;
      if (node.isError || node.isMissing) count++;
      // Subtrees without errors are skipped; an ERROR node's insides count once, as the node.
      if (!node.isError && node.hasError && cursor.gotoFirstChild()) continue;
      while (!cursor.gotoNextSibling()) {
        if (!cursor.gotoParent()) return count;
      }
    }
  } finally {
    cursor.delete();
  }
}

/** Syntax errors in `text`, or undefined when no grammar is available for it. */
export async function syntaxErrors(text: string, grammar: GrammarId | undefined): Promise<number | undefined> {
  if (!grammar) return undefined;
  const parser = await parserFor(grammar);
  if (!parser) return undefined;
  const tree = parser.parse(text);
  if (!tree) return undefined;
  try {
    return countErrors(tree.rootNode);
  } finally {
    tree.delete();
  }
}

/** Node types that make a good unit for an action at a bare cursor: definitions and their wrappers. */
const UNITS = /^(function_declaration|function_definition|function_item|method_definition|method_declaration|constructor_declaration|class_declaration|class_definition|interface_declaration|struct_item|impl_item|enum_declaration|type_declaration|lexical_declaration|decorated_definition|export_statement|func_literal|arrow_function|generator_function_declaration|abstract_class_declaration|trait_item|enum_item|mod_item)$/;
const FUNCTIONS = /^(function_declaration|function_definition|function_item|method_definition|method_declaration|constructor_declaration|generator_function_declaration|decorated_definition)$/;

/**
 * The lines of the smallest definition that contains lines `startLine`..`endLine` (a function
 * first, else any definition), widened to its wrapper (export, decorators), or undefined.
 */
export async function enclosingUnit(
  text: string,
  grammar: GrammarId | undefined,
  startLine: number,
  endLine: number,
  functionsOnly = false,
): Promise<{ startLine: number; endLine: number } | undefined> {
  if (!grammar) return undefined;
  const parser = await parserFor(grammar);
  if (!parser) return undefined;
  const tree = parser.parse(text);
  if (!tree) return undefined;
  try {
    const pattern = functionsOnly ? FUNCTIONS : UNITS;
    const lines = text.split("\n");
    const first = lines[startLine] ?? "";
    const startColumn = first.length - first.trimStart().length;
    const endColumn = (lines[endLine] ?? "").replace(/\s+$/, "").length;
    let node: Node | null = tree.rootNode.descendantForPosition({ row: startLine, column: startColumn }, { row: endLine, column: Math.max(0, endColumn - 1) });
    let best: Node | undefined;
    while (node) {
      if (pattern.test(node.type) && node.startPosition.row <= startLine && node.endPosition.row >= endLine) {
        best = node;
        break;
      }
      node = node.parent;
    }
    // A bare cursor on a line of its own (between definitions) looks at the definition that starts on it.
    if (!best) {
      for (const child of tree.rootNode.namedChildren) {
        if (child && child.startPosition.row <= startLine && child.endPosition.row >= endLine && UNITS.test(child.type)) best = child;
      }
    }
    if (!best) return undefined;
    let outer: Node = best;
    while (outer.parent && /^(export_statement|decorated_definition)$/.test(outer.parent.type)) outer = outer.parent;
    return { startLine: outer.startPosition.row, endLine: outer.endPosition.row };
  } finally {
    tree.delete();
  }
}
