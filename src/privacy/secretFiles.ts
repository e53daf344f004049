import ignore from "ignore";

type Ignore = ignore.Ignore;

/**
 * The one list of files that hold secrets by their name: environment files, keys, certificates,
 * credential stores. The index never reads them and their content never goes to a cloud API,
 * whatever the ignore files say; both decisions come from here so that they cannot drift apart.
 */
const SECRET_NAMES = [
  ".env",
  ".env.*",
  "*.env",
  ".envrc",
  "*.pem",
  "*.key",
  "*.p12",
  "*.pfx",
  "*.crt",
  "*.cer",
  "*.der",
  "*.csr",
  "*.p8",
  "*.jks",
  "*.keystore",
  "*.ppk",
  "*.asc",
  "*.gpg",
  "*.pgp",
  "*.kdbx",
  "*.ovpn",
  "id_rsa*",
  "id_dsa*",
  "id_ecdsa*",
  "id_ed25519*",
  ".npmrc",
  ".yarnrc.yml",
  ".pypirc",
  ".netrc",
  "_netrc",
  ".git-credentials",
  ".htpasswd",
  ".pgpass",
  "credentials",
  "credentials.json",
  "credentials.yaml",
  "credentials.yml",
  "credentials.toml",
  "credentials.ini",
  "secret",
  "secrets",
  "secrets.*",
  "*secret*.json",
  "*secret*.yaml",
  "*secret*.yml",
  "*secret*.toml",
  "service-account*.json",
  "*.tfstate",
  "*.tfstate.*",
  "*.tfvars",
  "kubeconfig",
  "*.kubeconfig",
];

/** Folders whose every file is a secret (ssh keys, cloud CLI credentials, password stores). */
export const SECRET_DIRS: ReadonlySet<string> = new Set([".ssh", ".aws", ".gnupg", ".gpg", ".azure", ".kube", ".docker", ".password-store"]);

// File names are compared case-insensitively: `.ENV` or `Server.KEY` hold the same secrets.
const secretMatcher: Ignore = ignore({ ignorecase: true }).add(SECRET_NAMES);

/** True for paths ("/"-separated, relative or absolute) that may hold secrets: never read, never sent. */
export function isSecretPath(filePath: string): boolean {
  const parts = filePath.split("/").filter((p) => p !== "");
  for (let i = 0; i < parts.length - 1; i++) if (SECRET_DIRS.has(parts[i]!)) return true;
  const base = parts[parts.length - 1] ?? "";
  return base !== "" && secretMatcher.ignores(base);
}

/** A private key block: content that is a secret whatever the file is called. */
export const PRIVATE_KEY_BLOCK = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----/;

/** Content that is a secret whatever its name: private key blocks. */
export function hasSecretContent(text: string): boolean {
  return PRIVATE_KEY_BLOCK.test(text);
}

/** Why a file must not go to a cloud API because of its name, or undefined. Takes a URI or a path. */
export function sensitiveFileReason(uriOrPath: string | undefined): string | undefined {
  if (!uriOrPath) return undefined;
  let full = uriOrPath.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, "").replace(/\\/g, "/");
  try {
    full = decodeURIComponent(full);
  } catch {
    // A malformed escape: judge the path as written.
  }
  const name = full.slice(full.lastIndexOf("/") + 1);
  if (isSecretPath(full)) return `${name} looks like a secrets, key or certificate file`;
  return undefined;
}
