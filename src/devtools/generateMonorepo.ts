#!/usr/bin/env node
/**
 * Assembles a large source tree ("a monorepo") deterministically from real sources found on this
 * machine: the source files of the installed npm packages and, when node-llama-cpp's git bundle is
 * there, llama.cpp's C/C++ sources. The set is copied as many times as needed; every copy after
 * the first has its identifiers renamed (a per-copy suffix), so no two copies hold the same chunks
 * and the index cannot save work by deduplication. Every package folder gets what real monorepos
 * have and the index must leave out: a nested .gitignore (with a negation), an ignored folder of
 * generated files, ignored temporary files, its own node_modules; the tree's root and each copy
 * have .gitignore files too. The manifest says how many files the index must find.
 *
 *   node dist/devtools/generateMonorepo.js --out DIR --files N
 */
import { execFileSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { DEFAULT_EXCLUDED_DIRS, IgnoreRules } from "../privacy/ignoreRules.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

export interface MonorepoOptions {
  /** The folder to write (emptied first). */
  out: string;
  /** Files the index must find (sources plus the indexable extras); the tree also holds ignored files. */
  files: number;
  /** Where source material is cached between runs (llama.cpp's checkout). */
  cacheDir?: string;
  /** node_modules to take npm sources from (default: this checkout's). */
  nodeModules?: string;
  /** Add llama.cpp's C/C++ sources from node-llama-cpp's git bundle (default true). */
  withLlama?: boolean;
}

export interface MonorepoManifest {
  /** Files the index must find: not ignored by any .gitignore or default rule. */
  indexable: number;
  /** Files written that the ignore rules must leave out. */
  ignored: number;
  /** Copies of the source set (the first unrenamed). */
  copies: number;
  /** Folders in the tree. */
  dirs: number;
  bytes: number;
  /** Distinct source files the copies were made from. */
  sources: number;
  /** Nested .gitignore files written (below the root). */
  nestedGitignores: number;
}

const SOURCE_EXTENSIONS = new Set([".js", ".mjs", ".cjs", ".ts", ".mts", ".cts", ".tsx", ".jsx", ".py", ".c", ".h", ".cc", ".cpp", ".hpp", ".go", ".rs", ".java", ".rb", ".sh"]);
const MAX_SOURCE_BYTES = 200_000;
/** Paths the .gitignore files this generator writes exclude (packageExtras, the root's). */
const OWN_IGNORES = /(^|\/)generated\/|\.tmp\.js$|\.local\.ts$/;

/** Words of the languages in the tree and common globals: left alone so renamed code still reads as code. */
const RESERVED = new Set(
  (
    "abstract and any as assert async await boolean break case catch char class const constructor continue debugger declare def default del delete do double elif else enum except export extends false final finally float for from function get global goto if implements import in instanceof int interface is keyof lambda let long module namespace new nil none None not null number object of or package pass private protected public raise readonly require return self set short signed sizeof static string struct super switch symbol template this throw true True False try type typedef typeof undefined union unsigned using var void volatile while with yield " +
    "console exports prototype length push Object Array String Number Boolean Promise Error JSON Math Map Set Symbol Buffer process include define ifdef ifndef endif pragma std size_t uint8_t uint32_t uint64_t int32_t int64_t print len range"
  ).split(" "),
);
const SUFFIXES = ["Atlas", "Birch", "Cobalt", "Delta", "Ember", "Fjord", "Garnet", "Harbor", "Indigo", "Juniper", "Kestrel", "Lumen", "Maple", "Nimbus", "Onyx", "Prism"];

/** Renames identifiers for copy `copy` (≥ 1): `parseConfig` → `parseConfigLumen3`, the same name always the same way. */
export function renameIdentifiers(text: string, copy: number, cache: Map<string, string>): string {
  return text.replace(/\b[A-Za-z_][A-Za-z0-9_]{2,}\b/g, (id) => {
    if (RESERVED.has(id)) return id;
    let renamed = cache.get(id);
    if (renamed === undefined) {
      const h = crypto.hash("md5", id, "buffer")[0]!;
      renamed = `${id}${id.includes("_") && id === id.toLowerCase() ? "_" : ""}${SUFFIXES[(h + copy) % SUFFIXES.length]}${copy}`;
      cache.set(id, renamed);
    }
    return renamed;
  });
}

interface Source {
  abs: string;
  /** Path inside a copy. */
  rel: string;
  /** The package folder it belongs to (inside a copy), where the ignored extras go. */
  pkg: string;
}

/** The source files, sorted, with paths free of folder names the index excludes by default. */
export function collectSources(nodeModules: string, llamaDir: string | undefined): Source[] {
  const excluded = new Set(DEFAULT_EXCLUDED_DIRS);
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "ifai-monorepo-rules-"));
  const rules = new IgnoreRules(scratch, { maxFileBytes: MAX_SOURCE_BYTES });
  const out: Source[] = [];
  // Folders the index excludes by default (dist, build, node_modules…) or hidden ones would hide
  // the sources below them, so they are renamed; so are hidden file names.
  const clean = (rel: string): string => {
    const segs = rel.split("/").filter((seg) => seg !== "");
    return segs
      .map((seg, i) => (i === segs.length - 1 && path.extname(seg) ? seg.replace(/^\./, "_") : seg === "node_modules" ? "pkgs" : excluded.has(seg) || seg.startsWith(".") ? `${seg.replace(/^\./, "_")}_` : seg))
      .join("/");
  };
  const walk = (dir: string, rel: string, pkg: string, prefix: string): void => {
    const entries = fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const isPackage = entries.some((e) => e.name === "package.json" && e.isFile());
    const here = isPackage || rel === "" ? rel : pkg;
    for (const entry of entries) {
      if (entry.isSymbolicLink()) continue;
      const childRel = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        if (entry.name === ".bin" || entry.name === ".git" || entry.name === "@node-llama-cpp" || childRel === "node-llama-cpp/llama" || childRel === "node-llama-cpp/bins") continue;
        walk(path.join(dir, entry.name), childRel, here, prefix);
      } else if (entry.isFile() && SOURCE_EXTENSIONS.has(path.extname(entry.name))) {
        const abs = path.join(dir, entry.name);
        const target = clean(`${prefix}${childRel}`);
        // Left out: what the index excludes by default, and what the tree's own .gitignores exclude.
        if (rules.ignores(target, false) || OWN_IGNORES.test(target) || fs.statSync(abs).size > MAX_SOURCE_BYTES) continue;
        out.push({ abs, rel: target, pkg: clean(`${prefix}${here}/`) });
      }
    }
  };
  walk(nodeModules, "", "", "npm/");
  if (llamaDir) walk(llamaDir, "", "", "llama.cpp/");
  fs.rmSync(scratch, { recursive: true, force: true });
  return out;
}

