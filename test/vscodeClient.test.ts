import { execFileSync } from "node:child_process";
import fs from "node:fs";
import { builtinModules } from "node:module";
import path from "node:path";
import zlib from "node:zlib";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { CLIENT_ONLY_SECTIONS, serverSettingsOf } from "../clients/vscode/src/clientSettings.js";
import { parseServerLogLine } from "../clients/vscode/src/serverLog.js";
import { ShownTracker } from "../clients/vscode/src/shownTracker.js";
import { settingKeys, settingsSchema } from "../src/config/schema.js";
import { applySettings } from "../src/config/validate.js";
import { renderVscodeManifest, restrictedSettings, type VscodeProperty } from "../src/devtools/vscodeManifest.js";
import { ActionCommands, ModelCommands, ServerCommands } from "../src/server/protocol.js";
import { createLogger } from "../src/util/logger.js";
import { tempDir } from "./helpers/models.js";
import { projectRoot } from "./helpers/paths.js";

const clientDir = path.join(projectRoot, "clients", "vscode");
const manifestText = fs.readFileSync(path.join(clientDir, "package.json"), "utf8");
const manifest = JSON.parse(manifestText) as {
  name: string;
  publisher: string;
  main: string;
  contributes: {
    configuration: Array<{ title: string; properties: Record<string, VscodeProperty> }>;
    commands: Array<{ command: string; title: string; category: string }>;
    menus: Record<string, Array<{ command: string }>>;
    keybindings: Array<{ command: string }>;
  };
};
const properties: Record<string, VscodeProperty> = Object.assign({}, ...manifest.contributes.configuration.map((g) => g.properties));
const serverCommandIds: string[] = [...Object.values(ServerCommands), ...Object.values(ModelCommands), ...Object.values(ActionCommands)];

/** What VS Code hands over for `getConfiguration("ifai")`: the dotted keys as nested objects. */
function nestedDefaults(): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const [key, property] of Object.entries(properties)) {
    const parts = key.split(".").slice(1);
    let node = root;
    for (const part of parts.slice(0, -1)) node = (node[part] ??= {}) as Record<string, unknown>;
    node[parts[parts.length - 1]!] = property.default;
  }
  return root;
}

