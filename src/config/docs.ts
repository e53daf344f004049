import { renderEnvironmentTable } from "./environment.js";
import { settingKeys, settingsSchema, type SettingSpec } from "./schema.js";

/**
 * Renders docs/configuration.md from the schema, so the documentation cannot drift from the code
 * (a test compares the file with this output; `npm run docs:config` rewrites it).
 */
export function renderConfigurationDoc(): string {
  const lines = [
    "# Configuration",
    "",
    "<!-- Generated from src/config/schema.ts by `npm run docs:config`; do not edit by hand. -->",
    "",
    "Every setting can be given in three places; later ones win:",
    "",
    "1. `initializationOptions` of the `initialize` request (any editor);",
    '2. the `workspace/configuration` pull, section `"ifai"` (VS Code, Neovim, Emacs, Zed…);',
    "3. `workspace/didChangeConfiguration` pushes with an `ifai` object.",
    "",
    "Keys may be nested (`{ \"completion\": { \"debounceMs\": 50 } }`) or dotted (`{ \"completion.debounceMs\": 50 }`),",
    "optionally wrapped in `{ \"ifai\": … }`. An invalid value is reported in one message naming the key, and the",
    "previous value stays.",
    "",
    "| key | type | default | description |",
    "|---|---|---|---|",
  ];
  for (const key of settingKeys) {
    const spec = settingsSchema[key] as SettingSpec;
    lines.push(`| \`${key}\` | ${typeText(spec)} | \`${JSON.stringify(spec.default)}\` | ${spec.description.replace(/\|/g, "\\|")} |`);
  }
  lines.push(
    "",
    "## Environment variables",
    "",
    "The server (`ifai-lsp --stdio` and the other transports) and every command read these, so an editor that",
    "configures a server only through its command and environment can still choose the model. A variable that",
    "stands in for a setting replaces its default (the editor's setting wins) or, where the table says so,",
    "wins over the editor's setting.",
    "",
    ...renderEnvironmentTable(),
    "",
    "## Example: Neovim (`vim.lsp.config`)",
    "",
    "```lua",
    "vim.lsp.config('ifai', {",
    "  cmd = { 'ifai-lsp', '--stdio' },",
    "  init_options = { model = { path = '~/models/qwen2.5-coder-0.5b-q4_k_m.gguf' }, completion = { debounceMs = 60 } },",
    "})",
    "```",
    "",
    "## Example: Helix (`languages.toml`)",
    "",
    "```toml",
    "[language-server.ifai]",
    'command = "ifai-lsp"',
    'args = ["--stdio"]',
    'config = { model = { path = "~/models/qwen2.5-coder-0.5b-q4_k_m.gguf" } }',
    "```",
    "",
  );
  return lines.join("\n");
}

function typeText(spec: SettingSpec): string {
  if (spec.enum) return spec.enum.map((v) => `\`${v}\``).join(" \\| ");
  if (spec.type !== "number") return spec.type;
  const range = [spec.minimum !== undefined ? `≥ ${spec.minimum}` : "", spec.maximum !== undefined ? `≤ ${spec.maximum}` : ""].filter(Boolean).join(", ");
  return `${spec.integer ? "integer" : "number"}${range ? ` (${range})` : ""}`;
}