/** llama.cpp's sources from node-llama-cpp's git bundle, checked out once into the cache. */
function llamaSources(nodeModules: string, cacheDir: string): string | undefined {
  const bundle = path.join(nodeModules, "node-llama-cpp", "llama", "gitRelease.bundle");
  if (!fs.existsSync(bundle)) return undefined;
  const dir = path.join(cacheDir, "llama.cpp");
  if (!fs.existsSync(path.join(dir, "CMakeLists.txt"))) {
    fs.rmSync(dir, { recursive: true, force: true });
    execFileSync("git", ["-c", "advice.detachedHead=false", "clone", "--quiet", bundle, dir], { stdio: ["ignore", "ignore", "inherit"] });
  }
  return dir;
}

/** The extras of one package folder: [relative path, content, indexable]. */
function packageExtras(pkg: string, copy: number): Array<[string, string, boolean]> {
  const base = pkg ? `${pkg}/` : "";
  const tag = `${pkg.replace(/[^A-Za-z0-9]+/g, "_")}_${copy}`;
  return [
    [`${base}.gitignore`, "# generated by the build\ngenerated/\n*.tmp.js\n!keep.tmp.js\n", true],
    [`${base}generated/bundle.js`, `export const generatedBundle_${tag} = "never indexed";\n`, false],
    [`${base}generated/deep/types.ts`, `export type GeneratedType_${tag} = string;\n`, false],
    [`${base}scratch.tmp.js`, `const scratchValue_${tag} = 1;\n`, false],
    [`${base}keep.tmp.js`, `export const keptTemporary_${tag} = 1;\n`, true],
    [`${base}node_modules/dep/index.js`, `module.exports = function dependency_${tag}() {};\n`, false],
  ];
}

