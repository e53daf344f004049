import path from "node:path";
import type { ProjectFiles } from "./types.js";

export type Framework = "vitest" | "jest" | "mocha" | "node:test" | "pytest" | "unittest" | "go test" | "cargo test" | "JUnit 5" | "JUnit 4" | "plain";

export interface TestPlan {
  framework: Framework;
  /** The test file to create or append to. */
  testPath: string;
  /** Whether it exists (the tests are appended). */
  exists: boolean;
  /** How to import the code under test from the test file, when the language needs it. */
  importHint?: string;
  /** Set when nothing named the framework: the default that was taken, in words. */
  assumed?: string;
  /** How the framework was found, in words. */
  detectedBy?: string;
}

/** Walks up from `dir` to the first folder holding one of `markers`; returns its path and the marker found. */
async function findUp(files: ProjectFiles, dir: string, markers: readonly string[]): Promise<{ dir: string; marker: string } | undefined> {
  let current = dir;
  for (let i = 0; i < 40; i++) {
    for (const marker of markers) if (await files.exists(path.join(current, marker))) return { dir: current, marker };
    const parent = path.dirname(current);
    if (parent === current) return undefined;
    current = parent;
  }
  return undefined;
}

async function firstExisting(files: ProjectFiles, candidates: readonly string[]): Promise<string | undefined> {
  for (const c of candidates) if (await files.exists(c)) return c;
  return undefined;
}

/**
 * Where and in which framework to write tests for a source file: the framework the project
 * already uses (package.json, pyproject.toml and friends, go.mod, Cargo.toml, pom.xml or
 * build.gradle, existing test files), the test file next to the source (or the existing one),
 * and, when nothing says which framework, a default that is named in `assumed`.
 */
