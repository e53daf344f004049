import { settingKeys, settingsSchema, type SettingSpec } from "../config/schema.js";

/**
 * Derives `contributes.configuration` of the VS Code extension (clients/vscode/package.json) from
 * the server's schema, so the settings UI cannot drift from what the server accepts (a test
 * compares the committed manifest with this output; `npm run manifest:vscode` rewrites it).
 */

/** One VS Code configuration property, as the manifest spells it. */
export interface VscodeProperty {
  type: string | string[];
  default: unknown;
  markdownDescription: string;
  enum?: readonly string[];
  minimum?: number;
  maximum?: number;
  items?: { type: string };
  additionalProperties?: { type: string };
  scope?: string;
  order: number;
}

interface ConfigurationGroup {
  id: string;
  title: string;
  order: number;
  properties: Record<string, VscodeProperty>;
}

/**
 * Settings only the extension reads: how to start the server and protocol tracing (the language
 * client reads `<id>.trace.server` itself). They start with a section listed in
 * clients/vscode/src/clientSettings.ts, which keeps them from reaching the server.
 */
export const clientOnlyProperties: Record<string, VscodeProperty> = {
  "ifai.server.path": {
    type: "string",
    default: "ifai-lsp",
    markdownDescription:
      "The ifai-lsp executable (looked up on `PATH`), or a Node binary when `#ifai.server.args#` names the script. A leading `~` is expanded. Restart the server after changing it.",
    scope: "machine-overridable",
    order: 0,
  },
  "ifai.server.args": {
    type: "array",
    items: { type: "string" },
    default: ["--stdio"],
    markdownDescription: "Arguments of `#ifai.server.path#`; they must select the stdio transport (`--stdio`).",
    scope: "machine-overridable",
    order: 1,
  },
  "ifai.server.env": {
    type: "object",
    additionalProperties: { type: "string" },
    default: {},
    markdownDescription:
      "Extra environment variables for the server process, e.g. `IFAI_CACHE_DIR` or the variables named by `apiKeyEnv` in `#ifai.cloud.providers#`.",
    scope: "machine-overridable",
    order: 2,
  },
  "ifai.trace.server": {
    type: "string",
    enum: ["off", "messages", "verbose"],
    default: "off",
    markdownDescription: "Traces the messages between VS Code and the server in the output channel.",
    scope: "window",
    order: 3,
  },
  "ifai.client.nextEdits": {
    type: "boolean",
    default: true,
    markdownDescription:
      "Ask for a next-edit suggestion after a pause in editing (`#ifai.client.nextEditDelayMs#`) and show it with decorations. Off: only the command **ifai: Suggest Next Edit** asks.",
    scope: "window",
    order: 4,
  },
  "ifai.client.nextEditDelayMs": {
    type: "integer",
    default: 600,
    minimum: 0,
    maximum: 10000,
    markdownDescription: "The pause after the last change before asking for a next edit, in milliseconds.",
    scope: "window",
    order: 5,
  },
};

/**
 * Settings a malicious workspace could use to run a program or send code elsewhere; VS Code
 * ignores their workspace values until the folder is trusted.
 */
export const restrictedSettings = [
  "ifai.server.path",
  "ifai.server.args",
  "ifai.server.env",
  "ifai.model.path",
  "ifai.log.file",
  "ifai.index.uri",
  "ifai.index.embeddingModelDir",
  "ifai.cloud.providers",
  "ifai.cloud.provider",
  "ifai.cloud.completionProvider",
  "ifai.models.mirrors",
];

const groupTitles: Record<string, string> = {
  log: "Logging",
  model: "Local model",
  models: "Model downloads",
  engine: "Shared engine",
  completion: "Completion",
  nextEdit: "Next edits",
  feedback: "Acceptance feedback",
  chat: "Chat",
  actions: "Code actions",
  index: "Codebase index",
  privacy: "Privacy",
  router: "Router",
  cloud: "Cloud providers",
};

/** VS Code renders descriptions as Markdown: characters that would vanish or format are escaped. */
function markdownEscape(text: string): string {
  return text.replace(/[\\`*_<>[\]#|]/g, (c) => `\\${c}`);
}

export function serverProperty(spec: SettingSpec, order: number): VscodeProperty {
  const property: VscodeProperty = {
    type: spec.type === "number" && spec.integer ? "integer" : spec.type,
    default: spec.default,
    markdownDescription: markdownEscape(spec.description),
    order,
  };
  if (spec.enum) property.enum = spec.enum;
  if (spec.minimum !== undefined) property.minimum = spec.minimum;
  if (spec.maximum !== undefined) property.maximum = spec.maximum;
  return property;
}

/** `contributes.configuration`: the client's own settings first, then one group per schema prefix. */
export function vscodeConfiguration(): ConfigurationGroup[] {
  const groups: ConfigurationGroup[] = [{ id: "ifai-server", title: "Server process and extension", order: 0, properties: clientOnlyProperties }];
  settingKeys.forEach((key, index) => {
    const prefix = key.slice(0, key.indexOf("."));
    let group = groups.find((g) => g.id === `ifai-${prefix}`);
    if (!group) {
      group = { id: `ifai-${prefix}`, title: groupTitles[prefix] ?? prefix, order: groups.length, properties: {} };
      groups.push(group);
    }
    group.properties[`ifai.${key}`] = serverProperty(settingsSchema[key] as SettingSpec, index);
  });
  return groups;
}

/** The manifest text with its generated parts replaced; everything else is kept as written. */
export function renderVscodeManifest(current: string): string {
  const manifest = JSON.parse(current) as Record<string, unknown>;
  const contributes = (manifest["contributes"] ?? {}) as Record<string, unknown>;
  contributes["configuration"] = vscodeConfiguration();
  manifest["contributes"] = contributes;
  const capabilities = (manifest["capabilities"] ?? {}) as Record<string, unknown>;
  capabilities["untrustedWorkspaces"] = {
    supported: "limited",
    description: "Workspace values of the settings that start programs, read files or name cloud endpoints are ignored until the folder is trusted.",
    restrictedConfigurations: restrictedSettings,
  };
  manifest["capabilities"] = capabilities;
  return `${JSON.stringify(manifest, null, 2)}\n`;
}
