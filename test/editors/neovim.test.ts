import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeWithEditor, findEditor } from "../helpers/editors.js";
import { makeWorkspace } from "../helpers/indexWorkspace.js";
import { tempDir, tinyModel } from "../helpers/models.js";
import { OpenAIFixture, type RecordedRequest } from "../helpers/openaiFixture.js";

/** A completion the router sent to the cloud (as a chat prompt, or to /completions). */
const isCompletion = (body: any): boolean => body.prompt !== undefined || JSON.stringify(body.messages ?? "").includes("code completion engine");
/** A next-edit request (the instruct format, as a cloud provider gets it). */
const isNextEdit = (body: any): boolean => JSON.stringify(body.messages ?? "").includes("Editable region");
import { binPath, nodeBinary, projectRoot } from "../helpers/paths.js";

/**
 * Drives real headless Neovim (0.7.2 on the CI machines) with the ifai.nvim plugin from
 * clients/neovim against the real server and the tiny model: test/editors/neovim/driver.lua
 * does what a user does and records what Neovim showed; the assertions are made here on that
 * record. The "Add documentation comment" action is routed to an OpenAI-compatible fixture with
 * a scripted reply, because the tiny model's random weights never produce a usable edit.
 */
const nvim = findEditor("nvim");
const pluginDir = path.join(projectRoot, "clients", "neovim");
const driver = path.join(projectRoot, "test", "editors", "neovim", "driver.lua");

const MATH = "export function addNumbers(a: number, b: number): number {\n  return a + b;\n}\n";
const SCALE = "export function scale(value: number, factor: number): number {\n  const result = val\n  return result;\n}\n";
const DOC = "/** Adds two numbers and returns their sum. */";
const RANGE_ANSWER = "It returns the sum of a and b.";
const AREA = "export function area(w: number, h: number): number {\n  return w * h;\n}\n";
/** The file after the user renamed `w` to `width` on the first line, and after the suggestion. */
const AREA_RENAMED = AREA.replace("area(w:", "area(width:");
const AREA_DONE = AREA_RENAMED.replace("return w *", "return width *");

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  result: any;
}

