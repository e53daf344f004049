import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeWithEditor, findEditor } from "../helpers/editors.js";
import { makeWorkspace } from "../helpers/indexWorkspace.js";
import { tempDir, tinyModel } from "../helpers/models.js";
import { OpenAIFixture } from "../helpers/openaiFixture.js";

/** A completion the router sent to the cloud (as a chat prompt, or to /completions). */
const isCompletion = (body: any): boolean => body.prompt !== undefined || JSON.stringify(body.messages ?? "").includes("code completion engine");
/** A next-edit request (the instruct format, as a cloud provider gets it). */
const isNextEdit = (body: any): boolean => JSON.stringify(body.messages ?? "").includes("Editable region");
import { binPath, nodeBinary, projectRoot } from "../helpers/paths.js";

/**
 * clients/emacs/ifai.el in real headless Emacs against the real server and the tiny model:
 * test/editors/emacs/driver.el uses the package as a user would (eglot started on a Python file,
 * completion through eglot's capf, a code action through eglot-code-actions, a streamed @codebase
 * chat, a chat cancelled with C-c C-k, ghost text from ifai-ghost-mode, a backend switch,
 * eglot-shutdown) and writes what it saw.
 * Emacs 28 runs with Debian's eglot 1.9; Emacs 30.1 (eglot 1.17) from .ci/editors-emacs30.sh.
 */
const clientDir = path.join(projectRoot, "clients", "emacs");
const driver = path.join(projectRoot, "test", "editors", "emacs", "driver.el");
const EMACS30 = process.env.IFAI_EMACS30 ?? "/opt/emacs30/bin/emacs";
const DOC = '"""Add two numbers and return the sum."""';
const BROKEN = "```python\ndef greeting_for(name:\n    return 'Hello, ' + name\n```";
const APP = "def add_numbers(a, b):\n    return a + b\n\n\ndef greeting_for(name):\n    return 'Hello, ' + name\n";
const AREA = "def area(w, h):\n    return w * h\n";
const AREA_RENAMED = AREA.replace("area(w,", "area(width,");
const AREA_DONE = AREA_RENAMED.replace("return w *", "return width *");

/** Debian's elpa-eglot (1.9) is not on Emacs 28's load-path under -Q; Emacs 29+ bundles eglot. */
function eglotDirs(version: string | undefined): string[] {
  const elpa = "/usr/share/emacs/site-lisp/elpa";
  if (!/Emacs 2[0-8]\./.test(version ?? "") || !fs.existsSync(elpa)) return [];
  return fs.readdirSync(elpa).filter((d) => /^eglot-\d/.test(d)).map((d) => path.join(elpa, d));
}

interface DriverRun {
  code: number | null;
  output: string;
  result: Record<string, any>;
}

