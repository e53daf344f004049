import fs from "node:fs";
import path from "node:path";
import ignore from "ignore";
import { isSecretPath, SECRET_DIRS } from "./secretFiles.js";

type Ignore = ignore.Ignore;

/**
 * Which files of a workspace folder the index may read. Three layers, as git applies them:
 * the built-in default excludes (lowest; a project may re-include with `!pattern`), then every
 * `.gitignore` (nested ones apply below their folder, deeper ones win) and `.git/info/exclude`,
 * then every `.ifaiignore` (same syntax, read after .gitignore in each folder). Secrets are
 * never indexed, whatever the ignore files say.
 */

/** Folders that hold dependencies, build outputs, caches or version-control data. */
export const DEFAULT_EXCLUDED_DIRS = [
  ".git",
  ".hg",
  ".svn",
  ".bzr",
  ".jj",
  "_darcs",
  "node_modules",
  "bower_components",
  "jspm_packages",
  ".yarn",
  ".pnpm-store",
  "vendor",
  "third_party",
  "dist",
  "build",
  "out",
  "target",
  "obj",
  ".next",
  ".nuxt",
  ".svelte-kit",
  ".output",
  ".vercel",
  ".turbo",
  ".parcel-cache",
  ".cache",
  "coverage",
  ".nyc_output",
  "__pycache__",
  ".venv",
  "venv",
  ".tox",
  ".nox",
  ".mypy_cache",
  ".pytest_cache",
  ".ruff_cache",
  ".eggs",
  "*.egg-info",
  "site-packages",
  ".gradle",
  ".idea",
  ".vs",
  ".vscode-test",
  "Pods",
  "DerivedData",
  ".terraform",
  ".dart_tool",
  ".angular",
  "elm-stuff",
];

/** Minified, generated, lock and binary files, and logs. */
export const DEFAULT_EXCLUDED_FILES = [
  // minified and bundled
  "*.min.js",
  "*.min.mjs",
  "*.min.cjs",
  "*.min.css",
  "*-min.js",
  "*.bundle.js",
  "*.chunk.js",
  "*.map",
  // generated
  "*.pb.go",
  "*.pb.cc",
  "*.pb.h",
  "*_pb2.py",
  "*_pb2_grpc.py",
  "*.g.dart",
  "*.freezed.dart",
  "*.generated.*",
  "*.designer.cs",
  "*.snap",
  // lockfiles
  "package-lock.json",
  "npm-shrinkwrap.json",
  "yarn.lock",
  "pnpm-lock.yaml",
  "bun.lock",
  "bun.lockb",
  "Cargo.lock",
  "poetry.lock",
  "Pipfile.lock",
  "Gemfile.lock",
  "composer.lock",
  "go.sum",
  "flake.lock",
  "packages.lock.json",
  "*.lock",
  // binaries, media, archives, models, data
  ...[
    "png", "jpg", "jpeg", "gif", "bmp", "ico", "icns", "webp", "tif", "tiff", "psd", "avif", "heic", "svg", "svgz",
    "ttf", "otf", "woff", "woff2", "eot",
    "mp3", "mp4", "m4a", "wav", "ogg", "flac", "aac", "mov", "avi", "mkv", "webm",
    "zip", "tar", "gz", "tgz", "bz2", "xz", "zst", "7z", "rar", "jar", "war", "ear", "whl", "nupkg", "apk", "ipa", "deb", "rpm", "dmg", "iso", "img",
    "exe", "dll", "so", "dylib", "a", "lib", "o", "ko", "elf", "bin", "dat", "wasm", "node", "pyc", "pyo", "class", "dex",
    "pdf", "doc", "docx", "xls", "xlsx", "ppt", "pptx", "odt", "ods",
    "db", "sqlite", "sqlite3", "parquet", "arrow", "feather", "lance", "npy", "npz", "pkl", "pickle", "pt", "pth", "onnx", "gguf", "safetensors", "ckpt", "h5", "tflite",
    "log", "swp", "swo",
  ].map((ext) => `*.${ext}`),
  ".DS_Store",
  "Thumbs.db",
];

// The secret-file list is the privacy gate's: what the index never reads is what never goes to a cloud API.
export { hasSecretContent, isSecretPath } from "./secretFiles.js";

