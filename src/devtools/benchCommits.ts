/**
 * npm run bench:commits -- --repo GIT_DIR — code search quality on real natural-language
 * descriptions written by other people: the subject lines of a Python project's commits, each
 * paired with the one function the commit changed. Unlike bench:retrieval (doc-comment summaries
 * of the very code searched), the words here were never meant to match the code, so tuning on
 * one benchmark cannot fool the other.
 *
 * The corpus is the repository's Python files at HEAD (sources and tests). A commit counts when
 * its changed lines, in the files as it left them, fall inside exactly one function (the innermost
 * definition), and a function of that qualified name is still in that file at HEAD (or under
 * src/, where many projects moved their package): the answer is that function there. Subjects of releases, merges, formatting and dependency bumps are left out.
 *
 *   --repo GIT_DIR      a git repository (a bare mirror works), e.g. a clone of pallets/flask
 *   --max-queries N     cap the number of queries (default 1000)
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { Parser, type Node } from "web-tree-sitter";
import { loadGrammar } from "../index/chunking/grammars.js";
import { DEFAULT_INDEX_SETTINGS, IndexService } from "../index/IndexService.js";
import { silentLogger } from "../util/logger.js";

const log = (s = ""): void => void process.stdout.write(`${s}\n`);
const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};

interface Definition {
  name: string;
  start: number;
  end: number;
}

/** Functions and methods of a Python file with qualified names ("Class.method") and 0-based line ranges. */
function definitions(parser: Parser, text: string): Definition[] {
  const tree = parser.parse(text);
  if (!tree) return [];
  const out: Definition[] = [];
  const visit = (node: Node, prefix: string, depth: number): void => {
    if (depth > 12) return;
    for (const child of node.namedChildren) {
      if (!child) continue;
      const inner = child.type === "decorated_definition" ? child.childForFieldName("definition") : child;
      if (inner && (inner.type === "function_definition" || inner.type === "class_definition")) {
        const name = `${prefix}${inner.childForFieldName("name")?.text ?? "?"}`;
        if (inner.type === "function_definition") out.push({ name, start: child.startPosition.row, end: child.endPosition.row });
        const body = inner.childForFieldName("body");
        if (body) visit(body, `${name}.`, depth + 1);
      } else if (child.type === "block" || child.type === "if_statement") {
        visit(child, prefix, depth + 1);
      }
    }
  };
  visit(tree.rootNode, "", 0);
  tree.delete();
  return out;
}

const SKIP_SUBJECT = /^(merge|release|bump|version|update (the )?(dependencies|requirements|pre-commit)|run (latest )?black|format|reformat|typo|fix typo|changelog|revert)\b/i;