function runDriver(emacs: string, loadPath: string[], env: Record<string, string>, resultFile: string): Promise<DriverRun> {
  const args = ["--batch", "-Q", "-L", clientDir, ...loadPath.flatMap((dir) => ["-L", dir]), "-l", driver];
  const child = spawn(emacs, args, { env: { ...process.env, ...env, IFAI_RESULT: resultFile }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((resolve, reject) => {
    // The driver has its own deadline; this one only catches an Emacs that hangs outside Lisp.
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`emacs did not exit within 60 s:\n${output}`));
    }, 60_000);
    child.on("error", reject);
    child.on("exit", (code) => {
      clearTimeout(timer);
      const result = fs.existsSync(resultFile) ? (JSON.parse(fs.readFileSync(resultFile, "utf8")) as Record<string, any>) : {};
      resolve({ code, output, result });
    });
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

interface Expectations {
  /** How the driver names the eglot it loaded: the library path (1.9) or its version list. */
  eglot: RegExp;
  /** The JSON-RPC methods the documentation action goes through. */
  actionMethods: string[];
}

function scenario(emacs: string, loadPath: string[], expected: Expectations): void {
  const cache = tempDir("ifai-emacs-cache-");
  const workspace = makeWorkspace({
    "app.py": APP,
    "geometry.py": "def rectangle_area(width, height):\n    return width * height\n",
  });
  let fixture: OpenAIFixture;
  let run: DriverRun;
  let r: Record<string, any>;

  beforeAll(async () => {
    const modelPath = await tinyModel();
    // The cloud provider is a local OpenAI-compatible fixture whose scripted reply makes the
    // documentation action's edit predictable (the tiny model's own text is random).
    fixture = new OpenAIFixture(modelPath);
    await fixture.start();
    fixture.failNext({ kind: "reply", text: `\`\`\`python\ndef add_numbers(a, b):\n    ${DOC}\n    return a + b\n\`\`\`` });
    // Then "Generate unit tests" at greeting_for, answered with code that does not parse (refused),
    // and the chat cancelled with C-c C-k: its stream stays open until the server closes it.
    fixture.failNext({ kind: "reply", text: BROKEN });
    fixture.failNext({ kind: "stall", text: "add_numbers adds a and b. It is the simplest " });
    // The ghost text's first trigger (at the end of "' + name") is held in the cloud, never
    // answered; the second, one character back, is answered by the model.
    fixture.when((body) => isCompletion(body) && JSON.stringify(body).includes("+ name<CURSOR>"), { kind: "hang" });
    fixture.when(isCompletion);
    // Next edits go to the fixture: once the rename is typed (point right after "width"), the
    // rewrite that renames the use on the next line; any other state is the tiny model's.
    fixture.when(
      (body) => isNextEdit(body) && JSON.stringify(body).includes("width<|cursor|>"),
      ...Array.from({ length: 12 }, () => ({ kind: "reply" as const, text: "```python\n" + AREA_DONE.trimEnd() + "\n```" })),
    );
    fixture.when(isNextEdit);
    const init = {
      model: { path: modelPath, threads: 1, batchSize: 32 },
      // A debounce keeps a ghost request in flight long enough for the client's $/cancelRequest
      // to reach it (source "cancelled"); the tiny model answers 6 tokens in a few ms.
      // The full prompt on every request: which prompt serves a first suggestion depends on how far
      // the background prefill got, and the tiny model's random text differs between the two
      // (it may be empty for one). The first-prompt lane has tests of its own (completionPrefill).
      // The whole prefix before the suffix, too: with the cursor's line after the middle marker
      // the tiny model's random answer at the ghost text's position is empty. The Neovim and
      // VS Code tests run that layout (the default); middleAnchors.test.ts tests it.
      completion: { debounceMs: 200, maxTokens: 6, maxMultilineTokens: 6, firstPrefixTokens: 0, middleLines: 0 },
      chat: { temperature: 0, maxTokens: 2000, contextSize: 4096 },
      cloud: { providers: { fx: { baseUrl: fixture.baseUrl, model: "fixture-model" } }, maxRetries: 0, cooldownSeconds: 0 },
      router: { preference: "local", fallback: false, taskPreference: { docs: "cloud", unitTests: "cloud", nextEdit: "cloud" } },
    };
    run = await runDriver(
      emacs,
      loadPath,
      {
        IFAI_SERVER_COMMAND: JSON.stringify([nodeBinary, binPath, "--stdio"]),
        IFAI_INIT_OPTIONS: JSON.stringify(init),
        IFAI_WORKSPACE: workspace.root,
        IFAI_CACHE_DIR: cache.path,
        // The next-edit step writes this file when it starts, so that the earlier steps' prompts
        // (and with them the tiny model's answers) do not depend on it.
        IFAI_NES_SOURCE: AREA,
      },
      path.join(cache.path, "result.json"),
    );
    r = run.result;
    // IFAI_DEBUG_DRIVER=file.json keeps everything the driver saw, for looking into a failure.
    if (process.env.IFAI_DEBUG_DRIVER) fs.writeFileSync(process.env.IFAI_DEBUG_DRIVER, JSON.stringify({ ...r, output: run.output }, null, 2));
    if (run.code !== 0) throw new Error(`driver failed (exit ${run.code}): ${r.error ?? "no result"}\n${run.output}`);
  }, 90_000);

  afterAll(async () => {
    await fixture?.stop();
    // Whatever happened, no server may outlive the test.
    if (r?.server_pid && isAlive(r.server_pid)) process.kill(r.server_pid, "SIGKILL");
    cache.cleanup();
    workspace.cleanup();
  });

  it("byte-compiles the package without a warning", () => {
    const outDir = path.join(cache.path, "elc");
    fs.mkdirSync(outDir, { recursive: true });
    const compile = spawnSync(
      emacs,
      [
        "--batch", "-Q", "-L", clientDir, ...loadPath.flatMap((dir) => ["-L", dir]),
        "--eval", `(setq byte-compile-error-on-warn t byte-compile-dest-file-function (lambda (f) (expand-file-name (concat (file-name-nondirectory f) "c") ${JSON.stringify(outDir)})))`,
        "-f", "batch-byte-compile", ...["ifai.el", "ifai-chat.el", "ifai-ghost.el", "ifai-nes.el"].map((f) => path.join(clientDir, f)),
      ],
      { encoding: "utf8", timeout: 30_000 },
    );
    expect(compile.stderr).not.toMatch(/Warning|Error/);
    expect(compile.status).toBe(0);
    expect(fs.readdirSync(outDir).sort()).toEqual(["ifai-chat.elc", "ifai-ghost.elc", "ifai-nes.elc", "ifai.elc"]);
  });

  it("refuses a missing server program with a clear error instead of starting it", () => {
    expect(r.missing_binary_error).toMatch(/^ifai: cannot run .\/nonexistent\/ifai-lsp.; install ifai-lsp .* or set .ifai-server-command.$/);
  });

  it("starts the server through eglot for a Python buffer", () => {
    expect(r.major_mode).toBe("python-mode");
    expect(r.server_pid).toBeGreaterThan(0);
    expect(JSON.stringify(r.eglot)).toMatch(expected.eglot);
  });

  it("offers the AI completion through eglot's completion-at-point table", () => {
    expect(r.completion_items.length).toBeGreaterThan(0);
    expect(r.completion_items.every((item: string) => item.startsWith("b"))).toBe(true);
  });

  it("applies the documentation code action chosen by kind through eglot-code-actions", () => {
    expect(r.after_action).toBe(APP.replace("b):\n", `b):\n    ${DOC}\n`));
    expect(r.action_methods).toEqual(expected.actionMethods);
    expect(fixture.requests.some((req) => req.answer === "reply" && req.path === "/v1/chat/completions")).toBe(true);
  });

  it("ends a refused code action after one round: one cloud call, the buffer unchanged", () => {
    // eglot 1.17 resolved an action answered without edit and command again, without end.
    // The cloud calls of the run, in order: the documentation action, the refused one, the cancelled chat.
    const asked = fixture.requests.filter((req) => req.path === "/v1/chat/completions" && !isCompletion(req.body) && !isNextEdit(req.body));
    expect(asked.map((req) => req.answer)).toEqual(["reply", "reply", "stall"]);
    expect(asked[1]!.body.messages.at(-1).content).toContain("def greeting_for(name):");
    expect(r.refusal_unchanged).toBe(true);
    expect(r.refusal_resolve_mentions).toBe(r.docs_resolve_mentions);
    expect(r.refusal_command_mentions).toBe(r.docs_command_mentions);
  });

  it("streams an @codebase chat into the chat buffer, with route, model and source buttons", () => {
    expect(r.chat1_status).toBe("done");
    expect(r.chat1_deltas).toBeGreaterThan(1);
    const answer: string = r.chat1_result.content;
    expect(answer.length).toBeGreaterThan(0);
    expect(r.chat_buffer).toContain("── You ──\n@codebase where is add_numbers defined?  (app.py)\n── ifai ──\n" + answer);
    expect(r.chat_buffer).toMatch(/\[route: local \(preference\) · model: \S+\.gguf · \d+ tokens/);
    expect(r.chat1_result.sources.length).toBeGreaterThan(0);
    const source = r.chat1_result.sources.find((s: any) => s.path === "app.py");
    expect(source).toBeDefined();
    expect(r.chat_buttons).toContain(`app.py:${source.range.start.line + 1}`);
    expect(r.button_visits).toBe(`app.py:${r.chat_buttons[0].split(":")[1]}`);
  });

  it("cancels a streaming chat with C-c C-k: the server stops and the buffer says so", () => {
    expect(r.chat2_status).toBe("cancelled");
    expect(r.chat2_stop_reason).toBe("aborted");
    expect(r.chat2_deltas).toBeGreaterThan(0);
    // The cancel reached the provider: the server closed the stream that could not end by itself.
    const stalled = fixture.requests.find((req) => req.answer === "stall");
    expect(stalled?.aborted).toBe(true);
    expect(r.chat_buffer).toMatch(/Explain add_numbers in detail\.  \(app\.py, selection\)\n[\s\S]*\n\[cancelled\]\n/);
  });

  it("streams the Explain action's answer into a section of the chat buffer", () => {
    expect(r.explain_ids).toHaveLength(1);
    expect(r.chat_buffer).toContain(`── ${r.explain_ids[0]} ──\n`);
  });

  it("switches the backend to local and shows it in the mode line", () => {
    expect(r.mode_line).toMatch(/ifai\[local·(ready|loading|unloaded)/);
  });

  it("shows the model status, lists the models and starts a reindex", () => {
    expect(r.status_state).toBe("ready");
    expect(r.models_listed).toBeGreaterThan(0);
    expect(r.models_buffer).toMatch(/^Models folder: .+\n\n[\s\S]*\* in use, \+ installed\n$/);
    expect(["starting", "scanning", "indexing", "ready"]).toContain(r.reindex_state);
  });

  it("asks for inline completion (eglot does not advertise it) and turns ifai-ghost-mode on", () => {
    expect(r.inline_provider).toBe(true);
    expect(r.ghost_mode).toBe(true);
    // Inline completion is switched on beside the user's keys unless they set it "off".
    expect(r.options_merge).toEqual([
      JSON.stringify({ completion: { inline: "off", maxTokens: 9 } }),
      JSON.stringify({ "completion.maxTokens": 9, "completion.inline": "on" }),
      JSON.stringify({ ifai: { completion: { maxTokens: 9, inline: "on" } } }),
      JSON.stringify({ a: 1 }),
    ]);
  });

  it("names the place point rests to the server once (ifai/didFocus from an idle timer)", () => {
    expect(r.rest_focus_prefills).toBe(1);
  });

  it("names point again when a frame of this Emacs gets the focus back (after-focus-change-function)", () => {
    expect(r.focus_in_prefills).toBe(1);
  });

  it("shows the server's inline item as ghost text at point after typing at the end of a line", () => {
    expect(r.ghost_text).toBeTruthy();
    // The same request sent directly gets the same text (from the server's cache).
    expect(r.ghost_direct).toBe(r.ghost_text);
    expect(r.ghost_sources).toEqual(["model", "cache"]);
    expect(r.ghost_after_string).toBe(r.ghost_text);
    expect(r.ghost_at_point).toBe(true);
    expect(r.tab_while_shown).toBe("ifai-ghost-accept");
    expect(r.c_g_while_shown).toBe("ifai-ghost-dismiss");
  });

  it("dismisses the ghost text with C-g, after which TAB is TAB again", () => {
    expect(r.ghost_after_dismiss).toBeNull();
    expect(r.tab_after_dismiss).toBe("indent-for-tab-command");
  });

  it("cancels the request in flight with $/cancelRequest when a second trigger comes", () => {
    const [first, second] = r.trigger_ids;
    expect(r.cancelled_ids).toContain(first);
    expect(r.cancelled_ids).not.toContain(second);
    expect(r.trigger_sources).toEqual(["cancelled", "model"]);
    // If the first got past the server's debounce, its cancel closed the cloud request.
    for (const req of fixture.requests.filter((q) => q.answer === "hang")) expect(req.aborted).toBe(true);
    expect(fixture.requests.filter((q) => isCompletion(q.body) && q.answer === "model")).toHaveLength(1);
  });

  it("ignores an answer that arrives after point moved", () => {
    expect(r.ghost_again).toBe(r.ghost_text);
    expect(r.ghost_after_move).toBeNull();
  });

  it("accepts the suggestion with TAB: exactly the text, point after it, the ghost gone", () => {
    expect(r.accepted).toBe(r.ghost_text);
    expect(r.point_at_end_of_accepted).toBe(true);
    expect(r.ghost_after_accept).toBeNull();
  });

  it("accepts a word with M-f and keeps showing the rest", () => {
    // The tiny model's text varies between runs ("i(" or "i"): the word is computed from it.
    const word = /^\W*\w+/.exec(r.ghost_text)?.[0] ?? r.ghost_text;
    expect(r.after_word).toBe(word);
    expect(r.rest_after_word).toBe(r.ghost_text === word ? null : r.ghost_text.slice(word.length));
    expect(r.accepted_in_parts).toBe(r.ghost_text);
  });

  it("keeps showing the rest of the suggestion while its first character is typed", () => {
    expect(r.rest_after_typing).toBe(r.ghost_text.length > 1 ? r.ghost_text.slice(1) : null);
  });

  it("makes no inline request with ifai-ghost-text nil", () => {
    expect(r.mode_when_off).toBe(false);
    expect(r.timer_when_off).toBe(false);
    expect(r.other_buffer_mode).toBe(false);
    expect(r.requests_when_off).toBe(0);
  });

  it("shows a next edit after a rename as a diff of overlays: the removed text marked, the new line after it", () => {
    expect(r.nes_mode).toBe(true);
    expect(r.nes_before).toBe(AREA);
    expect(r.nes_shown_text).toBe(AREA_RENAMED);
    // Point stayed where the user typed; the suggestion is on the next line.
    expect(r.nes_shown_point).toEqual([1, "def area(width".length]);
    expect(r.nes_edits).toHaveLength(1);
    expect(r.nes_edits[0]).toMatchObject({ range: { start: { line: 1, character: 11 }, end: { line: 1, character: 12 } }, text: "width" });
    expect(r.nes_deleted).toEqual(["w"]);
    expect(r.nes_after_string).toEqual(["    return width * h"]);
    expect(r.nes_show_sent).toBeGreaterThanOrEqual(1);
    expect(r.nes_c_g).toBe("ifai-nes-dismiss");
    expect(r.nes_m_n).toBe("ifai-nes-jump");
  });

  it("dismisses the next edit with C-g, asks again with the latest request winning, and applies nothing to a changed buffer", () => {
    expect(r.nes_after_dismiss).toEqual([false, 0, AREA_RENAMED]);
    expect(r.nes_dismiss_sent).toBeGreaterThanOrEqual(1);
    expect(r.nes_m_n_after_dismiss).not.toBe("ifai-nes-jump");
    const [first, second] = r.nes_trigger_ids;
    expect(r.nes_cancelled_ids).toContain(first);
    expect(r.nes_cancelled_ids).not.toContain(second);
    expect(r.nes_stale_accept).toBe(false);
    expect(r.nes_stale_text).toBe(`${AREA_RENAMED}# x`);
    expect(r.nes_stale_shown).toBe(false);
  });

  it("jumps to the next edit with M-n and accepts it with M-RET: exactly the suggested text, and the accept command runs", () => {
    expect(r.nes_jumped).toEqual([2, 11]);
    expect(r.nes_accepted).toBe(AREA_DONE);
    expect(r.nes_accepted_point).toEqual([2, "    return width".length]);
    expect(r.nes_after_accept).toBe(false);
    // eglot 1.9 logs the request once, 1.17 names the method on the answer too; that the command
    // reached the server is shown by its count in the local feedback file (the next test).
    expect(r.nes_accept_commands).toBeGreaterThanOrEqual(1);
    expect(r.nes_stats).toMatchObject({ accepted: 1, dismissed: 1, refused: 1 });
  });

  it("sent what became of its ghost text and next edits; the server kept the counts in the local file", () => {
    const data = JSON.parse(fs.readFileSync(path.join(cache.path, "feedback.json"), "utf8"));
    const ghost = data.kinds.completion.python;
    expect(ghost.shown).toBeGreaterThanOrEqual(2);
    expect(ghost.accepted).toBeGreaterThanOrEqual(1);
    expect(ghost.dismissed).toBeGreaterThanOrEqual(1);
    expect(data.kinds.nextEdit.python).toMatchObject({ accepted: 1, dismissed: 1 });
    expect(data.kinds.nextEdit.python.shown).toBe(r.nes_stats.shown);
  });

  it("shuts the server down with eglot-shutdown", () => {
    expect(r.server_running_after_shutdown).toBe(false);
    expect(isAlive(r.server_pid)).toBe(false);
  });
}

const emacs28 = findEditor("emacs");
describeWithEditor("ifai.el in Emacs with Debian's eglot", emacs28, (emacs) => {
  // eglot 1.9 cannot resolve code actions: the server gives a command that applies the edit itself.
  scenario(emacs, eglotDirs(emacs28.version), { eglot: /eglot-1\.9\/|\[1,(9|1\d)\b/, actionMethods: ["workspace/executeCommand", "workspace/applyEdit"] });
});

const emacs30 = findEditor(EMACS30);
describeWithEditor("ifai.el in Emacs 30 with its bundled eglot 1.17", emacs30, (emacs) => {
  scenario(emacs, [], { eglot: /^\[1,17,/, actionMethods: ["codeAction/resolve"] });
});
