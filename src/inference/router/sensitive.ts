/**
 * The router's view of the privacy gate (src/privacy): secret files by name and secret redaction.
 * Kept as a module so that the cloud code importing it from here needs no change.
 */
export { redactSecrets, sensitiveFileReason, type Redaction } from "../../privacy/index.js";
