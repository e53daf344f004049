import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CancellationTokenSource } from "vscode-jsonrpc/node";
import { WorkDoneProgress, type WorkDoneProgressBegin, type WorkDoneProgressEnd, type WorkDoneProgressReport } from "vscode-languageserver-protocol";
import type { ClientCapabilities, CodeAction, TextEdit, WorkspaceEdit } from "vscode-languageserver-protocol";
import type { CodeActionData, CodeActionRunResult } from "../src/server/protocol.js";
import { startStdioServer, type TestClient } from "./helpers/lspClient.js";
import { tempDir, tinyModel } from "./helpers/models.js";
import { OpenAIFixture } from "./helpers/openaiFixture.js";

const KEY = `sk-fixture-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
const cache = tempDir();
const project = tempDir("ifai-actions-project-");
let modelPath: string;
let fixture: OpenAIFixture;
const clients: TestClient[] = [];
/** Work-done progress the servers reported, in order (vscode-jsonrpc hands $/progress to per-token handlers). */
const progress: Array<WorkDoneProgressBegin | WorkDoneProgressReport | WorkDoneProgressEnd> = [];
let progressListeners: Array<(value: WorkDoneProgressBegin | WorkDoneProgressReport | WorkDoneProgressEnd) => boolean> = [];
/** Resolves at the next progress value that matches (no sleeps: the event itself). */
function nextProgress(predicate: (value: WorkDoneProgressBegin | WorkDoneProgressReport | WorkDoneProgressEnd) => boolean): Promise<void> {
  return new Promise((resolve) => progressListeners.push((value) => (predicate(value) ? (resolve(), true) : false)));
}

/** An editor with resolve support, documentChanges with file creation, and work-done progress (like VS Code). */
const RESOLVE_CLIENT: ClientCapabilities = {
  textDocument: { codeAction: { resolveSupport: { properties: ["edit"] }, dataSupport: true, disabledSupport: true } },
  workspace: { workspaceEdit: { documentChanges: true, resourceOperations: ["create"] } },
  window: { workDoneProgress: true },
};
/** eglot 1.9: no resolve, no progress; edits arrive through workspace/applyEdit. */
const NO_RESOLVE_CLIENT: ClientCapabilities = { textDocument: { codeAction: {} }, workspace: { applyEdit: true } };

const FILES: Record<string, string> = {
  "ts/package.json": JSON.stringify({ name: "demo", devDependencies: { vitest: "^5.0.0" } }),
  "ts/src/math.ts": "export function sumAll(values: number[]): number {\n  let total = 0;\n  for (let i = 0; i < values.length; i++) {\n    total = total + values[i];\n  }\n  return total;\n}\n\nexport function average(values: number[]): number {\n  return sumAll(values) / values.length;\n}\n",
  "py/pyproject.toml": '[project]\nname = "calc"\n\n[tool.pytest.ini_options]\ntestpaths = ["."]\n',
  "py/calc.py": "class Calc:\r\n    def add(self, a, b):\r\n        return a + b\r\n\r\n    def sub(self, a, b):\r\n        return a - b\r\n",
  "py/test_calc.py": "from calc import Calc\n\n\ndef test_add():\n    assert Calc().add(1, 2) == 3\n",
  "go/go.mod": "module example.com/shapes\n\ngo 1.22\n",
  "go/shapes.go": "package shapes\n\nfunc Area(w, h float64) float64 {\n\tif w < 0 {\n\t\tw = -w\n\t}\n\tif h < 0 {\n\t\th = -h\n\t}\n\treturn w * h\n}\n",
  "java/pom.xml": "<project><dependencies><dependency><groupId>org.junit.jupiter</groupId><artifactId>junit-jupiter</artifactId></dependency></dependencies></project>\n",
  "java/src/main/java/com/example/Greeter.java": "package com.example;\n\npublic class Greeter {\n    public String greet(String name) {\n        return \"Hello, \" + name;\n    }\n}\n",
  "rs/Cargo.toml": '[package]\nname = "one"\nversion = "0.1.0"\n',
  "rs/src/lib.rs": "pub fn double(x: i32) -> i32 {\n    x * 2\n}\n",
  "loose/util.js": "export function clamp(x, lo, hi) {\n  return Math.min(hi, Math.max(lo, x));\n}\n",
};
const LANGUAGE: Record<string, string> = { ".ts": "typescript", ".py": "python", ".go": "go", ".java": "java", ".rs": "rust", ".js": "javascript" };

const full = (rel: string): string => path.join(project.path, rel);
const uriOf = (rel: string): string => pathToFileURL(full(rel)).href;
const snapshotDisk = (): Record<string, string> => Object.fromEntries(Object.keys(FILES).map((rel) => [rel, fs.readFileSync(full(rel), "utf8")]));

function settings(extra: Record<string, unknown> = {}): Record<string, unknown> {
  const cloud = "cloud";
  return {
    model: { path: modelPath, threads: 1, batchSize: 32 },
    index: { enabled: false },
    cloud: { providers: { fx: { baseUrl: fixture.baseUrl, model: "tiny", apiKeyEnv: "IFAI_TEST_KEY" } }, timeoutMs: 30000, maxRetries: 0, cooldownSeconds: 0 },
    router: { fallback: false, taskPreference: { simpleRefactor: cloud, deepRefactor: cloud, docs: cloud, unitTests: cloud, fix: cloud, explain: cloud } },
    ...extra,
  };
}

async function start(capabilities: ClientCapabilities, init: Record<string, unknown>): Promise<TestClient> {
  const client = startStdioServer({ IFAI_CACHE_DIR: cache.path, IFAI_TEST_KEY: KEY });
  clients.push(client);
  client.connection.onRequest("window/workDoneProgress/create", (params: { token: string }) => {
    client.connection.onProgress(WorkDoneProgress.type, params.token, (value) => {
      progress.push(value);
      progressListeners = progressListeners.filter((l) => !l(value));
    });
    return null;
  });
  await client.initialize(capabilities, init, pathToFileURL(project.path).href);
  for (const rel of Object.keys(FILES)) {
    const ext = path.extname(rel);
    if (LANGUAGE[ext]) await client.open(uriOf(rel), LANGUAGE[ext]!, FILES[rel]!);
  }
  return client;
}

type Range = { start: { line: number; character: number }; end: { line: number; character: number } };
const at = (line: number, character = 0): Range => ({ start: { line, character }, end: { line, character } });
const lines = (from: number, to: number): Range => ({ start: { line: from, character: 0 }, end: { line: to + 1, character: 0 } });

function listActions(client: TestClient, rel: string, range: Range, diagnostics: unknown[] = [], only?: string[]): Promise<CodeAction[]> {
  return client.connection.sendRequest("textDocument/codeAction", { textDocument: { uri: uriOf(rel) }, range, context: { diagnostics, ...(only ? { only } : {}) } }) as Promise<CodeAction[]>;
}

async function action(client: TestClient, rel: string, range: Range, kind: CodeActionData["kind"], diagnostics: unknown[] = []): Promise<CodeAction> {
  const list = await listActions(client, rel, range, diagnostics);
  const found = list.find((a) => (a.data as CodeActionData).kind === kind);
  if (!found) throw new Error(`no ${kind} action in ${list.map((a) => a.title).join(", ")}`);
  return found;
}

function resolve(client: TestClient, a: CodeAction, token?: CancellationTokenSource): Promise<CodeAction> {
  return (token ? client.connection.sendRequest("codeAction/resolve", a, token.token) : client.connection.sendRequest("codeAction/resolve", a)) as Promise<CodeAction>;
}

/** The text edits of a workspace edit for one URI, and the creations it asks for. */
function editsFor(edit: WorkspaceEdit | undefined, uri: string): { edits: TextEdit[]; created: boolean } {
  if (!edit) return { edits: [], created: false };
  if (edit.changes) return { edits: edit.changes[uri] ?? [], created: false };
  let created = false;
  const edits: TextEdit[] = [];
  for (const change of edit.documentChanges ?? []) {
    if ("kind" in change && change.kind === "create" && change.uri === uri) created = true;
    if ("textDocument" in change && change.textDocument.uri === uri) edits.push(...(change.edits as TextEdit[]));
  }
  return { edits, created };
}

function apply(text: string, edits: readonly TextEdit[]): string {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === "\n") starts.push(i + 1);
  const offset = (p: { line: number; character: number }): number => (p.line >= starts.length ? text.length : starts[p.line]! + p.character);
  let out = text;
  for (const e of [...edits].sort((a, b) => offset(b.range.start) - offset(a.range.start))) out = out.slice(0, offset(e.range.start)) + e.newText + out.slice(offset(e.range.end));
  return out;
}

const reply = (text: string): void => fixture.failNext({ kind: "reply", text });
const messages = (client: TestClient): string[] => client.notifications.filter((n) => n.method === "window/showMessage").map((n) => (n.params as { message: string }).message);

beforeAll(async () => {
  for (const [rel, text] of Object.entries(FILES)) {
    fs.mkdirSync(path.dirname(full(rel)), { recursive: true });
    fs.writeFileSync(full(rel), text);
  }
  modelPath = await tinyModel();
  fixture = new OpenAIFixture(modelPath);
  await fixture.start();
  fixture.requiredKey = KEY;
});
afterAll(async () => {
  for (const c of clients.splice(0)) c.kill();
  await fixture?.stop();
  cache.cleanup();
  project.cleanup();
});

describe("AI code actions with resolve support (scripted cloud replies)", () => {
  let client: TestClient;
  let disk: Record<string, string>;
  beforeAll(async () => {
    client = await start(RESOLVE_CLIENT, settings());
    disk = snapshotDisk();
  });
  afterAll(() => {
    // Whatever happened, the server wrote nothing: edits are only proposed.
    expect(snapshotDisk()).toEqual(disk);
  });

  it("lists instantly without asking a model, with the edit left for resolve", async () => {
    const before = fixture.requests.length;
    const list = await listActions(client, "ts/src/math.ts", lines(1, 2), [{ message: "Cannot find name 'x'.", range: at(1, 2), severity: 1 }]);
    expect(list.map((a) => a.kind)).toEqual(["quickfix", "refactor.rewrite", "refactor.rewrite.documentation", "refactor.extract.function", "source.generateTests", "refactor.explain"]);
    expect(list.every((a) => a.edit === undefined)).toBe(true);
    expect(list[0]!.diagnostics?.[0]?.message).toBe("Cannot find name 'x'.");
    expect(list.find((a) => a.kind === "refactor.explain")!.command?.command).toBe("ifai.codeAction");
    expect(fixture.requests.length).toBe(before);
  });

  it("simplify at the cursor (TypeScript) resolves to a minimal edit inside the function, with progress", async () => {
    const rel = "ts/src/math.ts";
    reply("Here is a simpler version:\n```typescript\nexport function sumAll(values: number[]): number {\n  return values.reduce((a, b) => a + b, 0);\n}\n```\n");
    const resolved = await resolve(client, await action(client, rel, at(2, 4), "rewrite"));
    const { edits } = editsFor(resolved.edit, uriOf(rel));
    expect(edits).toHaveLength(1);
    // Minimal: the signature line and the closing brace stay untouched.
    expect(edits[0]!.range.start.line).toBe(1);
    expect(edits[0]!.range.end.line).toBe(5);
    expect(apply(FILES[rel]!, edits)).toBe(FILES[rel]!.replace(/ {2}let total[\s\S]*?return total;/, "  return values.reduce((a, b) => a + b, 0);"));
    const sent = fixture.requests.at(-1)!;
    expect(sent.path).toBe("/v1/chat/completions");
    expect(sent.body.messages[1].content).toContain("export function sumAll");
    expect(sent.body.messages[1].content).toContain("one ```typescript block");
    expect(progress.some((v) => v.kind === "begin" && v.title === "ifai: Simplify / improve")).toBe(true);
    expect(progress.some((v) => v.kind === "end")).toBe(true);
  });

  it("a documentation comment (Python, CRLF, 4 spaces) is one insertion in the file's style", async () => {
    const rel = "py/calc.py";
    reply('```python\ndef add(self, a, b):\n  """Add two numbers."""\n  return a + b\n```');
    const resolved = await resolve(client, await action(client, rel, at(2, 8), "docs"));
    const { edits } = editsFor(resolved.edit, uriOf(rel));
    expect(edits).toHaveLength(1);
    expect(edits[0]!.range.start).toEqual(edits[0]!.range.end);
    expect(apply(FILES[rel]!, edits)).toBe(FILES[rel]!.replace("b):\r\n", 'b):\r\n        """Add two numbers."""\r\n'));
  });

  it("extract function (Go, tabs) replaces the selection and adds the function, tabs kept", async () => {
    const rel = "go/shapes.go";
    reply(
      "```go\nfunc abs(v float64) float64 {\n    if v < 0 {\n        return -v\n    }\n    return v\n}\n\nfunc Area(w, h float64) float64 {\n    return abs(w) * abs(h)\n}\n```",
    );
    const resolved = await resolve(client, await action(client, rel, lines(3, 8), "extract"));
    const { edits } = editsFor(resolved.edit, uriOf(rel));
    const after = apply(FILES[rel]!, edits);
    expect(after).toBe("package shapes\n\nfunc abs(v float64) float64 {\n\tif v < 0 {\n\t\treturn -v\n\t}\n\treturn v\n}\n\nfunc Area(w, h float64) float64 {\n\treturn abs(w) * abs(h)\n}\n");
    expect(edits[0]!.range.start.line).toBe(2);
  });

  it("a quickfix per diagnostic sends the message and fixes only the broken part", async () => {
    const rel = "ts/src/math.ts";
    const diagnostic = { message: "Division by zero when values is empty.", range: { start: { line: 9, character: 9 }, end: { line: 9, character: 40 } }, severity: 2 };
    reply("```ts\nexport function average(values: number[]): number {\n  return values.length === 0 ? 0 : sumAll(values) / values.length;\n}\n```");
    const fix = await action(client, rel, at(9, 10), "fix", [diagnostic]);
    expect(fix.title).toBe("AI: Fix: Division by zero when values is empty.");
    const resolved = await resolve(client, fix);
    const { edits } = editsFor(resolved.edit, uriOf(rel));
    expect(edits).toEqual([{ range: { start: { line: 9, character: 9 }, end: { line: 9, character: 9 } }, newText: "values.length === 0 ? 0 : " }]);
    expect(fixture.requests.at(-1)!.body.messages[1].content).toContain("Division by zero when values is empty.");
  });

  it("generate tests: a new vitest file next to the TypeScript source, created through documentChanges", async () => {
    const rel = "ts/src/math.ts";
    const testUri = uriOf("ts/src/math.test.ts");
    reply('```ts\nimport { describe, expect, it } from "vitest";\nimport { sumAll } from "./math";\n\ndescribe("sumAll", () => {\n  it("adds", () => expect(sumAll([1, 2])).toBe(3));\n});\n```');
    const resolved = await resolve(client, await action(client, rel, at(1), "tests"));
    const { edits, created } = editsFor(resolved.edit, testUri);
    expect(created).toBe(true);
    expect(edits[0]!.newText).toMatch(/^import \{ describe, expect, it \} from "vitest";\n[\s\S]*\}\);\n$/);
    expect(fixture.requests.at(-1)!.body.messages[1].content).toMatch(/with vitest, as the complete new test file math\.test\.ts/);
    expect(fs.existsSync(full("ts/src/math.test.ts"))).toBe(false);
  });

  it("generate tests: appended to the existing pytest module, at its end", async () => {
    const rel = "py/calc.py";
    reply("```python\ndef test_sub():\n    assert Calc().sub(3, 2) == 1\n```");
    const resolved = await resolve(client, await action(client, rel, at(5, 8), "tests"));
    const { edits, created } = editsFor(resolved.edit, uriOf("py/test_calc.py"));
    expect(created).toBe(false);
    expect(apply(FILES["py/test_calc.py"]!, edits)).toBe(`${FILES["py/test_calc.py"]}\ndef test_sub():\n    assert Calc().sub(3, 2) == 1\n`);
    expect(fixture.requests.at(-1)!.body.messages[1].content).toMatch(/with pytest, to be appended/);
  });

  it("generate tests: go test, JUnit 5 under src/test/java, cargo test in the source file", async () => {
    reply("```go\npackage shapes\n\nimport \"testing\"\n\nfunc TestArea(t *testing.T) {\n\tif Area(2, 3) != 6 {\n\t\tt.Fatal(\"area\")\n\t}\n}\n```");
    const go = await resolve(client, await action(client, "go/shapes.go", at(3), "tests"));
    expect(editsFor(go.edit, uriOf("go/shapes_test.go")).created).toBe(true);

    reply("```java\npackage com.example;\n\nimport org.junit.jupiter.api.Test;\nimport static org.junit.jupiter.api.Assertions.assertEquals;\n\nclass GreeterTest {\n    @Test\n    void greets() {\n        assertEquals(\"Hello, Ann\", new Greeter().greet(\"Ann\"));\n    }\n}\n```");
    const java = await resolve(client, await action(client, "java/src/main/java/com/example/Greeter.java", at(4, 8), "tests"));
    expect(editsFor(java.edit, uriOf("java/src/test/java/com/example/GreeterTest.java")).created).toBe(true);
    expect(fixture.requests.at(-1)!.body.messages[1].content).toContain("with JUnit 5");

    reply("```rust\n#[cfg(test)]\nmod tests {\n    use super::*;\n\n    #[test]\n    fn doubles() {\n        assert_eq!(double(2), 4);\n    }\n}\n```");
    const rs = await resolve(client, await action(client, "rs/src/lib.rs", at(1), "tests"));
    const { edits } = editsFor(rs.edit, uriOf("rs/src/lib.rs"));
    expect(apply(FILES["rs/src/lib.rs"]!, edits)).toMatch(/^pub fn double[\s\S]*\n}\n\n#\[cfg\(test\)\]\nmod tests \{[\s\S]*\}\n$/);
  });

  it("an undetectable framework takes a default and says so", async () => {
    reply('```js\nimport test from "node:test";\nimport assert from "node:assert/strict";\nimport { clamp } from "./util.js";\n\ntest("clamps", () => assert.equal(clamp(5, 0, 3), 3));\n```');
    const resolved = await resolve(client, await action(client, "loose/util.js", at(1), "tests"));
    expect(editsFor(resolved.edit, uriOf("loose/util.test.js")).created).toBe(true);
    expect(messages(client).some((m) => /no test framework found \(no package\.json\); using Node's built-in node:test/.test(m))).toBe(true);
  });

  it("syntax-breaking output is refused with a message and no edit", async () => {
    reply("```ts\nexport function sumAll(values: number[]): number {\n  return values.reduce((a, b) => a + b, 0;\n}\n```");
    const resolved = await resolve(client, await action(client, "ts/src/math.ts", at(2), "rewrite"));
    expect(resolved.edit).toBeUndefined();
    expect(await client.waitForNotification("window/showMessage", (p) => /syntax error/.test(p.message))).toMatchObject({ type: 2 });
  });

  it("replies without a code block: raw code is used; prose is refused", async () => {
    reply("export function average(values: number[]): number {\n  return sumAll(values) / Math.max(1, values.length);\n}");
    const raw = await resolve(client, await action(client, "ts/src/math.ts", at(9), "rewrite"));
    expect(editsFor(raw.edit, uriOf("ts/src/math.ts")).edits).toEqual([{ range: { start: { line: 9, character: 26 }, end: { line: 9, character: 39 } }, newText: "Math.max(1, values.length)" }]);
    reply("I am sorry, but I cannot improve this code any further because it is already (mostly) fine.");
    const prose = await resolve(client, await action(client, "py/calc.py", at(2, 8), "rewrite"));
    expect(prose.edit).toBeUndefined();
  });

  it("a reply cut off midway is refused and says so", async () => {
    reply("```go\nfunc Area(w, h float64) float64 {\n\treturn abs(w) *");
    const resolved = await resolve(client, await action(client, "go/shapes.go", at(3), "rewrite"));
    expect(resolved.edit).toBeUndefined();
    await client.waitForNotification("window/showMessage", (p) => /cut off midway/.test(p.message));
  });

  it("bad selections: extract is not offered on an empty one and refused if forced; one beyond the document is clamped", async () => {
    const list = await listActions(client, "ts/src/math.ts", at(2));
    expect(list.some((a) => (a.data as CodeActionData).kind === "extract")).toBe(false);
    const before = fixture.requests.length;
    const forced: CodeAction = { title: "AI: Extract function", kind: "refactor.extract.function", data: { ifai: "action", kind: "extract", uri: uriOf("ts/src/math.ts"), range: at(2) } satisfies CodeActionData };
    expect((await resolve(client, forced)).edit).toBeUndefined();
    await client.waitForNotification("window/showMessage", (p) => /select the lines to extract/.test(p.message));
    const beyond: CodeAction = { title: "AI: Simplify / improve", kind: "refactor.rewrite", data: { ifai: "action", kind: "rewrite", uri: uriOf("ts/src/math.ts"), range: { start: { line: 40, character: 0 }, end: { line: 90, character: 3 } } } satisfies CodeActionData };
    expect((await resolve(client, beyond)).edit).toBeUndefined();
    await client.waitForNotification("window/showMessage", (p) => /past the end of the document/.test(p.message));
    expect(fixture.requests.length).toBe(before);
  });

  it("cancelling a resolve closes the request to the provider and offers nothing", async () => {
    fixture.failNext({ kind: "hang" });
    const token = new CancellationTokenSource();
    const n = fixture.requests.length;
    // A place no earlier test asked about: an outcome is kept per document version and range.
    const pending = resolve(client, await action(client, "ts/src/math.ts", at(10), "rewrite"), token).catch((error: unknown) => ({ error }));
    await fixture.waitForRequests(n + 1);
    token.cancel();
    const result = await pending;
    expect((result as CodeAction).edit).toBeUndefined();
    await fixture.requests[n]!.closed;
    expect(fixture.requests[n]!.aborted).toBe(true);
  });
});

