import fs from "node:fs";
import path from "node:path";
import { parse as parseToml } from "smol-toml";
import { parse as parseYaml } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ClientCapabilities, CodeAction, CompletionList, InitializeResult } from "vscode-languageserver-protocol";
import { applySettings } from "../../src/config/validate.js";
import { startStdioServer, type TestClient } from "../helpers/lspClient.js";
import { tempDir, tinyModel } from "../helpers/models.js";
import { projectRoot } from "../helpers/paths.js";

/**
 * Helix and Zed cannot run on the build machines, so their shipped configuration is checked here:
 * it must parse, name the real binary and arguments, carry only valid settings, and the server
 * started from it with the capabilities Helix advertises must give what clients/helix/README.md
 * promises (completion items and code actions, no inline completion).
 */
const clients = path.join(projectRoot, "clients");
const pkg = JSON.parse(fs.readFileSync(path.join(projectRoot, "package.json"), "utf8")) as { name: string; version: string; bin: Record<string, string> };

interface HelixConfig {
  "language-server": Record<string, { command: string; args?: string[]; config?: unknown }>;
  language: Array<{ name: string; "language-servers": Array<string | { name: string; "only-features"?: string[] }> }>;
}
const helix = parseToml(fs.readFileSync(path.join(clients, "helix", "languages.toml"), "utf8")) as unknown as HelixConfig;

/** The capabilities Helix (24.x–25.x) sends that matter here: items, code actions with resolve, no inline completion. */
const HELIX_CLIENT: ClientCapabilities = {
  general: { positionEncodings: ["utf-8", "utf-32", "utf-16"] },
  textDocument: {
    completion: { completionItem: { snippetSupport: true, insertReplaceSupport: true, resolveSupport: { properties: ["documentation", "detail", "additionalTextEdits"] } } },
    codeAction: {
      codeActionLiteralSupport: { codeActionKind: { valueSet: ["", "quickfix", "refactor", "refactor.extract", "refactor.inline", "refactor.rewrite", "source", "source.organizeImports"] } },
      isPreferredSupport: true,
      disabledSupport: true,
      dataSupport: true,
      resolveSupport: { properties: ["edit", "command"] },
    },
  },
  workspace: { applyEdit: true, configuration: true, workspaceFolders: true, executeCommand: { dynamicRegistration: false } },
  window: { workDoneProgress: true },
};

