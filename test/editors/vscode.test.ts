import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeWithEditor, type EditorCheck } from "../helpers/editors.js";
import { makeWorkspace } from "../helpers/indexWorkspace.js";
import { tempDir, tinyModel } from "../helpers/models.js";
import { OpenAIFixture } from "../helpers/openaiFixture.js";
import { binPath, nodeBinary, projectRoot } from "../helpers/paths.js";

/**
 * The VS Code client in a real VS Code: code-server 4.100.3 (VS Code 1.100.3, installed by
 * .ci/editors-vscode.sh) runs the extension host once a headless Chromium opens its workbench. A
 * driver extension (test/fixtures/vscode-driver) exercises the bundled ifai extension through
 * public VS Code APIs and posts each step's result to this test's HTTP server; the steps below
 * assert on them. The ifai server is the real one on the tiny model; only the documentation
 * action is answered in the "cloud" by the OpenAI-compatible fixture, so that its edit is known.
 */

const codeServerEntry = path.join(projectRoot, ".cache", "code-server", "node_modules", "code-server", "out", "node", "entry.js");
const clientDir = path.join(projectRoot, "clients", "vscode");
const driverDir = path.join(projectRoot, "test", "fixtures", "vscode-driver");

/** code-server must run on Node 20 (its native modules are built for it), not the project's Node 24 first on PATH. */
function systemNode(): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    if (!dir || dir.includes("node_modules")) continue;
    const candidate = path.join(dir, "node");
    if (fs.existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** Finds code-server in .cache/code-server, the system Node 20 to run it and chromium (without starting them). */
function findCodeServer(): EditorCheck & { node?: string; chromium?: string } {
  const node = systemNode();
  if (!fs.existsSync(codeServerEntry)) return { reason: "code-server is not installed in .cache/code-server (run .ci/editors-vscode.sh)" };
  if (!node) return { reason: "no system node on PATH to run code-server (it needs Node 20)" };
  let chromium: string;
  try {
    chromium = execFileSync("sh", ["-c", "command -v chromium"], { encoding: "utf8" }).trim();
  } catch {
    return { reason: "chromium is not installed (run .ci/editors-vscode.sh as root)" };
  }
  // Versions from the manifests: `code-server --version` would write a config file into ~/.config.
  const manifest = (rel: string): { version: string } => JSON.parse(fs.readFileSync(path.join(codeServerEntry, "../../..", rel), "utf8"));
  const nodeMajor = execFileSync(node, ["-p", "process.versions.node"], { encoding: "utf8" }).trim();
  if (!nodeMajor.startsWith("20.")) return { reason: `code-server 4.100 needs Node 20; ${node} is ${nodeMajor}` };
  return { path: codeServerEntry, version: `code-server ${manifest("package.json").version}, VS Code ${manifest("lib/vscode/package.json").version}`, node, chromium };
}

interface StepResult {
  name: string;
  ok: boolean;
  value?: any;
  error?: string;
  ms: number;
}

const FILE = "src/calc.py";
const SOURCE = "def add_numbers(a, b):\n    return a + b\n\n\ndef average(values):\n    total = \n";
const DOCS_REPLY = '```python\ndef add_numbers(a, b):\n    """Return the sum of a and b."""\n    return a + b\n```\n';

const check = findCodeServer();

describeWithEditor("the VS Code extension in code-server with headless Chromium", check, () => {
  // Created in beforeAll, so that a skipped block leaves nothing behind.
  let base: ReturnType<typeof tempDir> | undefined;
  let workspace: ReturnType<typeof makeWorkspace> | undefined;
  let dirs: Record<"userData" | "extensions" | "chromium" | "cache" | "xdg", string>;
  const steps = new Map<string, StepResult>();
  let finished: { failed: boolean; error?: string } | undefined;
  let fixture: OpenAIFixture;
  let driverServer: http.Server;
  let codeServer: ChildProcess | undefined;
  let browser: ChildProcess | undefined;
  let codeServerLog = "";
  let wallMs = 0;

  let logsShown = false;
  /** Prints what code-server and the extension host logged, once; called when a step failed. */
  const dumpLogs = (): void => {
    if (logsShown) return;
    logsShown = true;
    const tail = (s: string): string => (s.length > 6000 ? `…${s.slice(-6000)}` : s);
    const logs: string[] = [`--- code-server output ---\n${tail(codeServerLog)}`];
    const walk = (dir: string): void => {
      if (!fs.existsSync(dir)) return;
      for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(full);
        else if (/(exthost|remoteagent|ifai|renderer|server)[^/]*\.log$/i.test(entry.name)) logs.push(`--- ${path.relative(dirs.userData, full)} ---\n${tail(fs.readFileSync(full, "utf8"))}`);
      }
    };
    if (dirs) walk(path.join(dirs.userData, "logs"));
    process.stderr.write(`${logs.join("\n")}\n`);
  };

  const step = (name: string): any => {
    const result = steps.get(name);
    if (!result) {
      dumpLogs();
      throw new Error(`the driver never reported step "${name}" (steps seen: ${[...steps.keys()].join(", ") || "none"}; done: ${JSON.stringify(finished)})`);
    }
    if (!result.ok) {
      dumpLogs();
      throw new Error(`step "${name}" failed in VS Code:\n${result.error}`);
    }
    return result.value;
  };

  /** Ends a whole process group (code-server's extension host, Chromium's renderers) and waits for its leader. */
  const killGroup = async (child: ChildProcess | undefined): Promise<void> => {
    if (!child?.pid) return;
    const running = child.exitCode === null && child.signalCode === null;
    const exited = running ? new Promise<void>((resolve) => child.once("exit", () => resolve())) : Promise.resolve();
    const signal = (name: NodeJS.Signals): void => {
      try {
        process.kill(-child.pid!, name);
      } catch {
        // The group is gone already.
      }
    };
    signal("SIGTERM");
    const timer = setTimeout(() => signal("SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
  };

  beforeAll(async () => {
    const started = Date.now();
    // The extension is tested as users get it: the real esbuild bundle, rebuilt from the sources now.
    execFileSync("npm", ["run", "--silent", "build:vscode"], { cwd: projectRoot, stdio: "pipe", timeout: 60_000 });
    base = tempDir("ifai-vscode-");
    workspace = makeWorkspace({ [FILE]: SOURCE, "README.md": "# calc\n\nSmall arithmetic helpers.\n" });
    const at = (name: string): string => path.join(base!.path, name);
    dirs = { userData: at("user-data"), extensions: at("extensions"), chromium: at("chromium"), cache: at("ifai-cache"), xdg: at("xdg") };
    const modelPath = await tinyModel();
    fixture = new OpenAIFixture(modelPath);
    await fixture.start();
    fixture.failNext({ kind: "reply", text: DOCS_REPLY });

    for (const dir of Object.values(dirs)) fs.mkdirSync(dir, { recursive: true });
    fs.symlinkSync(clientDir, path.join(dirs.extensions, "ifai.ifai-lsp-vscode-0.1.0"));
    fs.symlinkSync(driverDir, path.join(dirs.extensions, "ifai-test.ifai-vscode-driver-0.0.1"));
    fs.mkdirSync(path.join(dirs.userData, "User"), { recursive: true });
    fs.writeFileSync(path.join(dirs.userData, "User", "settings.json"), JSON.stringify(settings(modelPath, fixture.baseUrl), null, 2));

    const commands = (JSON.parse(fs.readFileSync(path.join(clientDir, "package.json"), "utf8")).contributes.commands as Array<{ command: string }>).map((c) => c.command);
    // The tiny model's greedy answer at the end of the first line is a visible character (at the
    // end of "    total = " it is a line break, which leaves no suggestion); snippets are off below
    // so the prompt, and with it the answer, depends on this file alone.
    const plan = { file: FILE, source: SOURCE, completionAt: { line: 0, character: 22 }, docsAt: { line: 1, character: 4 }, chatTokens: 40, commands: [...commands, "ifai.modelStatus", "ifai.codeAction"] };
    let resolveDone!: () => void;
    const done = new Promise<void>((resolve) => (resolveDone = resolve));
    driverServer = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        if (req.method === "GET" && req.url === "/plan") return res.end(JSON.stringify(plan));
        const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString("utf8")) : {};
        if (req.url === "/step") steps.set(body.name, body as StepResult);
        if (req.url === "/done") {
          finished = body;
          resolveDone();
        }
        res.end("{}");
      });
    });
    await new Promise<void>((resolve) => driverServer.listen(0, "127.0.0.1", resolve));
    const driverUrl = `http://127.0.0.1:${(driverServer.address() as AddressInfo).port}`;

    const env = {
      ...process.env,
      // code-server hands its environment to the extension host: the driver and the ifai server read these.
      IFAI_VSCODE_DRIVER_URL: driverUrl,
      IFAI_CACHE_DIR: dirs.cache,
      // code-server keeps its own state under XDG folders; keep it out of the user's home.
      XDG_DATA_HOME: path.join(dirs.xdg, "data"),
      XDG_CONFIG_HOME: path.join(dirs.xdg, "config"),
    };
    codeServer = spawn(
      check.node!,
      [
        codeServerEntry,
        "--bind-addr", "127.0.0.1:0",
        "--auth", "none",
        "--disable-telemetry",
        "--disable-update-check",
        "--disable-workspace-trust",
        "--disable-getting-started-override",
        "--config", path.join(dirs.xdg, "code-server.yaml"),
        "--user-data-dir", dirs.userData,
        "--extensions-dir", dirs.extensions,
        workspace.root,
      ],
      { env, detached: true, stdio: ["ignore", "pipe", "pipe"] },
    );
    const listening = new Promise<string>((resolve, reject) => {
      const onData = (chunk: Buffer): void => {
        codeServerLog += chunk.toString("utf8");
        const match = /HTTP server listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(codeServerLog);
        if (match) resolve(match[1]!);
      };
      codeServer!.stdout!.on("data", onData);
      codeServer!.stderr!.on("data", onData);
      codeServer!.once("exit", (code) => reject(new Error(`code-server exited (${code}) before listening:\n${codeServerLog}`)));
    });
    const url = await listening;

    // The workbench (and with it the extension host) only starts once a browser opens it.
    browser = spawn(
      check.chromium!,
      [
        "--headless=new",
        // Chromium's sandbox cannot start as root, which CI containers are.
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--no-default-browser-check",
        "--window-size=1280,900",
        `--user-data-dir=${dirs.chromium}`,
        `${url}/?folder=${encodeURIComponent(workspace.root)}`,
      ],
      { detached: true, stdio: "ignore" },
    );
    const browserExit = new Promise<never>((_, reject) => browser!.once("exit", (code) => reject(new Error(`chromium exited (${code}) before the driver finished`))));
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`the driver did not finish within 100 s (steps seen: ${[...steps.keys()].join(", ") || "none"})`)), 100_000)));
    try {
      await Promise.race([done, browserExit, deadline]);
    } catch (error) {
      dumpLogs();
      throw error;
    } finally {
      clearTimeout(timer);
    }
    wallMs = Date.now() - started;
    // IFAI_VSCODE_DUMP=1 prints every step's full result (what VS Code saw), for debugging.
    if (process.env.IFAI_VSCODE_DUMP) process.stderr.write(`${JSON.stringify([...steps.values()], null, 1)}\n`);
    process.stderr.write(`[vscode] driver finished ${wallMs} ms after the test started: ${[...steps.values()].map((s) => `${s.name} ${s.ok ? "ok" : "FAILED"} ${s.ms} ms`).join(", ")}\n`);
  }, 150_000);

  afterAll(async () => {
    await killGroup(browser);
    await killGroup(codeServer);
    driverServer?.close();
    await fixture?.stop();
    workspace?.cleanup();
    base?.cleanup();
  });

  it("activates the extension in VS Code's extension host and starts the server", () => {
    const value = step("activate");
    expect(value.appName).toMatch(/code/i);
    expect(value.pid).toBeGreaterThan(0);
    // The extension host received code-server's environment (the driver URL proves it too).
    expect(value.cacheDir).toBe(dirs.cache);
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
    expect(fixture.requests.at(-1)?.answer).toBe("reply");
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
    expect(value.servedBy).toBe("local");
    expect(value.deltas).toBeGreaterThan(0);
    // The response carries the text streamed before the cancel.
    expect(value.joined).toBe(value.content);
  });

  it("shows the model state in the status bar and registers the palette commands", () => {
    const status = step("status");
    expect(status.modelState).toBe("ready");
    expect(status.statusText).toMatch(/ready/);
    const commands = step("commands");
    expect(commands.missing).toEqual([]);
    expect(commands.checked).toBeGreaterThan(10);
  });

  it("stops the server from the API, and nothing is left running after VS Code closes", async () => {
    const value = step("stop");
    expect(value.alive).toBe(false);
    expect(value.statusText).toMatch(/stopped/);
    expect(finished?.failed).toBe(false);
    await killGroup(browser);
    await killGroup(codeServer);
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

/** User settings: the ifai server on the tiny model, and a workbench that opens no welcome page or prompt. */
function settings(modelPath: string, cloudUrl: string): Record<string, unknown> {
  return {
    "ifai.server.path": nodeBinary,
    "ifai.server.args": [binPath, "--stdio"],
    "ifai.model.path": modelPath,
    "ifai.model.threads": 1,
    "ifai.model.batchSize": 32,
    "ifai.completion.debounceMs": 0,
    "ifai.completion.maxTokens": 6,
    "ifai.completion.maxMultilineTokens": 6,
    "ifai.completion.maxSnippetTokens": 0,
    "ifai.chat.temperature": 0,
    "ifai.chat.maxTokens": 400,
    "ifai.chat.contextSize": 1024,
    "ifai.router.preference": "local",
    "ifai.router.fallback": false,
    "ifai.router.taskPreference.docs": "cloud",
    "ifai.cloud.providers": { fx: { baseUrl: cloudUrl, model: "fixture-model" } },
    "ifai.cloud.maxRetries": 0,
    "security.workspace.trust.enabled": false,
    "workbench.startupEditor": "none",
    "workbench.tips.enabled": false,
    "workbench.enableExperiments": false,
    "workbench.welcomePage.walkthroughs.openOnInstall": false,
    "extensions.autoUpdate": false,
    "extensions.autoCheckUpdates": false,
    "extensions.ignoreRecommendations": true,
    "telemetry.telemetryLevel": "off",
    "update.mode": "none",
    "git.enabled": false,
    "files.autoSave": "off",
    "editor.inlineSuggest.enabled": true,
    // Nothing but the driver asks for completions, so each request is the one the step makes.
    "editor.quickSuggestions": { other: false, comments: false, strings: false },
    "editor.suggestOnTriggerCharacters": false,
  };
}