async function main(): Promise<void> {
  const repo = arg("--repo");
  if (!repo || !fs.existsSync(repo)) {
    process.stderr.write("usage: benchCommits --repo GIT_DIR [--max-queries N]\n");
    process.exit(2);
  }
  const maxQueries = Number(arg("--max-queries") ?? 1000);
  const git = (...args: string[]): string => execFileSync("git", ["--git-dir", gitDir(repo), ...args], { encoding: "utf8", maxBuffer: 256 * 2 ** 20 });
  const python = await loadGrammar("python");
  if (!python) throw new Error("the Python grammar does not load");
  const parser = new Parser();
  parser.setLanguage(python);

  const files = git("ls-tree", "-r", "--name-only", "HEAD").split("\n").filter((f) => f.endsWith(".py"));
  const head = new Map<string, Definition[]>();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "ifai-bench-commits-"));
  try {
    const corpus = path.join(work, "corpus");
    for (const file of files) {
      const text = git("show", `HEAD:${file}`);
      fs.mkdirSync(path.dirname(path.join(corpus, file)), { recursive: true });
      fs.writeFileSync(path.join(corpus, file), text);
      head.set(file, definitions(parser, text));
    }

    // Commit → the one function it changed, by the new side of its hunks.
    const pairs: Array<{ query: string; file: string; def: Definition }> = [];
    const seen = new Set<string>();
    const commits = git("log", "--no-merges", "--format=%H", "HEAD", "--", "*.py").split("\n").filter(Boolean);
    for (const sha of commits) {
      if (pairs.length >= maxQueries) break;
      const subject = git("log", "-1", "--format=%s", sha).trim();
      if (SKIP_SUBJECT.test(subject) || subject.split(/\s+/).length < 3 || seen.has(subject.toLowerCase())) continue;
      const diff = git("show", "--format=", "-U0", "--no-renames", sha, "--", "*.py");
      const touched = new Map<string, Array<[number, number]>>();
      let current: string | undefined;
      for (const line of diff.split("\n")) {
        if (line.startsWith("+++ ")) current = line.startsWith("+++ b/") ? line.slice(6) : undefined;
        const hunk = /^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@/.exec(line);
        if (hunk && current) {
          const start = Number(hunk[1]) - 1;
          const count = hunk[2] === undefined ? 1 : Number(hunk[2]);
          const list = touched.get(current) ?? [];
          list.push([start, start + Math.max(0, count - 1)]);
          touched.set(current, list);
        }
      }
      const hit = new Set<string>();
      let outside = false;
      for (const [file, ranges] of touched) {
        if (file.startsWith("tests/") || file.includes("/tests/")) continue;
        let text: string;
        try {
          text = git("show", `${sha}:${file}`);
        } catch {
          continue;
        }
        const defs = definitions(parser, text);
        for (const [a, b] of ranges) {
          const inner = defs.filter((d) => d.start <= a && d.end >= b).sort((x, y) => x.end - x.start - (y.end - y.start))[0];
          if (inner) hit.add(`${file}\0${inner.name}`);
          else outside = true;
        }
      }
      if (outside || hit.size !== 1) continue;
      const [then, name] = [...hit][0]!.split("\0") as [string, string];
      // Sources moved under src/ at some point: a path of then is found there now.
      const file = head.has(then) ? then : `src/${then}`;
      const def = head.get(file)?.find((d) => d.name === name);
      if (!def) continue;
      seen.add(subject.toLowerCase());
      pairs.push({ query: subject, file, def });
    }
    const functions = [...head.values()].reduce((n, d) => n + d.length, 0);
    log(`ifai-lsp commit-message benchmark — ${path.basename(path.resolve(repo, ".."))}: ${files.length} Python files at HEAD (${functions} functions), ${commits.length} commits, ${pairs.length} pairs (subject → the one function it changed)`);

    const service = new IndexService({ logger: silentLogger(), env: { IFAI_CACHE_DIR: path.join(work, "cache") }, workers: 1 });
    await service.configure({ ...DEFAULT_INDEX_SETTINGS, watch: false });
    await service.setFolders([{ uri: pathToFileURL(corpus).href }]);
    await service.whenIdle();
    for (const f of service.folderIndexes()) await f.compact();
    let reciprocal = 0;
    let found = 0;
    for (const p of pairs) {
      const hits = await service.search(p.query, { k: 10 });
      const rank = hits.findIndex((h) => h.path === p.file && h.startLine <= p.def.end && h.endLine >= p.def.start);
      if (rank >= 0) {
        reciprocal += 1 / (rank + 1);
        found++;
      }
    }
    await service.dispose();
    const q = Math.max(1, pairs.length);
    log(`lexical  MRR@10 ${(reciprocal / q).toFixed(3)}  Recall@10 ${(found / q).toFixed(3)}  (${pairs.length} queries)`);
    log(JSON.stringify({ bench: "commits", repo: path.resolve(repo), queries: pairs.length, corpusFiles: files.length, corpusFunctions: functions, lexical: { mrr10: Number((reciprocal / q).toFixed(3)), recall10: Number((found / q).toFixed(3)) } }));
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** The git directory of a work tree or a bare repository. */
function gitDir(repo: string): string {
  return fs.existsSync(path.join(repo, ".git")) ? path.join(repo, ".git") : repo;
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:commits failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
