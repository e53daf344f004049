import { isSecretPath } from "../../index/ignoreRules.js";

/**
 * The minimal privacy guard in front of cloud APIs: files that usually hold secrets are never
 * sent, and secret-looking strings are replaced before any prompt leaves the machine. (Files
 * excluded by .gitignore/.ifaiignore are kept out by the caller's ignore rules when it has them.)
 */

const SENSITIVE_NAMES: readonly RegExp[] = [
  /^\.env(\..*)?$/i,
  /\.(pem|key|p12|pfx|crt|cer|der|jks|keystore|kdbx|asc|gpg|ppk)$/i,
  /^id_(rsa|dsa|ecdsa|ed25519)(\.pub)?$/i,
  /^\.(netrc|npmrc|pypirc|pgpass|htpasswd|git-credentials)$/i,
  /^(credentials|secrets?)(\.(json|ya?ml|toml|ini))?$/i,
];

/** Why a file must not go to a cloud API, or undefined. Takes a URI or a path. */
export function sensitiveFileReason(uriOrPath: string | undefined): string | undefined {
  if (!uriOrPath) return undefined;
  let full = uriOrPath.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, "").replace(/\\/g, "/");
  try {
    full = decodeURIComponent(full);
  } catch {
    // A malformed escape: judge the path as written.
  }
  const name = full.slice(full.lastIndexOf("/") + 1);
  // The index's list of secret files and folders (.ssh, .aws, *.tfvars…) applies as well.
  if (SENSITIVE_NAMES.some((re) => re.test(name)) || isSecretPath(full.replace(/^\/+/, ""))) return `${name} looks like a secrets, key or certificate file`;
  return undefined;
}

const SECRET_PATTERNS: ReadonlyArray<{ name: string; re: RegExp }> = [
  { name: "private key", re: /-----BEGIN [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----[\s\S]*?(-----END [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----|$)/g },
  { name: "AWS access key", re: /\b(AKIA|ASIA)[0-9A-Z]{16}\b/g },
  { name: "API key", re: /\bsk-(?:ant-|proj-)?[A-Za-z0-9_-]{16,}/g },
  { name: "GitHub token", re: /\b(gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{40,})\b/g },
  { name: "Slack token", re: /\bxox[abposr]-[A-Za-z0-9-]{10,}/g },
  { name: "Google API key", re: /\bAIza[0-9A-Za-z_-]{35}\b/g },
];

export interface Redaction {
  text: string;
  /** Kinds of secret replaced (empty: none). */
  found: string[];
}

/** Replaces secret-looking strings with a marker naming their kind. */
export function redactSecrets(text: string): Redaction {
  const found: string[] = [];
  let out = text;
  for (const { name, re } of SECRET_PATTERNS) {
    re.lastIndex = 0;
    if (!re.test(out)) continue;
    re.lastIndex = 0;
    out = out.replace(re, () => `[REDACTED ${name}]`);
    found.push(name);
  }
  return { text: out, found };
}