/** The names in a zip archive's central directory (enough of the format to list a .vsix). */
function zipEntries(file: string): Array<{ name: string; data: () => Buffer }> {
  const zip = fs.readFileSync(file);
  const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  expect(eocd).toBeGreaterThan(0);
  const count = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  const entries: Array<{ name: string; data: () => Buffer }> = [];
  for (let i = 0; i < count; i++) {
    expect(zip.readUInt32LE(at)).toBe(0x02014b50);
    const method = zip.readUInt16LE(at + 10);
    const compressed = zip.readUInt32LE(at + 20);
    const [nameLength, extraLength, commentLength] = [zip.readUInt16LE(at + 28), zip.readUInt16LE(at + 30), zip.readUInt16LE(at + 32)];
    const local = zip.readUInt32LE(at + 42);
    const name = zip.toString("utf8", at + 46, at + 46 + nameLength);
    const data = (): Buffer => {
      const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
      const raw = zip.subarray(start, start + compressed);
      return method === 8 ? zlib.inflateRawSync(raw) : raw;
    };
    entries.push({ name, data });
    at += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

describe("VS Code extension manifest", () => {
  it("is what npm run manifest:vscode generates from the schema", () => {
    expect(manifestText).toBe(renderVscodeManifest(manifestText));
  });

  it("contributes every server setting with its type, default and enum", () => {
    for (const key of settingKeys) {
      const spec = settingsSchema[key];
      const property = properties[`ifai.${key}`];
      expect(property, key).toBeDefined();
      expect(property!.default, key).toEqual(spec.default);
      expect(property!.type, key).toBe(spec.type === "number" && "integer" in spec && spec.integer ? "integer" : spec.type);
      if ("enum" in spec && spec.enum) expect(property!.enum, key).toEqual(spec.enum);
      expect(property!.markdownDescription.length, key).toBeGreaterThan(20);
    }
  });

  it("keeps client-only settings apart from the server's, and no key is also a section", () => {
    const serverKeys = new Set(settingKeys.map((k) => `ifai.${k}`));
    const clientKeys = Object.keys(properties).filter((k) => !serverKeys.has(k));
    expect(clientKeys.sort()).toEqual(["ifai.client.nextEditDelayMs", "ifai.client.nextEdits", "ifai.server.args", "ifai.server.env", "ifai.server.path", "ifai.trace.server"]);
    for (const key of clientKeys) expect(CLIENT_ONLY_SECTIONS as readonly string[]).toContain(key.split(".")[1]);
    // A server setting under a client-only section would be stripped before it reached the server.
    for (const key of settingKeys) expect(CLIENT_ONLY_SECTIONS as readonly string[], key).not.toContain(key.split(".")[0]);
    // VS Code nests dotted keys: "a.b" and "a.b.c" cannot both hold values.
    const all = Object.keys(properties);
    // Settings ignored in untrusted workspaces must exist, or the restriction protects nothing.
    for (const key of restrictedSettings) expect(all, key).toContain(key);
    for (const key of all) expect(all.filter((other) => other.startsWith(`${key}.`)), key).toEqual([]);
  });

  it("sends settings the server accepts without a warning: VS Code's nested defaults minus the client's keys", () => {
    const sent = serverSettingsOf(nestedDefaults());
    expect(Object.keys(sent)).not.toContain("server");
    expect(Object.keys(sent)).not.toContain("trace");
    const applied = applySettings(sent);
    expect(applied.problems).toEqual([]);
    expect(applied.settings["completion.debounceMs"]).toBe(settingsSchema["completion.debounceMs"].default);
    expect(applySettings(nestedDefaults()).problems.join(" ")).toMatch(/Unknown ifai setting "server\.path"/);
  });

  it("names its own commands apart from the server's, each with a handler and the ifai palette category", () => {
    const ids = manifest.contributes.commands.map((c) => c.command);
    expect(ids.length).toBeGreaterThanOrEqual(14);
    for (const id of ids) {
      expect(serverCommandIds, id).not.toContain(id);
      expect(id.startsWith("ifai-lsp."), id).toBe(true);
    }
    for (const command of manifest.contributes.commands) expect(command.category).toBe("ifai");
    const source = fs.readFileSync(path.join(clientDir, "src", "commands.ts"), "utf8");
    const handled = new Set(source.match(/"ifai-lsp\.[\w.]+"/g)?.map((s) => s.slice(1, -1)));
    for (const id of ids) expect(handled.has(id), `${id} has no handler in commands.ts`).toBe(true);
    const referenced = [...Object.values(manifest.contributes.menus).flat(), ...manifest.contributes.keybindings].map((m) => m.command);
    for (const id of referenced) expect(ids).toContain(id);
  });
});

describe("VS Code extension: which ghost text counts as shown", () => {
  it("reports a new item once, and an item that continues it while typed through under the first one's id", () => {
    const tracker = new ShownTracker();
    const uri = "file:///w/a.py";
    expect(tracker.note({ uri, line: 3, before: "    total = ", text: "sum(values)", args: [{ id: "a" }] })).toEqual({ report: true, args: [{ id: "a" }] });
    // Two characters typed through: the line would read the same once inserted.
    expect(tracker.note({ uri, line: 3, before: "    total = su", text: "m(values)", args: [{ id: "b" }] })).toEqual({ report: false, args: [{ id: "a" }] });
    // Something else on that line, the same text on another line or in another file: new.
    expect(tracker.note({ uri, line: 3, before: "    total = su", text: "per()", args: [{ id: "c" }] })).toEqual({ report: true, args: [{ id: "c" }] });
    expect(tracker.note({ uri, line: 4, before: "    total = su", text: "per()", args: [{ id: "d" }] }).report).toBe(true);
    expect(tracker.note({ uri: "file:///w/b.py", line: 4, before: "    total = su", text: "per()", args: [{ id: "e" }] }).report).toBe(true);
    tracker.reset();
    expect(tracker.note({ uri: "file:///w/b.py", line: 4, before: "    total = su", text: "per()", args: [{ id: "f" }] }).report).toBe(true);
  });
});

describe("VS Code extension: the server's log in the output channel", () => {
  it("shows each line the server's logger writes at its own level, without pino's bookkeeping", async () => {
    const dir = tempDir("ifai-log-");
    try {
      const file = path.join(dir.path, "server.log");
      const logger = createLogger({ level: "debug", file }, {});
      logger.debug("indexing a.ts");
      logger.info({ folders: 1 }, "index ready");
      logger.warn("cloud provider fx is cooling down");
      logger.error({ err: new Error("model file is missing") }, "model load failed");
      // A log file is written asynchronously (opened, then flushed): wait until all four lines are in.
      const lines = (): string[] => (fs.existsSync(file) ? fs.readFileSync(file, "utf8").split("\n").filter(Boolean) : []);
      await vi.waitFor(() => expect(lines()).toHaveLength(4), { timeout: 5_000 });
      const entries = lines().map(parseServerLogLine);
      expect(entries.slice(0, 3)).toEqual([
        { level: "debug", text: "indexing a.ts" },
        { level: "info", text: 'index ready {"folders":1}' },
        { level: "warn", text: "cloud provider fx is cooling down" },
      ]);
      expect(entries[3]!.level).toBe("error");
      expect(entries[3]!.text).toMatch(/^model load failed \{"err":\{"type":"Error","message":"model file is missing"\}\}\nError: model file is missing\n\s+at /);
    } finally {
      dir.cleanup();
    }
  });

  it("shows other stderr output (a crash, a native library) as warnings, as it came", () => {
    expect(parseServerLogLine("Error: boom")).toEqual({ level: "warn", text: "Error: boom" });
    expect(parseServerLogLine("{not json")).toEqual({ level: "warn", text: "{not json" });
    expect(parseServerLogLine('{"level":"info"}')).toEqual({ level: "warn", text: '{"level":"info"}' });
  });
});

describe("VS Code extension package", () => {
  const vsix = path.join(clientDir, "ifai-lsp-vscode.vsix");
  const bundle = path.join(clientDir, "dist", "extension.js");

  beforeAll(() => {
    fs.rmSync(vsix, { force: true });
    // The real scripts: esbuild bundles the extension, vsce packages it. The bundle is rebuilt in
    // place, not removed first, since the editor tests may be loading it.
    execFileSync("npm", ["run", "--silent", "package:vscode"], { cwd: projectRoot, stdio: "pipe", timeout: 60_000 });
  }, 90_000);

  it("bundles the extension, the protocol module included, requiring only vscode and Node built-ins", () => {
    const code = fs.readFileSync(bundle, "utf8");
    const required = new Set([...code.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]!));
    const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
    for (const name of required) expect(name === "vscode" || builtins.has(name), `stray require("${name}")`).toBe(true);
    expect(required.has("vscode")).toBe(true);
    // The protocol's method names come from src/server/protocol.ts, bundled in.
    expect(code).toContain('"ifai/chat"');
    expect(code).toContain('"ifai/status"');
  });

  it("packages a .vsix with the manifest, the bundle, the docs and nothing else", () => {
    const entries = zipEntries(vsix);
    const names = entries.map((e) => e.name);
    expect(names).toContain("extension/package.json");
    expect(names).toContain("extension/dist/extension.js");
    expect(names).toContain("extension/readme.md");
    expect(names).toContain("extension/media/ifai.svg");
    expect(names.filter((n) => /(^|\/)node_modules\//.test(n))).toEqual([]);
    expect(names.filter((n) => /^extension\/src\//.test(n) || n.endsWith(".ts") || n.endsWith(".map"))).toEqual([]);
    const packaged = JSON.parse(entries.find((e) => e.name === "extension/package.json")!.data().toString("utf8")) as typeof manifest;
    expect(`${packaged.publisher}.${packaged.name}`).toBe("ifai.ifai-lsp-vscode");
    expect(packaged.main).toBe("./dist/extension.js");
    expect(packaged.contributes.configuration).toEqual(manifest.contributes.configuration);
  });
});
