import { defaultSettings, settingsSchema, type SettingKey, type Settings, type SettingSpec } from "./schema.js";

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
export function flattenSettings(input: unknown): Map<string, unknown> {
  const out = new Map<string, unknown>();
  const visit = (value: unknown, prefix: string): void => {
    if (isPlainObject(value) && !(prefix && prefix in settingsSchema)) {
      for (const [k, v] of Object.entries(value)) visit(v, prefix ? `${prefix}.${k}` : k);
    } else if (prefix) {
      out.set(prefix, value);
    }
  };
  let root = input;
  if (isPlainObject(root) && isPlainObject(root["ifai"])) root = root["ifai"];
  visit(root, "");
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
  for (const [key, raw] of flattenSettings(input)) {
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
      return isPlainObject(raw) ? { ok: true, value: raw } : { ok: false, reason: "expected an object" };
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
  const text = JSON.stringify(value);
  if (text === undefined) return typeof value;
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

export function settingsEqual(a: Settings, b: Settings, keys: readonly SettingKey[]): boolean {
  return keys.every((k) => a[k] === b[k]);
}
