/** What a model file's integrity rests on, for `models list` and `models verify`. */
import type { ManifestRecord } from "./manifest.js";

/**
 * What a model's files can be checked against, strongest first: a SHA-256 pinned in the catalogue;
 * the hash the download source published (the hub's X-Linked-Etag) or the one given with --sha256,
 * checked while downloading and recorded; a hash merely recorded at download time (not checked
 * against anything); nothing.
 */
export type Integrity = "pinned" | "checked-at-download" | "recorded" | "none";

/** How verify words a match with each kind of reference. */
export const MATCH_DETAIL: Record<Integrity, string> = {
  pinned: "matches the catalogue's pinned SHA-256",
  "checked-at-download": "matches the hash recorded when it was downloaded, which was checked then against the hash its source published (or the one given with --sha256); the catalogue pins none",
  recorded: "matches the hash recorded when it was downloaded (not independently verified: nothing to check it against existed then)",
  none: "",
};

/** The weakest link among a model's files decides what its integrity rests on. */
export function integrityOf(
  files: Array<{ pinned: boolean; record: ManifestRecord | undefined }>,
  installed: boolean,
  source: "catalogue" | "custom",
): { integrity: Integrity; integrityDetail: string } {
  if (files.every((f) => f.pinned)) return { integrity: "pinned", integrityDetail: "SHA-256 pinned in the catalogue" };
  if (!installed && source === "catalogue") {
    return { integrity: "none", integrityDetail: "the catalogue pins no SHA-256; a download is checked against the hash its source publishes (X-Linked-Etag), where it sends one" };
  }
  if (!installed) return { integrity: "none", integrityDetail: "not present" };
  if (files.some((f) => !f.pinned && !f.record?.sha256)) return { integrity: "none", integrityDetail: "no hash pinned or recorded (not downloaded by ifai-lsp)" };
  if (files.some((f) => !f.pinned && f.record?.verifiedBy === "none")) {
    return { integrity: "recorded", integrityDetail: "not verified: hash recorded at download, when no reference hash was available" };
  }
  return { integrity: "checked-at-download", integrityDetail: "checked at download against the hash its source published; the catalogue pins none" };
}
