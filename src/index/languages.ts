import path from "node:path";

/** The tree-sitter grammars the index loads (WASM files from npm; see chunking/grammars.ts). */
export type GrammarId =
  | "bash"
  | "c"
  | "cpp"
  | "c_sharp"
  | "go"
  | "java"
  | "javascript"
  | "php"
  | "python"
  | "ruby"
  | "rust"
  | "typescript"
  | "tsx";

export interface LanguageInfo {
  /** Language id as editors name it (LSP languageId where one exists). */
  id: string;
  /** Grammar for code chunking; none: line windows. */
  grammar?: GrammarId;
}

const CODE: Record<string, LanguageInfo> = {
  ".ts": { id: "typescript", grammar: "typescript" },
  ".mts": { id: "typescript", grammar: "typescript" },
  ".cts": { id: "typescript", grammar: "typescript" },
  ".tsx": { id: "typescriptreact", grammar: "tsx" },
  ".js": { id: "javascript", grammar: "javascript" },
  ".mjs": { id: "javascript", grammar: "javascript" },
  ".cjs": { id: "javascript", grammar: "javascript" },
  ".jsx": { id: "javascriptreact", grammar: "javascript" },
  ".py": { id: "python", grammar: "python" },
  ".pyi": { id: "python", grammar: "python" },
  ".pyw": { id: "python", grammar: "python" },
  ".go": { id: "go", grammar: "go" },
  ".rs": { id: "rust", grammar: "rust" },
  ".java": { id: "java", grammar: "java" },
  ".c": { id: "c", grammar: "c" },
  // Headers are C or C++; the C++ grammar reads both.
  ".h": { id: "c", grammar: "cpp" },
  ".cpp": { id: "cpp", grammar: "cpp" },
  ".cc": { id: "cpp", grammar: "cpp" },
  ".cxx": { id: "cpp", grammar: "cpp" },
  ".c++": { id: "cpp", grammar: "cpp" },
  ".hpp": { id: "cpp", grammar: "cpp" },
  ".hh": { id: "cpp", grammar: "cpp" },
  ".hxx": { id: "cpp", grammar: "cpp" },
  ".h++": { id: "cpp", grammar: "cpp" },
  ".ipp": { id: "cpp", grammar: "cpp" },
  ".tpp": { id: "cpp", grammar: "cpp" },
  ".inl": { id: "cpp", grammar: "cpp" },
  ".cu": { id: "cuda-cpp", grammar: "cpp" },
  ".cuh": { id: "cuda-cpp", grammar: "cpp" },
  ".cs": { id: "csharp", grammar: "c_sharp" },
  ".rb": { id: "ruby", grammar: "ruby" },
  ".rake": { id: "ruby", grammar: "ruby" },
  ".gemspec": { id: "ruby", grammar: "ruby" },
  ".php": { id: "php", grammar: "php" },
  ".sh": { id: "shellscript", grammar: "bash" },
  ".bash": { id: "shellscript", grammar: "bash" },
  ".zsh": { id: "shellscript", grammar: "bash" },
};

const BY_NAME: Record<string, LanguageInfo> = {
  Rakefile: { id: "ruby", grammar: "ruby" },
  Gemfile: { id: "ruby", grammar: "ruby" },
  Vagrantfile: { id: "ruby", grammar: "ruby" },
  ".bashrc": { id: "shellscript", grammar: "bash" },
  ".profile": { id: "shellscript", grammar: "bash" },
  Makefile: { id: "makefile" },
  makefile: { id: "makefile" },
  GNUmakefile: { id: "makefile" },
  Dockerfile: { id: "dockerfile" },
  "CMakeLists.txt": { id: "cmake" },
};

/** Text formats indexed by line windows, with the language id they are reported under. */
const TEXT: Record<string, string> = {
  ".md": "markdown",
  ".mdx": "markdown",
  ".markdown": "markdown",
  ".rst": "restructuredtext",
  ".txt": "plaintext",
  ".adoc": "asciidoc",
  ".json": "json",
  ".jsonc": "jsonc",
  ".json5": "json5",
  ".yaml": "yaml",
  ".yml": "yaml",
  ".toml": "toml",
  ".ini": "ini",
  ".cfg": "ini",
  ".xml": "xml",
  ".html": "html",
  ".htm": "html",
  ".css": "css",
  ".scss": "scss",
  ".sass": "sass",
  ".less": "less",
  ".vue": "vue",
  ".svelte": "svelte",
  ".astro": "astro",
  ".sql": "sql",
  ".graphql": "graphql",
  ".gql": "graphql",
  ".proto": "proto",
  ".kt": "kotlin",
  ".kts": "kotlin",
  ".swift": "swift",
  ".scala": "scala",
  ".lua": "lua",
  ".pl": "perl",
  ".pm": "perl",
  ".r": "r",
  ".jl": "julia",
  ".dart": "dart",
  ".ex": "elixir",
  ".exs": "elixir",
  ".erl": "erlang",
  ".hs": "haskell",
  ".ml": "ocaml",
  ".clj": "clojure",
  ".zig": "zig",
  ".nim": "nim",
  ".m": "objective-c",
  ".mm": "objective-cpp",
  ".fs": "fsharp",
  ".vb": "vb",
  ".ps1": "powershell",
  ".bat": "bat",
  ".cmd": "bat",
  ".cmake": "cmake",
  ".gradle": "groovy",
  ".groovy": "groovy",
  ".tf": "terraform",
  ".hcl": "hcl",
  ".nix": "nix",
  ".cl": "opencl",
  ".comp": "glsl",
  ".glsl": "glsl",
  ".wgsl": "wgsl",
  ".metal": "metal",
  ".jinja": "jinja",
  ".j2": "jinja",
  ".tex": "latex",
  ".csv": "csv",
  ".tsv": "tsv",
};

/**
 * The language of a file from its name, then from a shebang line. Files with an unknown
 * extension are still indexed as "text" when their content is text.
 */
export function detectLanguage(filePath: string, firstLine?: string): LanguageInfo {
  const base = path.basename(filePath);
  const byName = BY_NAME[base];
  if (byName) return byName;
  const lower = base.toLowerCase();
  // ".d.ts" and friends are TypeScript; ".c++" has a "+" extension path.extname handles.
  const ext = path.extname(lower);
  const code = CODE[ext];
  if (code) return code;
  const text = TEXT[ext];
  if (text) return { id: text };
  if (firstLine?.startsWith("#!")) {
    if (/\b(ba|z|da|k)?sh\b/.test(firstLine)) return { id: "shellscript", grammar: "bash" };
    if (/\bpython[0-9.]*\b/.test(firstLine)) return { id: "python", grammar: "python" };
    if (/\bnode\b|\bdeno\b|\bbun\b/.test(firstLine)) return { id: "javascript", grammar: "javascript" };
    if (/\bruby\b/.test(firstLine)) return { id: "ruby", grammar: "ruby" };
    if (/\bphp\b/.test(firstLine)) return { id: "php", grammar: "php" };
  }
  return { id: "text" };
}
