import type { SettingKey } from "./schema.js";

/**
 * The environment variables ifai-lsp reads: one table for the server (`--stdio` and the other
 * transports), every command, `ifai-lsp --help` and docs/configuration.md. Editors that configure
 * a language server only through its command and environment (Helix, Zed, mason, systemd units)
 * can set the settings that matter before any LSP message.
 */
export interface EnvironmentVariable {
  name: string;
  /** The setting it stands in for; absent for variables with no setting. */
  setting?: SettingKey;
  /**
   * "default": the value replaces the schema's default, and a setting the editor sends wins.
   * "enforced": it wins over the editor's settings (an administrator's choice).
   * "only": there is no setting; only the variable sets it.
   */
  precedence: "default" | "enforced" | "only";
  description: string;
}

const TRUE = /^(1|true|yes|on)$/i;

export const ENVIRONMENT: readonly EnvironmentVariable[] = [
  { name: "IFAI_MODEL", setting: "model.path", precedence: "default", description: "The completion/chat model file (GGUF)." },
  {
    name: "IFAI_LOCAL_ONLY",
    setting: "privacy.localOnly",
    precedence: "enforced",
    description: "`1`/`true`: local-only mode whatever the editor sends: no cloud request, no model download.",
  },
  { name: "IFAI_MODEL_MIRRORS", setting: "models.mirrors", precedence: "default", description: "Comma-separated mirrors tried first for model downloads." },
  {
    name: "IFAI_LOG_LEVEL",
    setting: "log.level",
    precedence: "enforced",
    description: "`trace`, `debug`, `info`, `warn`, `error` or `silent`; logs go to stderr, never stdout.",
  },
  { name: "IFAI_LOG_FILE", setting: "log.file", precedence: "enforced", description: "Write logs to this file instead of stderr." },
  {
    name: "IFAI_CACHE_DIR",
    precedence: "only",
    description: "The cache folder (default `$XDG_CACHE_HOME/ifai-lsp` or `~/.cache/ifai-lsp`): models in `<cache>/models`, the index in `<cache>/index`, the token counter's tables in `<cache>/tokenizers`.",
  },
  {
    name: "IFAI_ENGINE",
    setting: "engine.mode",
    precedence: "default",
    description: "`shared`: one engine process holds the model for every editor window; `in-process`: each server holds its own; `auto` (the default): shared except on Windows.",
  },
  {
    name: "IFAI_ENGINE_DIR",
    precedence: "only",
    description: "The folder of the shared engine's socket (default `$XDG_RUNTIME_DIR/ifai-lsp`, else `<tmp>/ifai-lsp-<uid>`); it must be private to the user (mode 700).",
  },
  { name: "IFAI_ENGINE_IDLE_MS", precedence: "only", description: "How long the shared engine stays after its last window closed (default 10000 ms)." },
  { name: "IFAI_INDEX_WORKERS", precedence: "only", description: "Worker threads of `ifai-lsp index` (default: all cores but one, at most 4)." },
  {
    name: "IFAI_LSP_KEEP_GPU_BUILDS",
    precedence: "only",
    description: "At `npm install` time, `1` keeps every llama.cpp GPU build even where this machine cannot run it.",
  },
];

/** A settings layer (dotted keys) from the environment, for `applySettings`. Empty variables count as unset. */
export function environmentLayer(env: NodeJS.ProcessEnv, precedence: "default" | "enforced"): Record<string, unknown> {
  const layer: Record<string, unknown> = {};
  for (const variable of ENVIRONMENT) {
    const value = env[variable.name];
    if (variable.setting === undefined || variable.precedence !== precedence || value === undefined || value.trim() === "") continue;
    // Only a true IFAI_LOCAL_ONLY enforces anything: "0" must not switch off a mode the editor turned on.
    if (variable.setting === "privacy.localOnly") {
      if (TRUE.test(value.trim())) layer[variable.setting] = true;
      continue;
    }
    layer[variable.setting] = value.trim();
  }
  return layer;
}

/** A problem found in an environment layer names the variable the user set, not only the setting. */
export function environmentProblem(problem: string): string {
  const variable = ENVIRONMENT.find((v) => v.setting !== undefined && problem.includes(`"${v.setting}"`));
  return variable ? `${problem} (from the environment variable ${variable.name})` : problem;
}

/** The table for docs/configuration.md. */
export function renderEnvironmentTable(): string[] {
  const lines = ["| variable | setting | precedence | description |", "|---|---|---|---|"];
  const words = { default: "default; the editor's setting wins", enforced: "wins over the editor's setting", only: "—" };
  for (const v of ENVIRONMENT) {
    lines.push(`| \`${v.name}\` | ${v.setting ? `\`${v.setting}\`` : "—"} | ${words[v.precedence]} | ${v.description.replace(/\|/g, "\\|")} |`);
  }
  return lines;
}

/** The table for `ifai-lsp --help`: name, then the description wrapped to the help's width. */
export function renderEnvironmentHelp(): string {
  return ENVIRONMENT.filter((v) => v.name !== "IFAI_LSP_KEEP_GPU_BUILDS")
    .map((v) => {
      const text = `${v.description.replace(/`/g, "")}${v.setting ? ` (setting ${v.setting}${v.precedence === "enforced" ? ", wins over the editor's" : ""})` : ""}`;
      return `  ${v.name.padEnd(20)} ${wrap(text, 72).join(`\n  ${" ".repeat(20)} `)}`;
    })
    .join("\n");
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line !== "" && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === "" ? word : `${line} ${word}`;
  }
  if (line !== "") lines.push(line);
  return lines;
}