/** Writes the tree; the same options always give the same bytes. */
export function generateMonorepo(options: MonorepoOptions): MonorepoManifest {
  const nodeModules = options.nodeModules ?? path.join(root, "node_modules");
  const cacheDir = options.cacheDir ?? path.join(root, ".cache", "monorepo-sources");
  fs.mkdirSync(cacheDir, { recursive: true });
  const sources = collectSources(nodeModules, options.withLlama === false ? undefined : llamaSources(nodeModules, cacheDir));
  if (sources.length === 0) throw new Error(`no source files under ${nodeModules}`);
  fs.rmSync(options.out, { recursive: true, force: true });
  fs.mkdirSync(options.out, { recursive: true });
  const manifest: MonorepoManifest = { indexable: 0, ignored: 0, copies: 0, dirs: 0, bytes: 0, sources: sources.length, nestedGitignores: 0 };
  const dirs = new Set<string>();
  const write = (rel: string, content: string, indexable: boolean): void => {
    const abs = path.join(options.out, ...rel.split("/"));
    const dir = path.dirname(abs);
    if (!dirs.has(dir)) {
      fs.mkdirSync(dir, { recursive: true });
      dirs.add(dir);
    }
    fs.writeFileSync(abs, content);
    manifest.bytes += Buffer.byteLength(content);
    if (indexable) manifest.indexable++;
    else manifest.ignored++;
    if (rel.endsWith("/.gitignore")) manifest.nestedGitignores++;
  };
  // The root ignores a scratch folder and logs; each copy ignores local overrides.
  write(".gitignore", "/scratch/\n*.local.ts\n", true);
  write("scratch/notes.ts", "export const scratchNotes = 1;\n", false);
  for (let copy = 0; manifest.indexable < options.files; copy++) {
    manifest.copies = copy + 1;
    const prefix = `packages/${SUFFIXES[copy % SUFFIXES.length]!.toLowerCase()}${copy}`;
    const names = new Map<string, string>();
    const packages = new Set<string>();
    write(`${prefix}/settings.local.ts`, `export const localSetting${copy} = 1;\n`, false);
    for (const source of sources) {
      if (manifest.indexable >= options.files) break;
      if (!packages.has(source.pkg)) {
        packages.add(source.pkg);
        for (const [rel, content, indexable] of packageExtras(`${prefix}/${source.pkg}`, copy)) {
          if (indexable && manifest.indexable >= options.files) continue;
          write(rel, content, indexable);
        }
        if (manifest.indexable >= options.files) break;
      }
      const text = fs.readFileSync(source.abs, "utf8");
      write(`${prefix}/${source.rel}`, copy === 0 ? text : renameIdentifiers(text, copy, names), true);
    }
  }
  manifest.dirs = dirs.size;
  fs.writeFileSync(path.join(options.out, "..", `${path.basename(options.out)}.manifest.json`), `${JSON.stringify(manifest)}\n`);
  return manifest;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { out: { type: "string" }, files: { type: "string", default: "10000" } } });
  if (!values.out) {
    process.stderr.write("usage: generateMonorepo --out DIR [--files N]\n");
    process.exit(2);
  }
  const started = performance.now();
  const manifest = generateMonorepo({ out: path.resolve(values.out), files: Number(values.files) });
  process.stdout.write(`${JSON.stringify({ ...manifest, seconds: Number(((performance.now() - started) / 1000).toFixed(1)) })}\n`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    process.stderr.write(`generateMonorepo failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  });
}
