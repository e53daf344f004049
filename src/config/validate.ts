import { jsonDepth } from "../util/jsonDepth.js";
import { defaultSettings, settingsSchema, type SettingKey, type Settings, type SettingSpec } from "./schema.js";

/** Bounds on settings input: the schema is a few levels deep and has fewer than a hundred keys. */
export const MAX_SETTING_DEPTH = 16;
export const MAX_SETTING_ENTRIES = 10_000;

export interface ValidationResult {
  settings: Settings;
  /** One sentence per rejected or unknown key, naming the key; the setting keeps its previous value. */
  problems: string[];
}

/**
 * Flattens user input into dotted keys. Editors send settings either nested
 * (`{ completion: { debounceMs: 50 } }`), flat (`{ "completion.debounceMs": 50 }`) or wrapped in
 * an `ifai` section, and some mix these; all are accepted.
 */
export function flattenSettings(input: unknown, problems: string[] = []): Map<string, unknown> {
  const out = new Map<string, unknown>();
  let visited = 0;
  const visit = (value: unknown, prefix: string, depth: number): void => {
    if (++visited > MAX_SETTING_ENTRIES) {
      if (visited === MAX_SETTING_ENTRIES + 1) problems.push(`ifai settings have more than ${MAX_SETTING_ENTRIES} entries; the rest are ignored.`);
      return;
    }
    if (isPlainObject(value) && !(prefix && prefix in settingsSchema)) {
      // Settings are a few levels deep; a deeper object is hostile or a mistake, and walking it
      // recursively would overflow the stack.
      if (depth >= MAX_SETTING_DEPTH) {
        problems.push(`ifai settings under "${prefix.slice(0, 80)}" are nested more than ${MAX_SETTING_DEPTH} levels deep; ignored.`);
        return;
      }
      for (const [k, v] of Object.entries(value)) visit(v, prefix ? `${prefix}.${k}` : k, depth + 1);
    } else if (prefix) {
      out.set(prefix, value);
    }
  };
  let root = input;
  if (isPlainObject(root) && isPlainObject(root["ifai"])) root = root["ifai"];
  visit(root, "", 0);
  return out;
}

/**
 * Applies user input on top of `base` (defaults when omitted). Invalid values are reported and
 * ignored rather than thrown, so one typo never disables the server.
 */
export function applySettings(input: unknown, base: Settings = defaultSettings()): ValidationResult {
  const settings = { ...base } as Record<string, unknown>;
  const problems: string[] = [];
  if (input === undefined || input === null) return { settings: settings as Settings, problems };
  if (!isPlainObject(input)) {
    problems.push(`ifai settings must be an object, got ${describe(input)}; all settings keep their values.`);
    return { settings: settings as Settings, problems };
  }
  for (const [key, raw] of flattenSettings(input, problems)) {
    if (raw === undefined || raw === null) continue;
    const spec = (settingsSchema as Record<string, SettingSpec>)[key];
    if (!spec) {
      problems.push(`Unknown ifai setting "${key}" ignored.`);
      continue;
    }
    const checked = checkValue(spec, raw);
    if (checked.ok) {
      settings[key] = checked.value;
    } else {
      problems.push(
        // Structured values are not echoed: a key pasted into one must not reach a message or a log.
        spec.type === "object"
          ? `Invalid ifai setting "${key}": ${checked.reason}; keeping the previous value.`
          : `Invalid ifai setting "${key}": ${checked.reason}, got ${describe(raw)}; keeping ${JSON.stringify(settings[key])}.`,
      );
    }
  }
  return { settings: settings as Settings, problems };
}

type Checked = { ok: true; value: unknown } | { ok: false; reason: string };

function checkValue(spec: SettingSpec, raw: unknown): Checked {
  const checked = checkType(spec, raw);
  return checked.ok && spec.parse ? spec.parse(checked.value) : checked;
}

function checkType(spec: SettingSpec, raw: unknown): Checked {
  switch (spec.type) {
    case "object":
      if (!isPlainObject(raw)) return { ok: false, reason: "expected an object" };
      if (jsonDepth(raw, MAX_SETTING_DEPTH) > MAX_SETTING_DEPTH) return { ok: false, reason: `nested more than ${MAX_SETTING_DEPTH} levels deep` };
      return { ok: true, value: raw };
    case "boolean":
      return typeof raw === "boolean" ? { ok: true, value: raw } : { ok: false, reason: "expected true or false" };
    case "string":
      if (typeof raw !== "string") return { ok: false, reason: "expected a string" };
      if (spec.enum && !spec.enum.includes(raw)) return { ok: false, reason: `expected one of ${spec.enum.join(", ")}` };
      return { ok: true, value: raw };
    case "number": {
      if (typeof raw !== "number" || !Number.isFinite(raw)) return { ok: false, reason: "expected a number" };
      if (spec.integer && !Number.isInteger(raw)) return { ok: false, reason: "expected a whole number" };
      if (spec.minimum !== undefined && raw < spec.minimum) return { ok: false, reason: `expected at least ${spec.minimum}` };
      if (spec.maximum !== undefined && raw > spec.maximum) return { ok: false, reason: `expected at most ${spec.maximum}` };
      return { ok: true, value: raw };
    }
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (typeof value === "object" && value !== null && jsonDepth(value, 4) > 4) return Array.isArray(value) ? "a deeply nested array" : "a deeply nested object";
  const text = JSON.stringify(value);
  if (text === undefined) return typeof value;
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

export function settingsEqual(a: Settings, b: Settings, keys: readonly SettingKey[]): boolean {
  return keys.every((k) => a[k] === b[k]);
}
