import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { EventEmitter } from "node:events";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import type { EditorCheck } from "../../helpers/editors.js";
import { makeWorkspace } from "../../helpers/indexWorkspace.js";
import { tempDir } from "../../helpers/models.js";
import { binPath, nodeBinary, projectRoot } from "../../helpers/paths.js";

/**
 * The set-up behind test/editors/vscode.test.ts: code-server 4.100.3 (VS Code 1.100.3, installed by
 * .ci/editors-vscode.sh) with the ifai extension installed as users install it (the .vsix packed from
 * the current sources, installed by code-server's CLI) and the test driver extension
 * (test/fixtures/vscode-driver, symlinked) in its extensions folder, and a headless Chromium that Playwright
 * starts and points at the workbench (the extension host only starts once a browser opens it).
 * The driver posts each step's result to a small HTTP server here. After its API steps it waits
 * on GET /next, so that the test can drive the workbench UI while the ifai server still runs and
 * ask the driver about VS Code's state (the active editor, the model status); "continue" lets it
 * go on to stop the server.
 */

const codeServerEntry = path.join(projectRoot, ".cache", "code-server", "node_modules", "code-server", "out", "node", "entry.js");
export const clientDir = path.join(projectRoot, "clients", "vscode");
/** Where `npm run package:vscode` writes the extension's package. */
export const vsixPath = path.join(clientDir, "ifai-lsp-vscode.vsix");
export const EXTENSION_ID = "ifai.ifai-lsp-vscode";
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

/** The extension's version, from its manifest (the installed folder is named `<publisher>.<name>-<version>`). */
export function clientVersion(): string {
  return (JSON.parse(fs.readFileSync(path.join(clientDir, "package.json"), "utf8")) as { version: string }).version;
}

export type CodeServerCheck = EditorCheck & { node?: string; chromium?: string };

/** Finds code-server in .cache/code-server, the system Node 20 to run it and chromium (without starting them). */
export function findCodeServer(): CodeServerCheck {
  const node = systemNode();
  if (!fs.existsSync(codeServerEntry)) return { reason: "code-server is not installed in .cache/code-server (run .ci/editors-vscode.sh)" };
  if (!node) return { reason: "no system node on PATH to run code-server (it needs Node 20)" };
  let chromiumPath: string;
  try {
    chromiumPath = execFileSync("sh", ["-c", "command -v chromium"], { encoding: "utf8" }).trim();
  } catch {
    return { reason: "chromium is not installed (run .ci/editors-vscode.sh as root)" };
  }
  // Versions from the manifests: `code-server --version` would write a config file into ~/.config.
  const manifest = (rel: string): { version: string } => JSON.parse(fs.readFileSync(path.join(codeServerEntry, "../../..", rel), "utf8"));
  const nodeMajor = execFileSync(node, ["-p", "process.versions.node"], { encoding: "utf8" }).trim();
  if (!nodeMajor.startsWith("20.")) return { reason: `code-server 4.100 needs Node 20; ${node} is ${nodeMajor}` };
  return { path: codeServerEntry, version: `code-server ${manifest("package.json").version}, VS Code ${manifest("lib/vscode/package.json").version}`, node, chromium: chromiumPath };
}

export interface StepResult {
  name: string;
  ok: boolean;
  value?: any;
  error?: string;
  ms: number;
}

export interface WorkbenchOptions {
  files: Record<string, string>;
  /** User settings.json. */
  settings: Record<string, unknown>;
  /** What the driver fetches from GET /plan. */
  plan: Record<string, unknown>;
}

export type Dirs = Record<"userData" | "extensions" | "cache" | "xdg", string>;

/** Ends a whole process group (code-server and its extension host) and waits for its leader. */
export async function killGroup(child: ChildProcess | undefined): Promise<void> {
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
}

/** Rejects after `ms` with `what`, so that no wait can hang a test. */
export async function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)));
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

export class Workbench {
  readonly base = tempDir("ifai-vscode-");
  readonly workspace;
  readonly dirs: Dirs;
  readonly steps = new Map<string, StepResult>();
  finished: { failed: boolean; error?: string } | undefined;
  codeServer: ChildProcess | undefined;
  /** The .vsix installed, what code-server's CLI said, and the folder it installed the extension into. */
  install: { vsix: string; output: string; dir: string } | undefined;
  browser: Browser | undefined;
  page!: Page;
  /** Errors the workbench's scripts wrote to the browser console (shown with the logs when a step fails). */
  readonly consoleErrors: string[] = [];
  private codeServerLog = "";
  private logsShown = false;
  private readonly events = new EventEmitter();
  private readonly driverServer: http.Server;
  private readonly ops: Array<{ op: string; name: string }> = [];
  private waiting: http.ServerResponse | undefined;
  private queries = 0;
  private closed = false;

