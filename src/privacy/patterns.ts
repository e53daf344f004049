/**
 * Our own secret patterns, for what the maintained rule set (secretlint's recommended preset)
 * does not catch: JWTs, passwords in connection URLs of any scheme, Hugging Face org tokens,
 * OpenAI/Anthropic-style keys, Stripe test and restricted keys, private keys in any PEM form, and
 * password/secret/token assignments. Every pattern is linear in the input (no nested quantifiers)
 * because prompts are user text of any size.
 */
export interface SecretMatch {
  start: number;
  end: number;
  kind: string;
}

interface Pattern {
  kind: string;
  re: RegExp;
  /** The capture group that holds the secret (0: the whole match). */
  group?: number;
  /** The secret is whichever of the value alternatives (quoted or bare) matched. */
  values?: boolean;
  /** Rejects a match that only looks like a secret (a placeholder, code rather than a value). */
  accept?: (secret: string, bare: boolean) => boolean;
}

/** Values that stand in for a secret in examples and templates. */
const PLACEHOLDER = /^(x+|\*+|\.+|<[^>]*>|\$\{[^}]*\}|\$[A-Z_][A-Z0-9_]*|%\(?[\w]*\)?s?|\{\{[^}]*\}\}|changeme|change_me|password|passwd|secret|example|your[_-]?\w*|dummy|test|none|null|undefined|true|false|redacted)$/i;

/** Shannon entropy in bits per character. */
export function entropy(text: string): number {
  const counts = new Map<string, number>();
  for (const c of text) counts.set(c, (counts.get(c) ?? 0) + 1);
  let bits = 0;
  for (const n of counts.values()) {
    const p = n / text.length;
    bits -= p * Math.log2(p);
  }
  return bits;
}

/**
 * `key = value` in the usual spellings (=, :, :=, =>; JSON, YAML, .env, code) where the key's name
 * contains one of `names`: the value quoted ("…", '…', `…` without interpolation) or bare.
 */
function assignment(names: string, minLength: number): RegExp {
  // The name must end in the keyword or continue with a separator (SECRET_KEY, db-password):
  // tokenizerName, apiKeyHeader and passwordField are names of other things.
  const key = `\\b[\\w.-]{0,40}?(?:${names})(?![a-z])[\\w.-]{0,40}["']?`;
  const quoted = `"([^"\\n\\\\]{${minLength},512})"|'([^'\\n\\\\]{${minLength},512})'|\`([^\`\\n\\\\$]{${minLength},512})\``;
  const bare = `([^\\s"'\`,;()\\[\\]{}<>]{${Math.max(minLength, 8)},512})`;
  return new RegExp(`${key}\\s{0,8}(?::=|=>|[:=])\\s{0,8}(?:${quoted}|${bare})`, "gi");
}

/**
 * Not a placeholder, and, when not quoted, not code: a member chain such as process.env.DB_PASSWORD
 * or a name without digits such as get_password (a quoted string is a value whatever it looks like).
 */
function plausibleValue(value: string, bare: boolean): boolean {
  if (PLACEHOLDER.test(value)) return false;
  if (!bare) return true;
  const memberChain = /^[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)+$/.test(value);
  const plainName = /^[A-Za-z_$][A-Za-z_$]*$/.test(value);
  return !memberChain && !plainName;
}

const PATTERNS: readonly Pattern[] = [
  { kind: "private key", re: /-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|$)/g },
  // Header and payload are base64url JSON objects, so both start with "eyJ" ('{"').
  { kind: "JWT", re: /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g },
  { kind: "AWS access key", re: /\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b/g },
  { kind: "API key", re: /\bsk-(?:ant-(?:api\d\d-)?|proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}/g },
  { kind: "Stripe key", re: /\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}|\bwhsec_[A-Za-z0-9]{24,}/g },
  { kind: "Hugging Face token", re: /\b(?:hf_[A-Za-z0-9]{30,}|api_org_[A-Za-z0-9]{30,})/g },
  { kind: "GitHub token", re: /\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{40,})/g },
  { kind: "GitLab token", re: /\bglpat-[A-Za-z0-9_-]{20,}/g },
  { kind: "Slack token", re: /\bxox[abposr]-[A-Za-z0-9-]{10,}|https:\/\/hooks\.slack\.com\/services\/[A-Za-z0-9/]{20,}/g },
  { kind: "Google API key", re: /\bAIza[0-9A-Za-z_-]{35}/g },
  { kind: "npm token", re: /\bnpm_[A-Za-z0-9]{36}\b/g },
  // user:password@ in any URL (postgres, mysql, mongodb+srv, redis, amqp, https…): the password only.
  { kind: "password", re: /\b[a-z][a-z0-9+.-]{1,20}:\/\/[^\s:/@"'`<>]{0,256}:([^\s@/"'`<>]{1,256})@/gi, group: 1, accept: (s) => !PLACEHOLDER.test(s) },
  // password = "…", "secret": '…', DB_PASSWORD=…: the literal value of a password-named key.
  { kind: "password", re: assignment("password|passwd|passphrase|pwd|secret", 6), values: true, accept: (s, bare) => plausibleValue(s, bare) && entropy(s) >= 2.3 },
  // token = "…", API_KEY=…: the value of a token-named key when it looks random (long, a digit, high entropy).
  {
    kind: "token",
    re: assignment("token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|client[_-]?secret|auth[_-]?key|credentials?|bearer", 16),
    values: true,
    accept: (s, bare) => plausibleValue(s, bare) && /\d/.test(s) && entropy(s) >= 3,
  },
  // Authorization: Bearer <token>, whatever holds it.
  { kind: "token", re: /\bBearer\s{1,4}([A-Za-z0-9._~+/-]{20,2048}=*)/g, group: 1, accept: (s) => /\d/.test(s) && entropy(s) >= 3 },
  { kind: "SendGrid key", re: /\bSG\.[A-Za-z0-9_-]{16,32}\.[A-Za-z0-9_-]{32,64}/g },
];

/** The secrets our own patterns find in `text`, in order of appearance (overlaps allowed). */
export function findOwnSecrets(text: string): SecretMatch[] {
  const out: SecretMatch[] = [];
  for (const p of PATTERNS) {
    p.re.lastIndex = 0;
    for (const m of text.matchAll(p.re)) {
      const group = p.group ?? (p.values ? lastGroup(m) : 0);
      const secret = group === 0 ? m[0] : m[group];
      if (secret === undefined || secret === "") continue;
      // Of a value's alternatives, the last (group 4) is the unquoted one.
      if (p.accept && !p.accept(secret, p.values === true && group === 4)) continue;
      const start = m.index + (group === 0 ? 0 : m[0].lastIndexOf(secret));
      out.push({ start, end: start + secret.length, kind: p.kind });
    }
  }
  return out;
}

/** The defined capture group among a value's alternatives, or 0 when there is none. */
function lastGroup(m: RegExpMatchArray): number {
  for (let i = m.length - 1; i >= 1; i--) if (m[i] !== undefined) return i;
  return 0;
}
