import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, expect, it, vi } from "vitest";
import { describeWithEditor } from "../helpers/editors.js";
import { tinyModel } from "../helpers/models.js";
import { OpenAIFixture } from "../helpers/openaiFixture.js";
import { quickOpen, quickPickRow, runCommand, statusBarItem, webview } from "./vscode/ui.js";
import { clientDir, EXTENSION_ID as EXTENSION, findCodeServer, settings, vsixPath, withDeadline, Workbench } from "./vscode/workbench.js";

/**
 * The VS Code client in a real VS Code: code-server 4.100.3 (VS Code 1.100.3, installed by
 * .ci/editors-vscode.sh) runs the extension host once a headless Chromium, started by Playwright,
 * opens its workbench (set-up in ./vscode/workbench.ts). The ifai extension is the .vsix that
 * `npm run package:vscode` packs from the current sources, installed by code-server's own CLI, as
 * users install it. A driver extension (test/fixtures/vscode-driver) first exercises it through public VS Code
 * APIs and posts each step's result to this test's HTTP server; the first tests assert on them.
 * Then the tests use the workbench as a user does, through Playwright: the command palette, the
 * chat webview, the status bar and its quick pick, asking the driver about VS Code's state where
 * the screen does not tell it. The ifai server is the real one on the tiny model; the documentation
 * action and the stopped chat are answered in the "cloud" by the OpenAI-compatible fixture, so
 * that the edit is known and the answer is still streaming when Stop is pressed. The tests run
 * in order: each UI test starts where the one before left the workbench.
 */

const FILE = "src/calc.py";
const SOURCE = "def add_numbers(a, b):\n    return a + b\n\n\ndef average(values):\n    total = \n";
const DOCS_REPLY = '```python\ndef add_numbers(a, b):\n    """Return the sum of a and b."""\n    return a + b\n```\n';

const AREA = "def area(w, h):\n    return w * h\n";
const AREA_RENAMED = AREA.replace("area(w,", "area(width,");
const AREA_DONE = AREA_RENAMED.replace("return w *", "return width *");
const isNextEdit = (body: any): boolean => JSON.stringify(body.messages ?? "").includes("Editable region");

const check = findCodeServer();