  constructor(private readonly options: WorkbenchOptions) {
    this.workspace = makeWorkspace(options.files);
    const at = (name: string): string => path.join(this.base.path, name);
    this.dirs = { userData: at("user-data"), extensions: at("extensions"), cache: at("ifai-cache"), xdg: at("xdg") };
    this.driverServer = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        if (req.method === "GET" && req.url === "/plan") return res.end(JSON.stringify(options.plan));
        if (req.method === "GET" && req.url === "/next") {
          this.waiting = res;
          this.events.emit("paused");
          return this.flush();
        }
        const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString("utf8")) : {};
        if (req.url === "/step") {
          this.steps.set(body.name, body as StepResult);
          this.events.emit("step", body.name);
        }
        if (req.url === "/done") {
          this.finished = body;
          this.events.emit("done");
        }
        res.end("{}");
      });
    });
  }

  /** Starts everything and resolves once the driver has run its API steps and waits for the UI tests (or gave up). */
  async start(check: CodeServerCheck): Promise<void> {
    for (const dir of Object.values(this.dirs)) fs.mkdirSync(dir, { recursive: true });
    // The driver is a test fixture, not something users install: its folder is linked in as it is.
    // First, because VS Code loads only what the folder's extensions.json lists, and the install
    // below writes that file, listing the folders it finds there besides the one it installs.
    fs.symlinkSync(driverDir, path.join(this.dirs.extensions, "ifai-test.ifai-vscode-driver-0.0.1"));
    this.installFromVsix(check);
    fs.mkdirSync(path.join(this.dirs.userData, "User"), { recursive: true });
    fs.writeFileSync(path.join(this.dirs.userData, "User", "settings.json"), JSON.stringify(this.options.settings, null, 2));
    await new Promise<void>((resolve) => this.driverServer.listen(0, "127.0.0.1", resolve));
    const driverUrl = `http://127.0.0.1:${(this.driverServer.address() as AddressInfo).port}`;

    // code-server hands its environment to the extension host: the driver and the ifai server read these.
    const env = { ...this.codeServerEnv(), IFAI_VSCODE_DRIVER_URL: driverUrl, IFAI_CACHE_DIR: this.dirs.cache };
    this.codeServer = spawn(
      check.node!,
      [
        codeServerEntry,
        "--bind-addr", "127.0.0.1:0",
        "--auth", "none",
        "--disable-telemetry",
        "--disable-update-check",
        "--disable-workspace-trust",
        "--disable-getting-started-override",
        ...this.stateArgs(),
        this.workspace.root,
      ],
      { env, detached: true, stdio: ["ignore", "pipe", "pipe"] },
    );
    const listening = new Promise<string>((resolve, reject) => {
      const onData = (chunk: Buffer): void => {
        this.codeServerLog += chunk.toString("utf8");
        const match = /HTTP server listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(this.codeServerLog);
        if (match) resolve(match[1]!);
      };
      this.codeServer!.stdout!.on("data", onData);
      this.codeServer!.stderr!.on("data", onData);
      this.codeServer!.once("exit", (code) => reject(new Error(`code-server exited (${code}) before listening:\n${this.codeServerLog}`)));
    });
    const url = await withDeadline(listening, 30_000, "code-server to listen");

    this.browser = await chromium.launch({
      executablePath: check.chromium!,
      headless: true,
      // Chromium's sandbox cannot start as root, which CI containers are.
      chromiumSandbox: false,
      args: ["--disable-gpu", "--disable-dev-shm-usage"],
      timeout: 30_000,
    });
    const context = await this.browser.newContext({ viewport: { width: 1280, height: 900 } });
    this.page = await context.newPage();
    this.page.setDefaultTimeout(20_000);
    this.page.on("console", (message) => {
      if (message.type() === "error") this.consoleErrors.push(`${message.location().url}: ${message.text()}`);
    });
    const paused = new Promise<void>((resolve) => {
      this.events.once("paused", resolve);
      this.events.once("done", resolve);
    });
    const closed = new Promise<never>((_, reject) => this.browser!.once("disconnected", () => reject(new Error("chromium went away before the driver finished"))));
    await this.page.goto(`${url}/?folder=${encodeURIComponent(this.workspace.root)}`);
    try {
      await withDeadline(Promise.race([paused, closed]), 100_000, `the driver's API steps (steps seen: ${[...this.steps.keys()].join(", ") || "none"})`);
    } catch (error) {
      this.dumpLogs();
      throw error;
    }
  }

  /**
   * Installs the extension as users do: `npm run package:vscode` bundles the current sources and
   * packs the .vsix, and code-server's own CLI installs that file into the extensions folder.
   * (test/vscodeClient.test.ts packs the same file; vitest runs test files one at a time.)
   */
  private installFromVsix(check: CodeServerCheck): void {
    execFileSync("npm", ["run", "--silent", "package:vscode"], { cwd: projectRoot, stdio: "pipe", timeout: 60_000 });
    const output = execFileSync(check.node!, [codeServerEntry, ...this.stateArgs(), "--install-extension", vsixPath], {
      env: this.codeServerEnv(),
      encoding: "utf8",
      stdio: "pipe",
      timeout: 30_000,
    });
    this.install = { vsix: vsixPath, output, dir: path.join(this.dirs.extensions, `${EXTENSION_ID}-${clientVersion()}`) };
  }

  /** code-server keeps its own state under XDG folders and its config file; these keep it out of the user's home. */
  private codeServerEnv(): NodeJS.ProcessEnv {
    return { ...process.env, XDG_DATA_HOME: path.join(this.dirs.xdg, "data"), XDG_CONFIG_HOME: path.join(this.dirs.xdg, "config") };
  }

  /** The config file and the folders that both the install CLI and the server use. */
  private stateArgs(): string[] {
    return ["--config", path.join(this.dirs.xdg, "code-server.yaml"), "--user-data-dir", this.dirs.userData, "--extensions-dir", this.dirs.extensions];
  }

  /** A step's value; throws (with the logs) when the driver never reported it or it failed. */
  step(name: string): any {
    const result = this.steps.get(name);
    if (!result) {
      this.dumpLogs();
      throw new Error(`the driver never reported step "${name}" (steps seen: ${[...this.steps.keys()].join(", ") || "none"}; done: ${JSON.stringify(this.finished)})`);
    }
    if (!result.ok) {
      this.dumpLogs();
      throw new Error(`step "${name}" failed in VS Code:\n${result.error}`);
    }
    return result.value;
  }

  /** Asks the driver one question about VS Code's state ("activeEditor", "status") and returns its answer. */
  async query(op: string): Promise<any> {
    const name = `${op}#${++this.queries}`;
    const reported = new Promise<void>((resolve) => {
      const onStep = (stepName: string): void => {
        if (stepName !== name) return;
        this.events.off("step", onStep);
        resolve();
      };
      this.events.on("step", onStep);
    });
    this.ops.push({ op, name });
    this.flush();
    await withDeadline(reported, 15_000, `the driver's answer to ${op}`);
    return this.step(name);
  }

  /** Lets the driver go on to its last steps (stopping the server) and waits until it is done. */
  async release(): Promise<void> {
    if (this.finished) return;
    const done = new Promise<void>((resolve) => this.events.once("done", resolve));
    this.ops.push({ op: "continue", name: "continue" });
    this.flush();
    await withDeadline(done, 30_000, "the driver to finish");
  }

  private flush(): void {
    if (!this.waiting || this.ops.length === 0) return;
    this.waiting.end(JSON.stringify(this.ops.shift()));
    this.waiting = undefined;
  }

  /** Closes the browser and code-server (with its extension host); the driver's server and folders go too. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.browser?.close();
    await killGroup(this.codeServer);
    this.waiting?.end(JSON.stringify({ op: "continue", name: "continue" }));
    this.driverServer.close();
    this.workspace.cleanup();
    this.base.cleanup();
  }

  /** What an extension's log output channel holds so far (VS Code writes it to a file in its logs folder). */
  outputLog(extensionId: string, channel: string): string {
    const logs = path.join(this.dirs.userData, "logs");
    const files = fs.existsSync(logs) ? fs.readdirSync(logs, { recursive: true, encoding: "utf8" }) : [];
    const file = files.find((f) => f.endsWith(path.join(extensionId, `${channel}.log`)));
    return file ? fs.readFileSync(path.join(logs, file), "utf8") : "";
  }

  /** Prints what code-server, the extension host and the browser console logged, once; called when a step failed. */
  dumpLogs(): void {
    if (this.logsShown) return;
    this.logsShown = true;
    const tail = (s: string): string => (s.length > 6000 ? `…${s.slice(-6000)}` : s);
    const logs: string[] = [`--- code-server output ---\n${tail(this.codeServerLog)}`, `--- browser console errors ---\n${tail(this.consoleErrors.join("\n"))}`];
    const walk = (dir: string): void => {
      if (!fs.existsSync(dir)) return;
      for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(full);
        else if (/(exthost|remoteagent|ifai|renderer|server)[^/]*\.log$/i.test(entry.name)) logs.push(`--- ${path.relative(this.dirs.userData, full)} ---\n${tail(fs.readFileSync(full, "utf8"))}`);
      }
    };
    walk(path.join(this.dirs.userData, "logs"));
    process.stderr.write(`${logs.join("\n")}\n`);
  }
}

/** User settings: the ifai server on the tiny model, and a workbench that opens no welcome page or prompt. */
export function settings(modelPath: string, cloudUrl: string): Record<string, unknown> {
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
    // The full prompt on every request (see the Emacs and Neovim tests): the tiny model's text must not depend on how far the background prefill got.
    "ifai.completion.firstPrefixTokens": 0,
    "ifai.chat.temperature": 0,
    "ifai.chat.maxTokens": 400,
    "ifai.chat.contextSize": 1024,
    "ifai.router.preference": "local",
    "ifai.router.fallback": false,
    "ifai.router.taskPreference.docs": "cloud",
    "ifai.router.taskPreference.unitTests": "cloud",
    // Next edits go to the fixture, whose scripted rewrite makes the suggestion known; the
    // driver turns automatic ones on only in its next-edit step.
    "ifai.router.taskPreference.nextEdit": "cloud",
    "ifai.client.nextEdits": false,
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