export async function planTests(sourcePath: string, languageId: string, files: ProjectFiles): Promise<TestPlan> {
  const dir = path.dirname(sourcePath);
  const ext = path.extname(sourcePath);
  const stem = path.basename(sourcePath, ext);
  const lang = languageId.toLowerCase();

  if (/^(typescript|typescriptreact|javascript|javascriptreact)$/.test(lang) || /^\.[cm]?[jt]sx?$/.test(ext)) {
    const candidates = [`${stem}.test${ext}`, `${stem}.spec${ext}`, path.join("__tests__", `${stem}.test${ext}`)].map((p) => path.join(dir, p));
    const existing = await firstExisting(files, candidates);
    const testPath = existing ?? candidates[0]!;
    const found = await findUp(files, dir, ["package.json"]);
    let framework: Framework | undefined;
    let detectedBy: string | undefined;
    if (found) {
      const pkg = parseJson(await files.read(path.join(found.dir, "package.json")));
      const deps = { ...(pkg?.dependencies ?? {}), ...(pkg?.devDependencies ?? {}) } as Record<string, unknown>;
      const script = String(pkg?.scripts?.test ?? "");
      for (const name of ["vitest", "jest", "mocha"] as const) {
        if (name in deps || (name === "jest" && ("ts-jest" in deps || "@jest/globals" in deps)) || new RegExp(`\\b${name}\\b`).test(script)) {
          framework = name;
          detectedBy = `package.json (${name in deps ? "dependencies" : "scripts.test"})`;
          break;
        }
      }
      if (!framework && /node\s+(--test|.*--test\b)/.test(script)) {
        framework = "node:test";
        detectedBy = "package.json (scripts.test runs node --test)";
      }
    }
    if (!framework && existing) {
      const text = (await files.read(existing)) ?? "";
      framework = /from ["']vitest["']/.test(text) ? "vitest" : /from ["']node:test["']/.test(text) ? "node:test" : /\bjest\b/.test(text) ? "jest" : undefined;
      if (framework) detectedBy = `the existing test file ${path.basename(existing)}`;
    }
    const source = (await files.read(sourcePath)) ?? "";
    const jsSuffix = /from\s+["']\.{1,2}\/[^"']+\.js["']/.test(source) ? ".js" : "";
    const rel = path.relative(path.dirname(testPath), path.join(dir, stem)).split(path.sep).join("/");
    const importHint = `import from "${rel.startsWith(".") ? rel : `./${rel}`}${jsSuffix}"`;
    if (framework) return { framework, testPath, exists: !!existing, importHint, ...(detectedBy ? { detectedBy } : {}) };
    return {
      framework: "node:test",
      testPath,
      exists: !!existing,
      importHint,
      assumed: `no test framework found (${found ? "package.json names none of vitest, jest, mocha" : "no package.json"}); using Node's built-in node:test`,
    };
  }

  if (lang === "python" || ext === ".py") {
    const root = (await findUp(files, dir, ["pyproject.toml", "setup.cfg", "pytest.ini", "tox.ini", "setup.py", "requirements.txt"]))?.dir;
    const candidates = [path.join(dir, `test_${stem}.py`), path.join(dir, `${stem}_test.py`), ...(root ? [path.join(root, "tests", `test_${stem}.py`)] : [])];
    const existing = await firstExisting(files, candidates);
    const testPath = existing ?? candidates[0]!;
    const importHint = `from ${stem} import …`;
    if (existing) {
      const text = (await files.read(existing)) ?? "";
      if (/\bimport unittest\b|unittest\.TestCase/.test(text)) return { framework: "unittest", testPath, exists: true, importHint, detectedBy: `the existing test file ${path.basename(existing)}` };
    }
    if (root) {
      for (const name of ["pyproject.toml", "setup.cfg", "pytest.ini", "tox.ini", "requirements.txt", "requirements-dev.txt"]) {
        const text = await files.read(path.join(root, name));
        if (text && /pytest/.test(text)) return { framework: "pytest", testPath, exists: !!existing, importHint, detectedBy: name };
      }
    }
    if (existing) return { framework: "pytest", testPath, exists: true, importHint, detectedBy: `the existing test file ${path.basename(existing)}` };
    return { framework: "pytest", testPath, exists: false, importHint, assumed: "no test framework found (no pytest in pyproject.toml, setup.cfg or requirements); using pytest" };
  }

  if (lang === "go" || ext === ".go") {
    const testPath = path.join(dir, `${stem}_test.go`);
    const mod = await findUp(files, dir, ["go.mod"]);
    return { framework: "go test", testPath, exists: await files.exists(testPath), importHint: "same package as the source file", ...(mod ? { detectedBy: "go.mod" } : { assumed: "no go.mod found; using go test in the source file's package" }) };
  }

  if (lang === "rust" || ext === ".rs") {
    const cargo = await findUp(files, dir, ["Cargo.toml"]);
    // Rust unit tests live in the source file itself, in a #[cfg(test)] module.
    return { framework: "cargo test", testPath: sourcePath, exists: true, importHint: "use super::*;", ...(cargo ? { detectedBy: "Cargo.toml" } : { assumed: "no Cargo.toml found; using a #[cfg(test)] module for cargo test" }) };
  }

  if (lang === "java" || ext === ".java") {
    const marker = `${path.sep}src${path.sep}main${path.sep}java${path.sep}`;
    const testDir = dir.includes(marker) || `${dir}${path.sep}`.includes(marker) ? `${dir}${path.sep}`.replace(marker, `${path.sep}src${path.sep}test${path.sep}java${path.sep}`).replace(/[\\/]$/, "") : dir;
    const testPath = path.join(testDir, `${stem}Test.java`);
    const exists = await files.exists(testPath);
    const build = await findUp(files, dir, ["pom.xml", "build.gradle", "build.gradle.kts"]);
    if (build) {
      const text = (await files.read(path.join(build.dir, build.marker))) ?? "";
      if (/junit-jupiter|org\.junit\.jupiter/.test(text)) return { framework: "JUnit 5", testPath, exists, detectedBy: build.marker };
      if (/<artifactId>junit<\/artifactId>|junit:junit/.test(text)) return { framework: "JUnit 4", testPath, exists, detectedBy: build.marker };
    }
    return { framework: "JUnit 5", testPath, exists, assumed: `no JUnit dependency found${build ? ` in ${build.marker}` : " (no pom.xml or build.gradle)"}; using JUnit 5` };
  }

  const testPath = path.join(dir, `${stem}_test${ext}`);
  return { framework: "plain", testPath, exists: await files.exists(testPath), assumed: `no test framework is known for ${languageId}; using plain tests in ${path.basename(testPath)} next to the source` };
}

function parseJson(text: string | undefined): any {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** What every test of a framework contains; a reply without it is not tests, whatever it parses as. */
const TEST_MARKERS: Readonly<Record<Framework, RegExp>> = {
  vitest: /\b(it|test)(\.\w+)?\s*\(/,
  jest: /\b(it|test)(\.\w+)?\s*\(/,
  mocha: /\bit(\.\w+)?\s*\(/,
  "node:test": /\b(it|test)(\.\w+)?\s*\(/,
  pytest: /^\s*(async\s+)?def test_\w*|^\s*class Test\w*/m,
  unittest: /^\s*def test_\w*/m,
  "go test": /\bfunc (Test|Benchmark|Example|Fuzz)\w*\s*\(/,
  "cargo test": /#\[(tokio::)?test\]/,
  "JUnit 5": /@Test\b/,
  "JUnit 4": /@Test\b/,
  plain: /test/i,
};

export function looksLikeTests(code: string, framework: Framework): boolean {
  return TEST_MARKERS[framework].test(code);
}