export interface IgnoreRulesOptions {
  /** Files larger than this are not indexed. */
  maxFileBytes: number;
  /** Extra patterns (gitignore syntax) applied after the defaults, e.g. from the command line. */
  extraPatterns?: string[];
}

/** The ignore decisions for one workspace folder. Ignore files are read lazily and cached. */
export class IgnoreRules {
  /** Rules per folder (relative path, "" for the root); null when the folder has no ignore file. */
  private readonly levels = new Map<string, Ignore | null>();
  private readonly dirDecisions = new Map<string, boolean>();

  constructor(
    readonly root: string,
    private readonly options: IgnoreRulesOptions,
  ) {}

  get maxFileBytes(): number {
    return this.options.maxFileBytes;
  }

  /** Forget cached ignore files (after a .gitignore or .ifaiignore changed). */
  invalidate(): void {
    this.levels.clear();
    this.dirDecisions.clear();
  }

  /** True when `name` is an ignore file whose change must re-scan the folder. */
  static isIgnoreFile(rel: string): boolean {
    const base = rel.slice(rel.lastIndexOf("/") + 1);
    return base === ".gitignore" || base === ".ifaiignore" || rel === ".git/info/exclude";
  }

  /**
   * Whether a path is excluded: a secret, under an excluded folder, or excluded itself.
   * `rel` is relative to the root with "/" separators.
   */
  ignores(rel: string, isDir: boolean): boolean {
    if (rel === "" || rel === ".") return false;
    if (rel.startsWith("../") || rel === ".." || path.isAbsolute(rel)) return true;
    if (!isDir && isSecretPath(rel)) return true;
    const parts = rel.split("/");
    if (isDir && SECRET_DIRS.has(parts[parts.length - 1]!)) return true;
    // Ancestors first: nothing below an excluded folder comes back (as in git).
    let dir = "";
    for (let i = 0; i < parts.length - 1; i++) {
      dir = dir ? `${dir}/${parts[i]}` : parts[i]!;
      if (this.dirIgnored(dir)) return true;
    }
    return isDir ? this.dirIgnored(rel) : this.decide(rel, false);
  }

  private dirIgnored(dir: string): boolean {
    let decision = this.dirDecisions.get(dir);
    if (decision === undefined) {
      decision = this.decide(dir, true);
      this.dirDecisions.set(dir, decision);
    }
    return decision;
  }

  /** Applies each level's rules from the root down; the deepest level that has an opinion wins. */
  private decide(rel: string, isDir: boolean): boolean {
    let ignored = false;
    let levelDir = "";
    const parts = rel.split("/");
    for (let i = 0; i < parts.length; i++) {
      const rules = this.level(levelDir);
      if (rules) {
        const sub = levelDir ? rel.slice(levelDir.length + 1) : rel;
        const result = rules.test(isDir ? `${sub}/` : sub);
        if (result.ignored) ignored = true;
        else if (result.unignored) ignored = false;
      }
      if (i === parts.length - 1) break;
      levelDir = levelDir ? `${levelDir}/${parts[i]}` : parts[i]!;
    }
    return ignored;
  }

  private level(dir: string): Ignore | null {
    const cached = this.levels.get(dir);
    if (cached !== undefined) return cached;
    const patterns: string[] = [];
    if (dir === "") {
      patterns.push(...DEFAULT_EXCLUDED_DIRS.map((d) => `${d}/`), ...DEFAULT_EXCLUDED_FILES, ...(this.options.extraPatterns ?? []));
      patterns.push(...readLines(path.join(this.root, ".git", "info", "exclude")));
    }
    const abs = path.join(this.root, dir);
    patterns.push(...readLines(path.join(abs, ".gitignore")), ...readLines(path.join(abs, ".ifaiignore")));
    const rules = patterns.length > 0 ? ignore({ allowRelativePaths: true, ignorecase: process.platform !== "linux" }).add(patterns) : null;
    this.levels.set(dir, rules);
    return rules;
  }
}

function readLines(file: string): string[] {
  try {
    const stat = fs.statSync(file);
    if (!stat.isFile() || stat.size > 1_000_000) return [];
    return fs.readFileSync(file, "utf8").split(/\r?\n/);
  } catch {
    return [];
  }
}
