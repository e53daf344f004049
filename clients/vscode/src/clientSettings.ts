/**
 * The settings of the `ifai` section that only the extension reads (how to start the server,
 * protocol tracing, the extension's own next-edit behaviour). They are kept out of what the server receives, which would otherwise warn
 * about unknown keys. No `vscode` import here, so the tests can check this list against the
 * generated manifest.
 */
export const CLIENT_ONLY_SECTIONS = ["server", "trace", "client"] as const;

/** The `ifai` configuration section as the server should see it: a deep copy without client-only keys. */
export function serverSettingsOf(section: unknown): Record<string, unknown> {
  if (!section || typeof section !== "object" || Array.isArray(section)) return {};
  // JSON round-trip drops the WorkspaceConfiguration's methods and copies the values.
  const copy = JSON.parse(JSON.stringify(section)) as Record<string, unknown>;
  for (const key of CLIENT_ONLY_SECTIONS) delete copy[key];
  return copy;
}
