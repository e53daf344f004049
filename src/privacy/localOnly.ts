/**
 * Local-only mode: whether it is on, and which switch turned it on, so that every refusal can
 * name the way to turn it off. The setting (privacy.localOnly) and the environment variable
 * IFAI_LOCAL_ONLY are equivalent; either one turns it on, and the environment wins over the
 * editor because an administrator sets it for a machine.
 */
export interface LocalOnlyMode {
  on: boolean;
  /** What turned it on (absent when it is off). */
  source?: "environment" | "setting";
  /** How to turn it off, in words (empty when it is off). */
  howToTurnOff: string;
}

const TRUTHY = /^(1|true|yes|on)$/i;

export function localOnlyFromEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  return TRUTHY.test((env.IFAI_LOCAL_ONLY ?? "").trim());
}

export function localOnlyMode(setting: boolean, env: NodeJS.ProcessEnv = process.env): LocalOnlyMode {
  if (localOnlyFromEnv(env)) {
    return { on: true, source: "environment", howToTurnOff: "unset the environment variable IFAI_LOCAL_ONLY where the server starts (it overrides the editor's settings)" };
  }
  if (setting) return { on: true, source: "setting", howToTurnOff: "set privacy.localOnly to false in the editor's ifai settings" };
  return { on: false, howToTurnOff: "" };
}

/** The refusal of a model download in local-only mode, naming what to do instead and how to turn the mode off. */
export function downloadRefusal(mode: LocalOnlyMode, modelsDir: string): string {
  const by = mode.source === "environment" ? "IFAI_LOCAL_ONLY is set" : "privacy.localOnly is on";
  return `Local-only mode is on: downloads are refused so that nothing leaves this machine (${by}). Copy the model file to ${modelsDir} yourself (or set model.path to it), or, to download, ${mode.howToTurnOff}.`;
}