describe("clients/helix/languages.toml", () => {
  const server = helix["language-server"]["ifai"]!;

  it("declares the ifai server with the package's binary and --stdio", () => {
    expect(server.command).toBe(Object.keys(pkg.bin)[0]);
    expect(server.args).toEqual(["--stdio"]);
  });

  it("carries only valid settings in config (sent as initializationOptions)", () => {
    const { problems } = applySettings(server.config);
    expect(problems).toEqual([]);
    expect(applySettings(server.config).settings["privacy.localOnly"]).toBe(true);
  });

  it("adds ifai to every language it lists, after the language's own server", () => {
    expect(helix.language.length).toBeGreaterThan(5);
    for (const language of helix.language) {
      const servers = language["language-servers"];
      const last = servers[servers.length - 1]!;
      expect(typeof last === "string" ? last : last.name, language.name).toBe("ifai");
      expect(servers.length, `${language.name} keeps its own server`).toBeGreaterThan(1);
    }
  });

  describe("the server started as Helix starts it", () => {
    let client: TestClient;
    let init: InitializeResult;
    const cache = tempDir();
    const uri = "file:///work/helix/app.py";
    const text = "def add(a, b):\n    return a + b\n\n\ndef mul(a, b):\n    re\n";

    beforeAll(async () => {
      // Helix runs `command args…`; the test's command is the built bin under the project's Node.
      client = startStdioServer({ IFAI_CACHE_DIR: cache.path }, server.args);
      const config = { ...(server.config as object), model: { path: await tinyModel(), threads: 1, batchSize: 32 }, completion: { debounceMs: 0, maxTokens: 6 }, index: { enabled: false } };
      init = await client.initialize(HELIX_CLIENT, config);
      await client.open(uri, "python", text);
    });
    afterAll(async () => {
      client?.kill();
      cache.cleanup();
    });

    it("offers completion items and code actions, and no inline completion", async () => {
      expect(init.capabilities.inlineCompletionProvider).toBeUndefined();
      expect(init.capabilities.completionProvider).toBeDefined();
      expect(init.capabilities.codeActionProvider).toBeDefined();
      const list = (await client.complete(uri, { line: 5, character: 6 })) as CompletionList;
      expect(list.items.length).toBeGreaterThan(0);
      expect(list.items[0]!.textEdit).toBeDefined();
    });

    it("lists AI code actions whose edits come from codeAction/resolve", async () => {
      const actions = (await client.connection.sendRequest("textDocument/codeAction", {
        textDocument: { uri },
        range: { start: { line: 0, character: 4 }, end: { line: 0, character: 4 } },
        context: { diagnostics: [] },
      })) as CodeAction[];
      const titles = actions.map((a) => a.title);
      expect(titles.some((t) => /documentation/i.test(t))).toBe(true);
      // Helix resolves edits lazily, so edit actions carry data to resolve, not a command;
      // Explain has no edit and always runs as the ifai.codeAction command.
      const isExplain = (a: CodeAction): boolean => /^AI: Explain/.test(a.title);
      const edits = actions.filter((a) => !isExplain(a));
      expect(edits.length).toBeGreaterThan(0);
      expect(edits.every((a) => a.command === undefined && a.data !== undefined)).toBe(true);
      expect(actions.find(isExplain)?.command?.command).toBe("ifai.codeAction");
    });

    it("shuts down cleanly", async () => {
      expect(await client.shutdownAndExit()).toBe(0);
    });
  });
});

describe("clients/zed", () => {
  const manifest = parseToml(fs.readFileSync(path.join(clients, "zed", "extension.toml"), "utf8")) as any;
  const cargo = parseToml(fs.readFileSync(path.join(clients, "zed", "Cargo.toml"), "utf8")) as any;
  const source = fs.readFileSync(path.join(clients, "zed", "src", "lib.rs"), "utf8");

  it("declares one language server whose id the Rust source uses", () => {
    const ids = Object.keys(manifest.language_servers);
    expect(ids).toEqual(["ifai-lsp"]);
    expect(source).toContain(`const SERVER_ID: &str = "${ids[0]}";`);
    expect(manifest.language_servers["ifai-lsp"].languages).toEqual(expect.arrayContaining(["Python", "Rust", "TypeScript", "Go"]));
    expect(manifest.schema_version).toBe(1);
  });

  it("is a cdylib on zed_extension_api that launches the npm package's bin with --stdio", () => {
    expect(cargo.lib["crate-type"]).toEqual(["cdylib"]);
    expect(cargo.dependencies.zed_extension_api).toMatch(/^\d+\.\d+\.\d+$/);
    expect(source).toContain(`const NPM_PACKAGE: &str = "${pkg.name}";`);
    expect(source).toContain(`const NPM_ENTRY: &str = "node_modules/${pkg.name}/${pkg.bin[pkg.name]!.replace(/^\.\//, "")}";`);
    expect(source).toContain('"--stdio"');
  });
});

describe("clients/neovim/mason (mason registry package definition)", () => {
  const definition = parseYaml(fs.readFileSync(path.join(clients, "neovim", "mason", "packages", "ifai-lsp", "package.yaml"), "utf8"));

  it("installs this npm package at this version and links its binary", () => {
    expect(definition.name).toBe(pkg.name);
    expect(definition.source.id).toBe(`pkg:npm/${pkg.name}@${pkg.version}`);
    expect(definition.bin).toEqual({ [Object.keys(pkg.bin)[0]!]: `npm:${pkg.name}` });
    expect(definition.categories).toEqual(["LSP"]);
  });
});