describeWithEditor("the VS Code extension in code-server with headless Chromium", check, () => {
  // Created in beforeAll, so that a skipped block leaves nothing behind.
  let bench: Workbench;
  let fixture: OpenAIFixture;
  let wallMs = 0;
  const step = (name: string): any => bench.step(name);

  beforeAll(async () => {
    const started = Date.now();
    const modelPath = await tinyModel();
    fixture = new OpenAIFixture(modelPath);
    await fixture.start();
    fixture.failNext({ kind: "reply", text: DOCS_REPLY });
    // The refused "Generate unit tests": no test, and code that does not parse.
    fixture.failNext({ kind: "reply", text: "```python\ndef add_numbers(a, b:\n```" });
    // The driver's cancelled chat: a stream that stays open until the server closes it, so the
    // answer cannot end before the cancellation token fires, however busy the machine is.
    fixture.failNext({ kind: "stall", text: "Adding numbers is older than writing. " });
    // Next edits (routed to the fixture): after the rename, the rewrite that renames the use on
    // the next line; any other state is the tiny model's, which never takes what was queued above.
    fixture.when(
      (body) => isNextEdit(body) && JSON.stringify(body).includes("def area(width, h)"),
      ...Array.from({ length: 8 }, () => ({ kind: "reply" as const, text: "```python\n" + AREA_DONE.trimEnd() + "\n```" })),
    );
    fixture.when(isNextEdit);
    const commands = (JSON.parse(fs.readFileSync(path.join(clientDir, "package.json"), "utf8")).contributes.commands as Array<{ command: string }>).map((c) => c.command);
    // The tiny model's greedy answer at the end of the first line is a visible character (at the
    // end of "    total = " it is a line break, which leaves no suggestion); snippets are off below
    // so the prompt, and with it the answer, depends on this file alone.
    // The driver writes the file when its next-edit step starts, so that the earlier steps'
    // prompts (and with them the tiny model's answers) do not depend on it.
    const nextEdit = { file: "src/area.py", source: AREA, rename: { range: { start: { line: 0, character: 9 }, end: { line: 0, character: 10 } }, text: "width" } };
    const plan = { file: FILE, source: SOURCE, completionAt: { line: 0, character: 22 }, docsAt: { line: 1, character: 4 }, chatTokens: 40, nextEdit, commands: [...commands, "ifai.modelStatus", "ifai.codeAction"] };
    bench = new Workbench({ files: { [FILE]: SOURCE, "README.md": "# calc\n\nSmall arithmetic helpers.\n" }, settings: settings(modelPath, fixture.baseUrl), plan });
    await bench.start(check);
    wallMs = Date.now() - started;
    // IFAI_VSCODE_DUMP=1 prints every step's full result (what VS Code saw), for debugging.
    if (process.env.IFAI_VSCODE_DUMP) process.stderr.write(`${JSON.stringify([...bench.steps.values()], null, 1)}\n`);
    process.stderr.write(`[vscode] driver's API steps done ${wallMs} ms after the test started: ${[...bench.steps.values()].map((s) => `${s.name} ${s.ok ? "ok" : "FAILED"} ${s.ms} ms`).join(", ")}\n`);
  }, 150_000);

  afterAll(async () => {
    await bench?.close();
    await fixture?.stop();
  });

  it("installs the packaged .vsix with code-server's CLI, activates that copy in the extension host and starts the server", () => {
    const install = bench.install!;
    expect(install.vsix).toBe(vsixPath);
    expect(install.output).toMatch(/Extension 'ifai-lsp-vscode\.vsix' was successfully installed/);
    // A real folder unpacked from the package (not a link to the sources), holding the fresh bundle.
    expect(path.basename(install.dir)).toBe("ifai.ifai-lsp-vscode-0.1.0");
    expect(fs.lstatSync(install.dir).isDirectory()).toBe(true);
    const listed = JSON.parse(fs.readFileSync(path.join(bench.dirs.extensions, "extensions.json"), "utf8")) as Array<{ identifier: { id: string }; relativeLocation: string; metadata?: { source?: string } }>;
    expect(listed.find((e) => e.identifier.id === EXTENSION)).toMatchObject({ relativeLocation: "ifai.ifai-lsp-vscode-0.1.0", metadata: { source: "vsix" } });
    const installed = JSON.parse(fs.readFileSync(path.join(install.dir, "package.json"), "utf8"));
    expect(`${installed.publisher}.${installed.name}`).toBe(EXTENSION);
    expect(fs.readFileSync(path.join(install.dir, "dist", "extension.js"), "utf8")).toBe(fs.readFileSync(path.join(clientDir, "dist", "extension.js"), "utf8"));
    const value = step("activate");
    expect(value.isActive).toBe(true);
    expect(value.extensionPath).toBe(install.dir);
    expect(value.appName).toMatch(/code/i);
    expect(value.pid).toBeGreaterThan(0);
    // The extension host received code-server's environment (the driver URL proves it too).
    expect(value.cacheDir).toBe(bench.dirs.cache);
    expect(step("open").languageId).toBe("python");
  });

  it("offers ifai's completion items through vscode.executeCompletionItemProvider", () => {
    const { items } = step("completionItems");
    expect(items.length).toBeGreaterThan(0);
    for (const item of items) {
      expect(item.detail).toBe("ifai (local model)");
      expect(typeof item.label).toBe("string");
    }
  });

  it("accepts ghost text through the editor's inline suggestion commands", () => {
    const value = step("inlineCompletion");
    expect(value.before).toBe("def add_numbers(a, b):");
    expect(value.after.length).toBeGreaterThan(value.before.length);
    // The ghost text accepted is the server's suggestion for that spot, the same the item carried.
    expect(value.after).toBe(value.before + step("completionItems").items[0].insert);
  });

  it("lists AI code actions and applies the resolved documentation edit", () => {
    const value = step("codeAction");
    expect(value.titles).toEqual(expect.arrayContaining(["AI: Add documentation comment", "AI: Explain"]));
    expect(value.kind).toBe("refactor.rewrite.documentation");
    expect(value.applied).toBe(true);
    expect(value.changed).toBe(true);
    expect(value.text).toContain('def add_numbers(a, b):\n    """Return the sum of a and b."""\n    return a + b\n');
    expect(fixture.requests.filter((r) => r.path === "/v1/chat/completions")[0]?.answer).toBe("reply");
  });

  it("resolves a refused action to no edit and no command, and asking again costs no second cloud call", () => {
    const value = step("refusedAction");
    expect(value.rounds).toEqual([
      { title: "AI: Generate unit tests", edit: false, command: false },
      { title: "AI: Generate unit tests", edit: false, command: false },
    ]);
    expect(value.text).toBe(step("codeAction").text);
    // One request asked for the tests, answered with the scripted refusal; VS Code's second
    // resolve was answered from the server's kept outcome.
    const asked = fixture.requests.filter((r) => r.path === "/v1/chat/completions" && JSON.stringify(r.body.messages).includes("Write unit tests for this code"));
    expect(asked.map((r) => r.answer)).toEqual(["reply"]);
  });

  it("streams a local @codebase chat whose deltas make up the answer", () => {
    const value = step("chat");
    expect(value.servedBy).toBe("local");
    expect(value.deltas).toBeGreaterThan(1);
    expect(value.joined).toBe(value.content);
    expect(value.content.length).toBeGreaterThan(0);
    expect(value.sources).toContain(FILE);
  });

  it("stops a chat when its cancellation token fires", () => {
    const value = step("chatCancel");
    expect(value.stopReason).toBe("aborted");
    expect(value.servedBy).toBe("cloud:fx");
    expect(value.deltas).toBeGreaterThan(0);
    // The response carries the text streamed before the cancel.
    expect(value.joined).toBe(value.content);
    expect(value.content).toBe("Adding numbers is older than writing. ");
    // The cancel reached the provider: the server closed the stream.
    const stalled = fixture.requests.filter((r) => r.path === "/v1/chat/completions")[2]!;
    expect(stalled).toMatchObject({ answer: "stall", aborted: true });
  });

  it("shows the model state in the status bar and registers the palette commands", () => {
    const status = step("status");
    expect(status.modelState).toBe("ready");
    expect(status.statusText).toMatch(/ready/);
    const commands = step("commands");
    expect(commands.missing).toEqual([]);
    expect(commands.checked).toBeGreaterThan(10);
  });

  it("shows a next edit after a pause in editing, away from the cursor, with decorations: the removed text and the new text", () => {
    const value = step("nextEdit");
    expect(value.before).toBe(AREA);
    expect(value.shown.text).toBe(AREA_RENAMED);
    expect(value.shown.version).toBe(value.shown.docVersion);
    expect(value.shown.cursor).toEqual({ line: 0, character: "def area(width".length });
    expect(value.shown.edits).toHaveLength(1);
    expect(value.shown.edits[0]).toMatchObject({ range: { start: { line: 1, character: 11 }, end: { line: 1, character: 12 } }, text: "width", command: { command: "ifai.nextEdit.accepted" } });
    expect(value.shown.deleted).toEqual([{ start: { line: 1, character: 11 }, end: { line: 1, character: 12 } }]);
    expect(value.shown.inserted).toEqual([{ at: { line: 1, character: 12 }, text: "width" }]);
  });

  it("dismisses the next edit, lets the latest of two requests win, and never applies one to a changed document", () => {
    const value = step("nextEdit");
    expect(value.dismissed).toBe(true);
    expect(value.afterDismiss).toEqual({ shown: null, text: AREA_RENAMED, dismissedAgain: false });
    expect(value.latest).toEqual({ first: false, second: true, stale: 1, shown: true });
    expect(value.changed).toEqual({ shown: null, accepted: false, text: `${AREA_RENAMED}# x` });
  });

  it("jumps to the next edit and accepts it: exactly the suggested text, and the accept command reaches the server", () => {
    const value = step("nextEdit");
    expect(value.again).toBe(true);
    expect(value.jumped).toEqual({ done: true, cursor: { line: 1, character: 11 } });
    expect(value.accepted).toEqual({ done: true, text: AREA_DONE, cursor: { line: 1, character: "    return width".length }, shown: null });
    expect(value.stats).toMatchObject({ accepted: 1, dismissed: 1 });
  });

  it("answers a @codebase question in the chat view, whose source links open the file at the lines", async () => {
    const page = bench.page;
    // Another file in front first, so that opening the source is the link's doing.
    await quickOpen(page, "README.md");
    await expect.poll(() => bench.query("activeEditor"), { timeout: 10_000 }).toMatchObject({ path: "README.md" });
    await runCommand(page, "ifai: Open Chat");
    const view = webview(page, EXTENSION);
    await view.locator("#input").fill("what does add_numbers do? @codebase");
    await view.locator("#input").press("Enter");
    // The footer comes with the "done" message, so the answer is complete once it is there.
    const meta = view.locator(".meta").first();
    await meta.waitFor();
    expect(await view.locator(".q").first().textContent()).toBe("what does add_numbers do? @codebase");
    expect((await view.locator(".a").first().textContent())?.length).toBeGreaterThan(0);
    expect(await meta.textContent()).toMatch(/^local · \S+ · .*\d+ tokens$/);
    expect(await view.locator("#send").isEnabled()).toBe(true);
    expect(await view.locator("#stop").isDisabled()).toBe(true);
    const link = view.locator(".sources a", { hasText: FILE }).first();
    const label = (await link.textContent())!;
    expect(label).toMatch(new RegExp(`^${FILE}:\\d+`));
    await link.click();
    // The label names the first line of the source; the editor selects its range.
    const line = Number(/:(\d+)/.exec(label)![1]);
    await expect.poll(() => bench.query("activeEditor"), { timeout: 10_000 }).toMatchObject({ path: FILE, selection: { start: { line: line - 1 } } });
    expect(await page.locator(".tabs-container .tab.active").getAttribute("aria-label")).toMatch(/^calc\.py/);
    // Its content security policy let the view's stylesheet in too (its script evidently ran).
    expect(await view.locator("#log").evaluate((el: any) => el.ownerDocument.defaultView.getComputedStyle(el).flexDirection)).toBe("column");
  });

  it("switches the backend to the cloud through the status bar item's quick pick", async () => {
    const page = bench.page;
    const item = statusBarItem(page, EXTENSION, "ifai-lsp.status");
    await item.filter({ hasText: /^\s*local · ready/ }).waitFor();
    await item.click();
    await expect(quickPickRow(page, "Local").textContent()).resolves.toContain("current");
    await quickPickRow(page, "Cloud").click();
    // The item follows the server's ifai/status notification; the toast quotes the server's answer.
    await item.filter({ hasText: /^\s*cloud · ready/ }).waitFor();
    await page.locator(".notification-toast", { hasText: "ifai: backend local → cloud." }).waitFor();
    const status = await bench.query("status");
    expect(status.statusText).toMatch(/^\$\(hubot\) cloud · ready/);
    expect(status.model.state).toBe("ready");
  });

  it("stops a streaming answer with the chat view's Stop button", async () => {
    // The backend is the cloud now (the test before): the fixture streams the start of an answer
    // and then holds the stream open, so Stop is pressed while the answer streams, every time.
    // (The tiny local model ends its answers by itself within ~0.1 s, too soon to click.)
    const seen = fixture.requests.length;
    fixture.failNext({ kind: "stall", text: "Adding numbers is the oldest arithmetic. " });
    const view = webview(bench.page, EXTENSION);
    await view.locator("#input").fill("Write a long essay about adding numbers.");
    await view.locator("#input").press("Enter");
    const answer = view.locator(".a").nth(1);
    await answer.filter({ hasText: "Adding numbers is the oldest arithmetic." }).waitFor();
    await view.locator("#stop").click();
    const meta = view.locator(".meta").nth(1);
    await meta.waitFor();
    // The footer names the provider and says the answer was stopped, counting what streamed.
    const footer = /^cloud:fx · fixture-model · (?:.* · )?(\d+) tokens · stopped$/.exec((await meta.textContent())!);
    expect(footer, (await meta.textContent())!).not.toBeNull();
    expect(Number(footer![1])).toBeGreaterThan(0);
    expect(await answer.textContent()).toBe("Adding numbers is the oldest arithmetic. ");
    expect(await view.locator(".err").count()).toBe(0);
    expect(await view.locator("#send").isEnabled()).toBe(true);
    // The cancel reached the provider: the server closed the stalled stream.
    const request = fixture.requests[seen]!;
    expect(request).toMatchObject({ path: "/v1/chat/completions", answer: "stall" });
    await withDeadline(request.closed, 10_000, "the server to close the cloud stream");
    expect(request.aborted).toBe(true);
  });

  it("stops the server from the API, and nothing is left running after VS Code closes", async () => {
    await bench.release();
    const value = step("stop");
    expect(value.alive).toBe(false);
    expect(value.statusText).toMatch(/stopped/);
    expect(bench.finished?.failed).toBe(false);
    // The server's pino lines reach the "ifai-lsp" output channel at their own level, not as errors.
    await vi.waitFor(() => expect(bench.outputLog(EXTENSION, "ifai-lsp")).toMatch(/\[info\] shutdown$/m), { timeout: 10_000 });
    const log = bench.outputLog(EXTENSION, "ifai-lsp");
    expect(log).toMatch(/\[info\] initialize \{"client":\{"name":"code-server"/);
    expect(log).not.toContain("[error]");
    // What became of the suggestions reached the server, which wrote the counts to the local file
    // on shutdown: the ghost text committed in the inline step (its command), the next edit
    // dismissed and accepted.
    const data = JSON.parse(fs.readFileSync(path.join(bench.dirs.cache, "feedback.json"), "utf8"));
    expect(data.kinds.completion.python.accepted).toBeGreaterThanOrEqual(1);
    expect(data.kinds.completion.python.shown).toBeGreaterThanOrEqual(1);
    expect(data.kinds.nextEdit.python).toMatchObject({ accepted: 1, dismissed: 1 });
    await bench.close();
    expect(isAlive(value.pid)).toBe(false);
  });
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