describe("a refusal ends the exchange, and asking again costs no second model or cloud call", () => {
  let client: TestClient;
  beforeAll(async () => {
    client = await start(RESOLVE_CLIENT, settings());
  });
  const BROKEN = "```ts\nexport function average(values: number[]: number {\n  return 0;\n}\n```";

  it("a refused resolve has neither edit, command nor data, only the reason; resolving it again asks nobody (eglot 1.17 did, without end)", async () => {
    reply(BROKEN);
    const a = await action(client, "ts/src/math.ts", at(9), "rewrite");
    const before = fixture.requests.length;
    const results: CodeAction[] = [];
    // eglot 1.17 sends the action it resolved (with its data) again while the answer has no edit and no command.
    for (let i = 0; i < 4; i++) results.push(await resolve(client, a));
    expect(fixture.requests.length).toBe(before + 1);
    for (const r of results) {
      expect(r.edit).toBeUndefined();
      expect(r.command).toBeUndefined();
      expect(r.data).toBeUndefined();
      expect(r.disabled?.reason).toMatch(/^nothing was changed: the model's code would add \d+ syntax errors?/);
      expect(r.title).toBe(a.title);
    }
    // eglot 1.17 (no disabledSupport) rejects a CodeAction with a key its interface lacks: it gets none.
    const eglot = await start({ textDocument: { codeAction: { resolveSupport: { properties: ["edit", "command"] }, dataSupport: true } } }, settings());
    reply(BROKEN);
    const plain = await resolve(eglot, await action(eglot, "ts/src/math.ts", at(9), "rewrite"));
    expect(Object.keys(plain).sort()).toEqual(["kind", "title"]);
    // The reason reaches the user every time they ask.
    expect(messages(client).filter((m) => /would add \d+ syntax error/.test(m)).length).toBe(4);
  });

  it("identical resolves at once share one computation; an edit is kept for the document version, a change asks again", async () => {
    const rel = "py/calc.py";
    reply('```python\ndef add(self, a, b):\n    """Add a and b."""\n    return a + b\n```');
    const a = await action(client, rel, at(2, 8), "docs");
    const before = fixture.requests.length;
    const together = await Promise.all([resolve(client, a), resolve(client, a), resolve(client, a)]);
    const again = await resolve(client, a);
    expect(fixture.requests.length).toBe(before + 1);
    for (const r of [...together, again]) expect(r.edit).toEqual(together[0]!.edit);
    expect(editsFor(together[0]!.edit, uriOf(rel)).edits).toHaveLength(1);
    // A new version of the document is a new question.
    await client.edit(uriOf(rel), at(0), "# calc\r\n");
    reply('```python\ndef add(self, a, b):\n    """Add a and b."""\n    return a + b\n```');
    const moved = await resolve(client, await action(client, rel, at(3, 8), "docs"));
    expect(fixture.requests.length).toBe(before + 2);
    expect(editsFor(moved.edit, uriOf(rel)).edits[0]!.range.start.line).toBe(3);
  });

  it("a cancelled resolve is not kept; of two identical resolves, cancelling one leaves the other its answer", async () => {
    const rel = "go/shapes.go";
    fixture.failNext({ kind: "hang" });
    const a = await action(client, rel, at(3), "rewrite");
    const n = fixture.requests.length;
    const token = new CancellationTokenSource();
    const cancelled = resolve(client, a, token);
    await fixture.waitForRequests(n + 1);
    token.cancel();
    expect((await cancelled).edit).toBeUndefined();
    await fixture.requests[n]!.closed;

    // The next resolve computes again; its reply is held open until both requests have been sent.
    let release!: () => void;
    const until = new Promise<void>((r) => (release = r));
    fixture.failNext({ kind: "held", text: "```go\nfunc Area(w, h float64) float64 {\n\treturn abs(w) * abs(h)\n}\n```", until });
    const first = new CancellationTokenSource();
    // Each resolve joins the computation as its work-done progress begins: wait for both.
    const begun = progress.filter((v) => v.kind === "begin").length;
    const bothBegun = nextProgress(() => progress.filter((v) => v.kind === "begin").length >= begun + 2);
    const one = resolve(client, a, first);
    const other = resolve(client, a);
    await bothBegun;
    await fixture.waitForRequests(n + 2);
    first.cancel();
    expect((await one).edit).toBeUndefined();
    release();
    const answered = await other;
    expect(fixture.requests[n + 1]!.aborted).toBe(false);
    expect(fixture.requests.length).toBe(n + 2);
    expect(editsFor(answered.edit, uriOf(rel)).edits[0]!.newText).toContain("abs(w) * abs(h)");
  });
});

describe("AI code actions without resolve support (eglot 1.9)", () => {
  let client: TestClient;
  beforeAll(async () => {
    client = await start(NO_RESOLVE_CLIENT, settings());
  });

  it("each action carries a command that computes the edit and applies it through workspace/applyEdit", async () => {
    const rel = "ts/src/math.ts";
    const a = await action(client, rel, at(2), "rewrite");
    expect(a.command?.command).toBe("ifai.codeAction");
    reply("```ts\nexport function sumAll(values: number[]): number {\n  return values.reduce((a, b) => a + b, 0);\n}\n```");
    const result = (await client.connection.sendRequest("workspace/executeCommand", { command: a.command!.command, arguments: a.command!.arguments })) as CodeActionRunResult;
    expect(result).toMatchObject({ status: "applied", servedBy: "cloud:fx" });
    const applied = client.appliedEdits.at(-1)!;
    const { edits } = editsFor(applied.edit, uriOf(rel));
    expect(applied.edit.changes).toBeDefined();
    expect(apply(FILES[rel]!, edits)).toContain("  return values.reduce((a, b) => a + b, 0);\n}\n\nexport function average");
    expect(fs.readFileSync(full(rel), "utf8")).toBe(FILES[rel]);
  });

  it("a new test file goes through applyEdit as plain changes for a client without documentChanges", async () => {
    reply("```go\npackage shapes\n\nimport \"testing\"\n\nfunc TestArea(t *testing.T) {\n\tif Area(2, 3) != 6 {\n\t\tt.Fatal(\"area\")\n\t}\n}\n```");
    const a = await action(client, "go/shapes.go", at(3), "tests");
    const result = (await client.connection.sendRequest("workspace/executeCommand", { command: a.command!.command, arguments: a.command!.arguments })) as CodeActionRunResult;
    expect(result.status).toBe("applied");
    const edit = client.appliedEdits.at(-1)!.edit as WorkspaceEdit;
    expect(Object.keys(edit.changes ?? {})).toEqual([uriOf("go/shapes_test.go")]);
    expect(edit.changes![uriOf("go/shapes_test.go")]![0]!.newText).toMatch(/^package shapes\n[\s\S]*func TestArea/);
    expect(fs.existsSync(full("go/shapes_test.go"))).toBe(false);
  });

  it("malformed command arguments and closed documents get a clear answer, and the server stays up", async () => {
    const bogus = client.connection.sendRequest("workspace/executeCommand", { command: "ifai.codeAction", arguments: [{ ifai: "action", kind: "bogus", uri: uriOf("ts/src/math.ts"), range: at(1) }] });
    await expect(bogus).rejects.toThrow(/expects \[CodeActionData\]/);
    const closed = (await client.connection.sendRequest("workspace/executeCommand", {
      command: "ifai.codeAction",
      arguments: [{ ifai: "action", kind: "rewrite", uri: uriOf("ts/src/nowhere.ts"), range: at(1) } satisfies CodeActionData],
    })) as CodeActionRunResult;
    expect(closed).toEqual({ status: "refused", message: `${uriOf("ts/src/nowhere.ts")} is not open in the editor` });
    expect(await listActions(client, "ts/src/nowhere.ts", at(1))).toEqual([]);
  });

  it("running a refused action's command again reports the same refusal without asking the model again", async () => {
    reply("```ts\nexport function sumAll(values: number[]: number {\n```");
    const a = await action(client, "ts/src/math.ts", at(1), "docs");
    const before = fixture.requests.length;
    const run = (): Promise<CodeActionRunResult> => client.connection.sendRequest("workspace/executeCommand", { command: a.command!.command, arguments: a.command!.arguments }) as Promise<CodeActionRunResult>;
    const first = await run();
    const second = await run();
    expect(first.status).toBe("refused");
    expect(second).toEqual(first);
    expect(fixture.requests.length).toBe(before + 1);
  });

  it("a refused edit is reported, nothing is sent to applyEdit; explain answers with a message", async () => {
    const edits = client.appliedEdits.length;
    reply("```ts\nexport function average(values: number[]: number {\n```");
    const a = await action(client, "ts/src/math.ts", at(9), "rewrite");
    const refused = (await client.connection.sendRequest("workspace/executeCommand", { command: a.command!.command, arguments: a.command!.arguments })) as CodeActionRunResult;
    expect(refused.status).toBe("refused");
    expect(refused.message).toMatch(/syntax error/);
    expect(client.appliedEdits.length).toBe(edits);

    reply("It adds the numbers one by one and returns the total.");
    const explain = await action(client, "ts/src/math.ts", at(2), "explain");
    const answer = (await client.connection.sendRequest("workspace/executeCommand", { command: explain.command!.command, arguments: explain.command!.arguments })) as CodeActionRunResult;
    expect(answer).toMatchObject({ status: "explained", explanation: "It adds the numbers one by one and returns the total." });
    const streamed = client.notifications.filter((n) => n.method === "ifai/chatDelta" && (n.params as { chatId: string }).chatId === answer.chatId).map((n) => n.params as { seq: number; delta: string });
    expect(streamed.map((d) => d.seq)).toEqual(streamed.map((_, i) => i));
    expect(streamed.map((d) => d.delta).join("")).toBe(answer.explanation);
    await client.waitForNotification("window/showMessage", (p) => p.message === "ifai: It adds the numbers one by one and returns the total.");
  });
});

describe("AI code actions on the local tiny model (random weights)", () => {
  let client: TestClient;
  beforeAll(async () => {
    client = await start(RESOLVE_CLIENT, {
      model: { path: modelPath, threads: 1, batchSize: 32 },
      index: { enabled: false },
      router: { preference: "local" },
      chat: { contextSize: 1024 },
      actions: { maxTokens: 24, contextTokens: 0 },
    });
  });

  it("an action resolves to a well-formed edit or is refused with a message, never anything else", async () => {
    const rel = "ts/src/math.ts";
    const shown = messages(client).length;
    const resolved = await resolve(client, await action(client, rel, at(2), "rewrite"));
    const log = (await client.connection.sendRequest("ifai/routeLog", { last: 1 })) as { decisions: Array<{ task: string; outcome?: { servedBy: string } }> };
    expect(log.decisions[0]).toMatchObject({ task: "simpleRefactor", outcome: { servedBy: "local" } });
    if (resolved.edit) {
      const { edits } = editsFor(resolved.edit, uriOf(rel));
      expect(edits.length).toBe(1);
      expect(edits[0]!.range.start.line).toBeGreaterThanOrEqual(0);
      expect(edits[0]!.range.end.line).toBeLessThanOrEqual(6);
    } else {
      await client.waitForNotification("window/showMessage", (p) => messages(client).length > shown && /nothing was changed/.test(p.message));
    }
  });

  it("ifai.unloadModel while an action generates: both answer sensibly (never 'Context is disposed'), and the next action reloads the model", async () => {
    await client.connection.sendNotification("workspace/didChangeConfiguration", { settings: { ifai: { actions: { maxTokens: 4096, maxTimeMs: 600000 } } } });
    const explain = await action(client, "go/shapes.go", at(3), "explain");
    const run = (): Promise<{ result?: CodeActionRunResult; error?: string; code?: number }> =>
      (client.connection.sendRequest("workspace/executeCommand", { command: explain.command!.command, arguments: explain.command!.arguments }) as Promise<CodeActionRunResult>).then(
        (result) => ({ result }),
        (error: Error & { code?: number }) => ({ error: error.message, code: error.code }),
      );
    const seen = client.notifications.length;
    // The first streamed piece of the explanation: the model is generating on the chat context.
    const streaming = client.waitForNotification("ifai/chatDelta", () => client.notifications.length > seen);
    const running = run();
    await streaming;
    const unloaded = (await client.connection.sendRequest("workspace/executeCommand", { command: "ifai.unloadModel", arguments: [] })) as { state: string };
    const outcome = await running;
    expect(unloaded.state).toBe("unloaded");
    expect(JSON.stringify(outcome)).not.toMatch(/disposed/i);
    // Cut short by the unload it is a clear error; finished before it, an explanation (or an empty reply refused).
    // The server cancelled it (ServerCancelled, -32802: the client may ask again), not InternalError.
    if (outcome.error) expect(outcome).toMatchObject({ code: -32802, error: expect.stringMatching(/was unloaded while this request ran/) });
    else expect(["explained", "refused"]).toContain(outcome.result!.status);

    const after = await run();
    expect(after.error).toBeUndefined();
    expect(["explained", "refused"]).toContain(after.result!.status);
    const status = (await client.connection.sendRequest("workspace/executeCommand", { command: "ifai.modelStatus", arguments: [] })) as { state: string };
    expect(status.state).toBe("ready");
  });
});

describe("a local reply that cannot be used is retried in the cloud where allowed", () => {
  it("auto keeps a small refactor local; its unusable reply goes to the cloud once, and the reason says so", async () => {
    const client = await start(RESOLVE_CLIENT, {
      ...settings({ router: { fallback: false } }),
      chat: { contextSize: 1024 },
      // Greedy sampling makes the random model's reply the same on every run.
      actions: { maxTokens: 16, contextTokens: 0, temperature: 0 },
    });
    const rel = "py/calc.py";
    const before = fixture.requests.length;
    reply('```python\ndef sub(self, a, b):\n    """Subtract b from a."""\n    return a - b\n```');
    const resolved = await resolve(client, await action(client, rel, at(5, 8), "rewrite"));
    const log = (await client.connection.sendRequest("ifai/routeLog", { last: 2 })) as { decisions: Array<{ task: string; backend: string; rule: string; outcome?: { servedBy: string } }> };
    expect(log.decisions.map((d) => [d.task, d.outcome?.servedBy])).toEqual([
      ["simpleRefactor", "local"],
      ["simpleRefactor", "cloud:fx"],
    ]);
    expect(log.decisions[0]!.rule).toBe("rule:simple-refactor-local");
    expect(log.decisions[1]!.rule).toBe("override");
    expect(fixture.requests.length).toBe(before + 1);
    const { edits } = editsFor(resolved.edit, uriOf(rel));
    expect(apply(FILES[rel]!, edits)).toBe(FILES[rel]!.replace("def sub(self, a, b):\r\n", 'def sub(self, a, b):\r\n        """Subtract b from a."""\r\n'));
  });
});

describe("related code from the codebase index", () => {
  it("the prompt carries chunks the index's context builder chose, outside the region being changed", async () => {
    const indexed = nextProgress((v) => v.kind === "end");
    const client = await start(RESOLVE_CLIENT, settings({ index: { enabled: true, watch: false } }));
    await indexed;
    reply("```ts\nexport function average(values: number[]): number {\n  return values.length ? sumAll(values) / values.length : 0;\n}\n```");
    const resolved = await resolve(client, await action(client, "ts/src/math.ts", at(9), "rewrite"));
    expect(resolved.edit).toBeDefined();
    const prompt = fixture.requests.at(-1)!.body.messages[1].content as string;
    expect(prompt).toMatch(/^Related code from the project, for reference only:\n\nts\/src\/math\.ts \(sumAll\):\n```typescript\nexport function sumAll/);
    // Same-language code only: the Python and Java files of the project stay out.
    expect(prompt).not.toMatch(/class Calc|class Greeter/);
    // The function being rewritten is sent once, as the file's code, not again as context.
    expect(prompt.split("export function average").length).toBe(2);
  });
});
