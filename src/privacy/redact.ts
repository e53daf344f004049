import type { lintSource as LintSource } from "@secretlint/core";
import { findOwnSecrets, type SecretMatch } from "./patterns.js";

export interface Redaction {
  text: string;
  /** Kinds of secret replaced, each once (empty: none). */
  found: string[];
}

/**
 * secretlint's recommended rules (AWS, GCP, Azure, GitHub, GitLab, Slack, Stripe, npm, OpenAI,
 * Anthropic, Hugging Face, SendGrid, Shopify, database connection strings, basic auth, private
 * keys…), maintained upstream. Its comment filter is left out: a `secretlint-disable` comment in
 * the user's text must not be able to switch redaction off for what follows it.
 */
type Linter = { lint: typeof LintSource; config: Parameters<typeof LintSource>[0]["options"]["config"] };
let linter: Promise<Linter> | undefined;

/** Loaded on the first cloud request: a server that stays local never parses the rule set. */
function loadLinter(): Promise<Linter> {
  linter ??= Promise.all([import("@secretlint/core"), import("@secretlint/secretlint-rule-preset-recommend")]).then(([core, preset]) => ({
    lint: core.lintSource,
    config: { rules: preset.rules.filter((rule) => rule.meta.id !== "@secretlint/secretlint-rule-filter-comments").map((rule) => ({ id: rule.meta.id, rule })) },
  }));
  return linter;
}

/**
 * Loads the rule set ahead of the first cloud request (its import costs a few hundred ms), for
 * callers that know a cloud provider may be used; a failure surfaces at the first redaction.
 */
export function preloadRedaction(): void {
  loadLinter().catch(() => undefined);
}

/** "@secretlint/secretlint-rule-github" → "GitHub"-like short kind for the marker. */
function kindOf(ruleId: string): string {
  return ruleId.replace(/^@secretlint\/secretlint-rule-/, "").replace(/-/g, " ");
}

/** Replaces every span with a marker naming its kind; overlapping spans are merged. */
function replaceSpans(text: string, spans: SecretMatch[]): Redaction {
  if (spans.length === 0) return { text, found: [] };
  const sorted = [...spans].sort((a, b) => a.start - b.start || b.end - a.end);
  const merged: SecretMatch[] = [];
  for (const s of sorted) {
    const last = merged[merged.length - 1];
    if (last && s.start < last.end) last.end = Math.max(last.end, s.end);
    else merged.push({ ...s });
  }
  let out = "";
  let at = 0;
  for (const s of merged) {
    out += `${text.slice(at, s.start)}[REDACTED ${s.kind}]`;
    at = s.end;
  }
  out += text.slice(at);
  return { text: out, found: [...new Set(merged.map((s) => s.kind))] };
}

/**
 * Our own patterns only, synchronously: for error messages and logs, which are short and must be
 * scrubbed where no await is possible. Prompts go through `redactForCloud`.
 */
export function redactSecrets(text: string): Redaction {
  return replaceSpans(text, findOwnSecrets(text));
}

/**
 * Everything that is sent to a cloud API passes here: secretlint's maintained rules plus our own
 * patterns for their gaps. It runs on cloud requests only (local prompts never leave the
 * machine); it costs a few milliseconds on a 100 KB prompt (bench in test/privacyRedact.test.ts).
 */
export async function redactForCloud(text: string): Promise<Redaction> {
  if (text === "") return { text, found: [] };
  const spans = findOwnSecrets(text);
  const { lint, config } = await loadLinter();
  const result = await lint({
    source: { content: text, filePath: "prompt.txt", ext: ".txt", contentType: "text" },
    options: { config, noPhysicFilePath: true },
  });
  for (const m of result.messages) {
    const [start, end] = m.range;
    if (end > start) spans.push({ start, end, kind: kindOf(m.ruleId) });
  }
  return replaceSpans(text, spans);
}