describeWithEditor("Neovim client (clients/neovim)", nvim, (nvimPath) => {
  // Made in beforeAll, so a skipped block leaves nothing behind.
  let workspace: ReturnType<typeof makeWorkspace>;
  let scratch: ReturnType<typeof tempDir>;
  let pidFile = "";
  let fixture: OpenAIFixture | undefined;
  let child: ChildProcess | undefined;
  let run: Run | undefined;
  /** The chat-API requests of the actions and chats (the ghost text's completion requests left out). */
  const chats = (): RecordedRequest[] => fixture!.requests.filter((r) => r.path === "/v1/chat/completions" && !isCompletion(r.body) && !isNextEdit(r.body));
  const steps = (): Record<string, any> => {
    if (!run?.result?.ok) {
      throw new Error(`the Neovim driver failed (exit ${run?.code}, signal ${run?.signal}): ${run?.result?.error ?? "no result file"}\n--- nvim stderr ---\n${run?.stderr}\n--- lsp.log (end) ---\n${lspLog().slice(-4000)}`);
    }
    return run!.result.steps;
  };
  const lspLog = (): string => {
    const file = path.join(scratch.path, "xdg-cache", "nvim", "lsp.log");
    return fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
  };

  beforeAll(async () => {
    workspace = makeWorkspace({ "package.json": '{ "name": "demo" }\n', "src/math.ts": MATH, "src/scale.ts": SCALE });
    scratch = tempDir("ifai-nvim-");
    pidFile = path.join(scratch.path, "server.pid");
    const modelPath = await tinyModel();
    fixture = new OpenAIFixture(modelPath);
    await fixture.start();
    // The other cloud requests of the run, in order: the documentation action (router.taskPreference.docs),
    // "Generate unit tests" answered with code that is no test and does not parse (refused), then, after :IfaiBackend cloud, the chat cancelled with its key (a stream that stays open until
    // the server closes it) and the chat about selected lines.
    // The ghost text request overtaken by a keystroke goes to the cloud, which never answers it:
    // it ends in the server's debounce or by its cancel, never by itself. The newer one is answered
    // by the model.
    // Only the overtaken one: the newer one's prompt has the typed ";" right before the cursor.
    fixture.when((body) => isCompletion(body) && !JSON.stringify(body).includes(";<CURSOR>"), { kind: "hang" });
    fixture.when(isCompletion);
    // Next edits go to the fixture (router.taskPreference.nextEdit): once the rename is typed
    // (the cursor right after "width"), the rewrite that renames the use on the next line; any
    // other state (a request while typing) is answered by the tiny model, which never takes
    // what was queued for the other requests below.
    fixture.when(
      (body) => isNextEdit(body) && JSON.stringify(body).includes("width<|cursor|>"),
      ...Array.from({ length: 16 }, () => ({ kind: "reply" as const, text: "```typescript\n" + AREA_DONE.trimEnd() + "\n```" })),
    );
    fixture.when(isNextEdit);
    fixture.failNext({ kind: "reply", text: `\`\`\`ts\n${DOC}\n${MATH}\`\`\`` });
    fixture.failNext({ kind: "reply", text: "```ts\nexport function addNumbers(a: number, b: number: number {\n```" });
    fixture.failNext({ kind: "stall", text: "One, two, three, four, " });
    fixture.failNext({ kind: "reply", text: RANGE_ANSWER });
    const spec = {
      node: nodeBinary,
      bin: binPath,
      result: path.join(scratch.path, "result.json"),
      pidfile: pidFile,
      files: { math: path.join(workspace.root, "src", "math.ts"), scale: path.join(workspace.root, "src", "scale.ts"), area: path.join(workspace.root, "src", "area.ts") },
      settings: {
        model: { path: modelPath, threads: 1, batchSize: 32 },
        // A short server-side debounce: a request the plugin cancels right after sending it is
        // then always still waiting when $/cancelRequest arrives, however busy the machine is.
        // The full prompt on every request, so the tiny model's random text does not depend on
        // how far the background prefill got (the first-prompt lane is tested in completionPrefill).
        completion: { debounceMs: 50, maxTokens: 6, maxMultilineTokens: 6, firstPrefixTokens: 0 },
        // Greedy sampling.
        chat: { temperature: 0, maxTokens: 400, contextSize: 1024 },
        cloud: { providers: { fx: { baseUrl: fixture.baseUrl, model: "fixture-model" } }, maxRetries: 0, cooldownSeconds: 0 },
        router: { preference: "local", fallback: false, taskPreference: { docs: "cloud", unitTests: "cloud", nextEdit: "cloud" } },
        actions: { contextTokens: 0 },
      },
      completion: { line: 1 },
      ghost: { line: 1, accept: "<C-f>", dismiss: "<C-]>", typed: ";", retry: "ue_factor" },
      // The step writes src/area.ts when it starts, so that the earlier steps' prompts (and with
      // them the tiny model's answers) do not depend on it.
      next_edit: { source: AREA, debounce_ms: 100, rename_col: "export function area(".length, typed: "idth", edit_line: 1, jump: "<M-n>", accept: "<M-y>", dismiss: "<M-d>" },
      action: { line: 1, character: 4, title: "AI: Add documentation comment" },
      refused: { title: "AI: Generate unit tests" },
      chat: { question: "@codebase where is addNumbers defined?" },
      cancel: { question: "Count to one thousand.", key: "<C-c>" },
      range: { lines: "1,2", question: "Explain this." },
    };
    const specFile = path.join(scratch.path, "spec.json");
    fs.writeFileSync(specFile, JSON.stringify(spec));

    let stderr = "";
    // Paths travel in the environment, so spaces in them need no Vim escaping.
    const args = ["--headless", "-u", "NONE", "-i", "NONE", "-n", "--cmd", "lua vim.opt.rtp:prepend(os.getenv('IFAI_NVIM_PLUGIN'))", "-c", "lua dofile(os.getenv('IFAI_NVIM_DRIVER'))"];
    child = spawn(nvimPath, args, {
      cwd: workspace.root,
      // Neovim's own files (lsp.log, shada, swap) go to the scratch folder, not the user's.
      env: {
        ...process.env,
        IFAI_CACHE_DIR: path.join(scratch.path, "cache"),
        IFAI_NVIM_SPEC: specFile,
        IFAI_NVIM_PLUGIN: pluginDir,
        IFAI_NVIM_DRIVER: driver,
        XDG_CONFIG_HOME: path.join(scratch.path, "config"),
        XDG_CACHE_HOME: path.join(scratch.path, "xdg-cache"),
        XDG_DATA_HOME: path.join(scratch.path, "data"),
        XDG_STATE_HOME: path.join(scratch.path, "state"),
      },
      stdio: ["ignore", "ignore", "pipe"],
    });
    child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child!.once("exit", (code, signal) => resolve({ code, signal })));
    // The driver has its own deadlines per step; this one only catches a Neovim that hangs.
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      timer = setTimeout(() => {
        child?.kill("SIGKILL");
        resolve({ code: null, signal: "SIGKILL" });
      }, 50_000);
    });
    const { code, signal } = await Promise.race([exited, deadline]);
    clearTimeout(timer);
    const resultText = fs.existsSync(spec.result) ? fs.readFileSync(spec.result, "utf8") : "";
    run = { code, signal, stderr, result: resultText ? JSON.parse(resultText) : undefined };
  }, 60_000);

  afterAll(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    // Whatever failed, no server is left running.
    const pid = pidFile && fs.existsSync(pidFile) ? Number(fs.readFileSync(pidFile, "utf8").trim()) : NaN;
    if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) process.kill(pid, "SIGKILL");
    await fixture?.stop();
    workspace?.cleanup();
    scratch?.cleanup();
  });

  it("starts the server for a TypeScript file through setup() and shares it between the project's files", () => {
    const { attach } = steps();
    expect(attach.filetype).toBe("typescript");
    expect(attach.clients).toBe(1);
    expect(attach.pid).toBeGreaterThan(0);
    expect(attach.omnifunc).toBe("v:lua.vim.lsp.omnifunc");
    expect(attach.index).toMatchObject({ state: "ready", mode: "lexical" });
  });

  it("asks the model for completion items at the cursor", () => {
    const { completion } = steps();
    expect(completion.position).toEqual({ line: 1, character: "  const result = val".length });
    expect(completion.isIncomplete).toBe(true);
    expect(completion.metrics.source).toBe("model");
    // The plugin told the server about the buffer it entered (ifai/didFocus).
    expect(completion.focus_prefills).toBeGreaterThan(0);
    // And about the place the cursor rested in normal mode (CursorHold), once per new place.
    expect(completion.rest_focus).toBe(true);
    expect(completion.rest_again_prefills).toBe(1);
    // And when Neovim got the terminal's focus back (FocusGained).
    expect(completion.regained_focus).toBe(true);
    expect(completion.metrics.promptTokens).toBeGreaterThan(0);
    for (const item of completion.items) expect(item.textEdit.newText.startsWith("val")).toBe(true);
  });

  it("shows the server's inline suggestion as ghost text (extmarks) after entering insert mode at the end of a line", () => {
    const { ghost } = steps();
    // Typed in insert mode at the end of "  const result = val" until the model suggested something.
    expect(ghost.line).toBe(`  const result = val${"ue_factor".slice(0, ghost.attempts)}`);
    // The same request sent directly: the server's suggestion at the cursor (temperature 0, so the same).
    const item = ghost.direct.items[0];
    expect(item.insertText.length).toBeGreaterThan(0);
    expect(item.range.start).toEqual(ghost.position);
    expect(ghost.shown.cursor).toEqual([2, ghost.line.length]);
    expect(ghost.shown.text).toBe(item.insertText);
    expect(ghost.shown.marks).toHaveLength(1);
    const [, row, col, details] = ghost.shown.marks[0];
    expect([row, col]).toEqual([1, ghost.line.length]);
    // Virtual text would show a tab as one odd cell; the plugin draws it as spaces ('tabstop' 8).
    const [first, ...rest] = item.insertText.replace(/\t/g, " ".repeat(8)).split("\n");
    // Neovim 0.7-0.9 have no inline virtual text; at the end of a line an overlay covers nothing.
    expect(details.virt_text_pos).toBe("overlay");
    expect((details.virt_text ?? []).map((chunk: string[]) => chunk[0]).join("")).toBe(first);
    expect((details.virt_lines ?? []).map((l: string[][]) => l.map((chunk) => chunk[0]).join(""))).toEqual(rest);
    for (const chunk of details.virt_text ?? []) expect(chunk[1]).toBe("IfaiGhostText");
    // What Neovim drew: the line, then the suggestion where the cursor is (the model's text is
    // random; cell-by-cell comparison only holds for printable ASCII that fits the 80 columns).
    const drawn = ghost.line + first;
    if (/^[\x20-\x7e]*$/.test(drawn) && drawn.length <= 80) expect(ghost.shown.screen[0]).toBe(drawn.trimEnd());
    else expect(ghost.shown.screen[0].startsWith(ghost.line)).toBe(true);
  });

  it("dismisses the ghost text with <C-]>, and <C-f> inserts exactly the suggestion and clears the extmarks", () => {
    const { ghost } = steps();
    const item = ghost.direct.items[0];
    expect(ghost.dismissed).toEqual({ marks: 0, line: ghost.line });
    // Asked again after typing and deleting a character: the same suggestion, from the server's cache.
    expect(ghost.again).toBe(item.insertText);
    const accepted = (ghost.line + item.insertText).split("\n");
    const lines = SCALE.replace(/\n$/, "").split("\n");
    expect(ghost.accepted.change.lines).toEqual([lines[0], ...accepted, ...lines.slice(2)]);
    expect(ghost.accepted.change.marks).toBe(0);
    // Neovim counts columns in bytes; the random model's suggestion may hold non-ASCII characters.
    expect(ghost.accepted.cursor).toEqual([1 + accepted.length, Buffer.byteLength(accepted.at(-1)!, "utf8")]);
    // Leaving insert mode leaves no ghost text behind.
    expect(ghost.after_insert).toEqual({ marks: 0, mode: "n" });
  });

  it("cancels the ghost text request in flight when a newer keystroke comes, and the newer one is answered", () => {
    const { ghost } = steps();
    const accepted = (ghost.line + ghost.direct.items[0].insertText).split("\n");
    expect(ghost.cancel.id).toBeGreaterThan(0);
    expect(ghost.cancel.client_cancelled).toBe(true);
    expect(ghost.cancel.line).toBe(`${accepted.at(-1)};`);
    // $/cancelRequest reached the server and stopped that completion; the newer one ran.
    expect(ghost.cancel.sources).toContain("cancelled");
    expect(ghost.cancel.sources.at(-1)).not.toMatch(/cancelled|superseded/);
    // The cancel reached the provider: the server closed the request that was never to be answered.
    // If the overtaken request got past the server's debounce, the cancel closed its cloud request.
    const hung = fixture!.requests.filter((r) => r.answer === "hang");
    for (const r of hung) expect(r.aborted).toBe(true);
    // The fixture tells the two requests apart by the typed ";" before the cursor: the accepted
    // text itself must not end with one.
    expect(ghost.cancel.line.endsWith(";;")).toBe(false);
  });

  it(":IfaiGhostText off stops the requests; the server offers inline completion because the plugin asks for it", () => {
    const { ghost } = steps();
    expect(ghost.off.message).toBe("ifai: ghost text off");
    expect(ghost.off.after).toEqual(ghost.off.before);
    expect(ghost.off.marks).toBe(0);
    expect(ghost.off.busy).toBe(false);
    // Every inline completion request the client sent was the plugin's, but for the test's own one.
    expect(ghost.inline_sent).toBe(ghost.stats.requests + 1);
    expect(ghost.provider).toBe(true);
    expect(ghost.init_inline).toBe("on");
    // With ghost_text = false the plugin leaves completion.inline alone (the server's default: auto).
    expect(ghost.init_without).toBe(true);
  });

  it("after a pause, shows the next edit away from the cursor as a diff (removed text highlighted, the new line as a virtual line)", () => {
    const { next_edit } = steps();
    expect(next_edit.before).toEqual(AREA.replace(/\n$/, "").split("\n"));
    const { shown } = next_edit;
    expect(shown.lines).toEqual(AREA_RENAMED.replace(/\n$/, "").split("\n"));
    // The cursor stayed where the user typed (line 1, after "width"); the suggestion is on line 2.
    expect(shown.cursor).toEqual([1, "export function area(width".length]);
    expect(shown.params).toMatchObject({ position: { line: 0, character: "export function area(width".length }, context: { triggerKind: 2 } });
    expect(shown.edits).toEqual([
      expect.objectContaining({ range: { start: { line: 1, character: 9 }, end: { line: 1, character: 10 } }, text: "width", textDocument: { uri: expect.stringMatching(/area\.ts$/), version: shown.params.textDocument.version } }),
    ]);
    // One highlight over the "w" that goes, one block of virtual lines with the line as it would read.
    const deleted = shown.marks.filter((m: any[]) => m[3].hl_group === "IfaiNextEditDelete");
    expect(deleted.map((m: any[]) => [m[1], m[2], m[3].end_row, m[3].end_col])).toEqual([[1, 9, 1, 10]]);
    const added = shown.marks.filter((m: any[]) => m[3].virt_lines);
    expect(added).toHaveLength(1);
    expect(added[0][1]).toBe(1);
    expect(added[0][3].virt_lines.map((l: string[][]) => l.map((c) => c[0]).join(""))).toEqual(["  return width * h;"]);
    expect(added[0][3].virt_lines[0][0][1]).toBe("IfaiNextEditInsert");
    expect(next_edit.show_sent).toBe(1);
  });

  it("dismisses the next edit with its key, asks again with the latest request winning, and never applies it to a changed buffer", () => {
    const { next_edit } = steps();
    const renamed = AREA_RENAMED.replace(/\n$/, "").split("\n");
    expect(next_edit.dismissed).toEqual({ marks: 0, lines: renamed, notified: 1, mode: "i" });
    expect(next_edit.latest.second).toBeGreaterThan(next_edit.latest.first);
    // Asked by the user: answered even where next edits would be quiet.
    expect(next_edit.latest.params.context).toEqual({ triggerKind: 1 });
    // Accepting after the buffer changed applies nothing and clears the suggestion.
    expect(next_edit.stale.accepted).toBe(false);
    expect(next_edit.stale.refused).toBe(1);
    expect(next_edit.stale.marks).toBe(0);
    expect(next_edit.stale.lines).toEqual([...renamed.slice(0, 2), "// x}"]);
  });

  it("jumps to the next edit with its key and accepts it: the buffer is exactly the suggested text, and the accept command runs", () => {
    const { next_edit } = steps();
    expect(next_edit.jumped).toEqual({ cursor: [2, 9], visible: true });
    expect(next_edit.accepted.lines).toEqual(AREA_DONE.replace(/\n$/, "").split("\n"));
    expect(next_edit.accepted.marks).toBe(0);
    expect(next_edit.accepted.cursor).toEqual([2, "  return width".length]);
    const accept = next_edit.commands.filter((c: any) => c.command === "ifai.nextEdit.accepted");
    expect(accept).toHaveLength(1);
    expect(accept[0].arguments[0]).toMatchObject({ id: expect.any(String), uri: expect.stringMatching(/area\.ts$/) });
    // The request after accepting found nothing more to suggest.
    expect(next_edit.after_accept).toEqual({ visible: false, lines: AREA_DONE.replace(/\n$/, "").split("\n") });
    expect(next_edit.stats).toMatchObject({ accepted: 1, dismissed: 1, refused: 1 });
    expect(next_edit.stats.shown).toBeGreaterThanOrEqual(3);
  });

  it("applies a code action picked by title through vim.lsp.buf.code_action and codeAction/resolve", () => {
    const { code_action } = steps();
    expect(code_action.titles).toContain("AI: Add documentation comment");
    expect(code_action.titles).toContain("AI: Explain");
    expect(code_action.before).toBe(MATH.replace(/\n$/, ""));
    expect(code_action.after).toBe(`${DOC}\n${MATH}`.replace(/\n$/, ""));
    const sent = chats();
    expect(JSON.stringify(sent[0]!.body.messages)).toContain("addNumbers");
  });

  it("a refused action (no edit) is resolved once, changes nothing and shows the reason", () => {
    const { refused_action } = steps();
    expect(refused_action.picked).toBe(true);
    expect(refused_action.unchanged).toBe(true);
    expect(refused_action.reason).toMatch(/nothing was changed: the model's reply holds no \S+ test/);
    const sent = chats();
    expect(sent.map((r) => r.answer)).toEqual(["reply", "reply", "stall", "reply"]);
  });

  it(":IfaiChat streams an @codebase answer into a split buffer, then shows sources, route and model", () => {
    const { chat } = steps();
    expect(chat.error).toBeUndefined();
    expect(chat.windows).toBe(2);
    expect(chat.current_is_chat).toBe(true);
    expect(chat.deltas).toBeGreaterThan(1);
    expect(chat.buffer_changes).toBeGreaterThan(1);
    // Seen while streaming: part of the answer, no footer yet.
    expect(chat.streaming_snapshot).toMatch(/^You: @codebase where is addNumbers defined\?\n\nifai: ./);
    expect(chat.streaming_snapshot).not.toContain("— local");
    const r = chat.result;
    expect(r.route.servedBy).toBe("local");
    expect(r.sources[0].path).toBe("src/math.ts");
    expect(chat.text).toContain(`ifai: ${r.content}`);
    expect(chat.text).toMatch(/\nSources: src\/math\.ts:1(-\d+)?/);
    expect(chat.text).toContain(`— local · ${r.model} · ${r.usage.completionTokens} tokens`);
  });

  it("cancels a streaming answer with the chat buffer's key and shows [cancelled]", () => {
    const { chat_cancel } = steps();
    expect(chat_cancel.backend_message).toMatch(/^ifai: backend cloud \(was local\)/);
    expect(chat_cancel.done_before_key).toBe(false);
    expect(chat_cancel.cancelled).toBe(true);
    expect(chat_cancel.result.stopReason).toBe("aborted");
    expect(chat_cancel.text).toMatch(/^You: Count to one thousand\.\n\nifai: /);
    expect(chat_cancel.text).toContain("\n[cancelled]\n");
    expect(chat_cancel.text).not.toContain("@codebase");
    // The cancel reached the provider: the server closed the stream that could not end by itself.
    const stalled = chats()[2]!;
    expect(stalled).toMatchObject({ answer: "stall", aborted: true });
  });

  it(":IfaiChat over a range sends the selected lines; after :IfaiBackend cloud it goes to the provider", () => {
    const { chat_range } = steps();
    expect(chat_range.source).toBe(path.join(workspace.root, "src", "math.ts"));
    expect(chat_range.result).toMatchObject({ content: RANGE_ANSWER, route: { servedBy: "cloud:fx" }, model: "fixture-model" });
    const [body, footer] = chat_range.text.split("\n\n— ");
    expect(body).toBe(`You: Explain this.\n(lines 1-2 of src/math.ts)\n\nifai: ${RANGE_ANSWER}`);
    expect(footer).toMatch(new RegExp(`^cloud:fx · fixture-model · ${chat_range.result.usage.completionTokens} tokens · [\\d.]+ tok/s · end-of-generation\n$`));
    const sent = chats();
    expect(sent).toHaveLength(4);
    // The code is the buffer's, documentation comment included: the selection is of what the editor shows.
    expect(sent[3]!.body.messages[0].content).toContain(`The user selected this code in src/math.ts (lines 1–2):\n\`\`\`typescript\n${DOC}\n${MATH.split("\n")[0]}\n\`\`\``);
  });

  it(":IfaiBackend, :IfaiStatus, :IfaiModels and :IfaiReindex report the server's answers", () => {
    const s = steps();
    expect(s.backend.message).toMatch(/^ifai: backend local \(was cloud\)/);
    expect(s.backend.backend).toEqual({ preference: "local", source: "command", localOnly: false });
    expect(s.backend.completions).toEqual(["local", "cloud", "auto"]);
    expect(s.status.message).toMatch(/model: ready — .*\.gguf/);
    expect(s.status.message).toMatch(/backend: local \(from command\)/);
    expect(s.status.message).toMatch(/index: ready, lexical search, \d+ chunks/);
    // ifai/status carries what became of the suggestions (the next-edit step accepted one).
    expect(s.status.message).toMatch(/suggestions: ghost text \d+ of \d+ accepted, next edits 1 of \d+ accepted/);
    expect(s.models.message).toMatch(/^ifai: models in /);
    expect(s.models.message).toContain("qwen2.5-coder-0.5b");
    expect(s.reindex.message).toMatch(/^ifai: reindexing 1 folder/);
    // Work-done progress reached the plugin through Neovim's own $/progress handling.
    expect(s.reindex.progress).toContain("ifai: indexing:end");
  });

  it("offers a status line with backend, model state and tokens/s", () => {
    const { statusline } = steps();
    expect(statusline.text).toMatch(/^ifai: local · ready · \d+ tok\/s$/);
  });

  it("sent what became of its ghost text and next edits; the server kept the counts in the local file", () => {
    steps();
    const data = JSON.parse(fs.readFileSync(path.join(scratch.path, "cache", "feedback.json"), "utf8"));
    const ghost = data.kinds.completion.typescript;
    // Shown at least twice (before the dismiss key, and again before <C-f>), dismissed once, accepted once.
    expect(ghost.shown).toBeGreaterThanOrEqual(2);
    expect(ghost.accepted).toBeGreaterThanOrEqual(1);
    expect(ghost.dismissed).toBeGreaterThanOrEqual(1);
    const next = data.kinds.nextEdit.typescript;
    expect(next).toMatchObject({ accepted: 1, dismissed: 1 });
    expect(next.shown).toBe(steps().next_edit.stats.shown);
  });

  it("stops the server cleanly, and Neovim exits 0 with no error reported", () => {
    const { shutdown } = steps();
    expect(shutdown.exit).toEqual({ code: 0, signal: 0 });
    expect(shutdown.alive_after_stop).toBe(false);
    expect(isAlive(run!.result.server_pid)).toBe(false);
    expect(run!.code).toBe(0);
    expect(run!.result.errmsg).toBe("");
    expect(run!.result.messages.filter((m: { level: number }) => m.level >= 4)).toEqual([]);
    expect(run!.stderr).not.toMatch(/Error|stack traceback/);
  });
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
