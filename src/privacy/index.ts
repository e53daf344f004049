/**
 * The privacy gate: every byte that can leave the machine passes here. `egress` decides whether
 * the process may connect to a URL (local-only mode by setting or environment); `context` decides
 * whether a file's content may be sent (secrets by name, ignore files, workspace confinement);
 * `redact` replaces secrets in whatever text is sent.
 */
export { assertEgress, configureEgress, currentLocalOnly, egressRefusal, EgressRefusedError, isLoopbackHost, type EgressPurpose } from "./egress.js";
export { ContextGate, type GateFolder } from "./context.js";
export { localOnlyFromEnv, localOnlyMode, type LocalOnlyMode } from "./localOnly.js";
export { preloadRedaction, redactForCloud, redactSecrets, type Redaction } from "./redact.js";
export { hasSecretContent, isSecretPath, sensitiveFileReason } from "./secretFiles.js";
