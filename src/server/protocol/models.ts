/** The model manager's commands and their types (re-exported by ../protocol.ts). */
/**
 * Model manager commands (`workspace/executeCommand`, advertised in executeCommandProvider).
 * list: no arguments → ModelsListResult. pull: [id or https URL] or [{ id, sha256?, name? }] →
 * ModelsPullResult, reporting `$/progress` on the request's workDoneToken (or a server-created
 * one when the client supports window.workDoneProgress). remove: [id] → ModelsRemoveResult.
 * verify: [id, or the path of a file in the model folder or of the configured model.path] →
 * ModelsVerifyResult; any other path is refused. In privacy.localOnly mode pull is refused.
 */
export const ModelCommands = {
  list: "ifai.models.list",
  pull: "ifai.models.pull",
  remove: "ifai.models.remove",
  verify: "ifai.models.verify",
} as const;

export interface ModelInfo {
  id: string;
  name: string;
  source: "catalogue" | "custom";
  format: string;
  roles: readonly string[];
  licence?: string;
  parameters?: string;
  quantization?: string;
  description?: string;
  approxBytes: number;
  installed: boolean;
  partialBytes: number;
  installedBytes: number;
  path: string;
  /** The file configured as model.path. */
  inUse: boolean;
  /**
   * What the files' integrity rests on: "pinned" (a SHA-256 in the catalogue), "checked-at-download"
   * (the hash the source published, or the one given, was checked while downloading and recorded),
   * "recorded" (a hash recorded at download with nothing to check it against), "none".
   */
  integrity: "pinned" | "checked-at-download" | "recorded" | "none";
  integrityDetail: string;
}
export interface ModelsListResult {
  modelsDir: string;
  models: ModelInfo[];
}
export interface ModelsPullArgs {
  id: string;
  sha256?: string;
  name?: string;
}
export interface ModelsPullResult {
  id: string;
  path: string;
  files: Array<{
    path: string;
    bytes: number;
    sha256: string;
    verifiedBy: "pinned" | "x-linked-etag" | "none";
    url: string;
    resumedFromBytes: number;
    /** Partial data thrown away because a source served a different (or unidentifiable) file, one reason each. */
    restarts: string[];
    ms: number;
    alreadyPresent: boolean;
  }>;
}
export interface ModelsRemoveResult {
  id: string;
  removed: string[];
  freedBytes: number;
}
export interface ModelsVerifyResult {
  id: string;
  ok: boolean;
  /**
   * status "ok": matches the catalogue's pinned SHA-256; "unchanged": matches the hash recorded at
   * download (`reference` says whether that was checked against the source then); "unverified": no
   * reference hash. `detail` says what was compared with what.
   */
  files: Array<{
    path: string;
    status: "ok" | "unchanged" | "mismatch" | "missing" | "unverified" | "not-gguf";
    reference: "pinned" | "checked-at-download" | "recorded" | "none";
    bytes?: number;
    sha256?: string;
    expected?: string;
    detail: string;
  }>;
  ms: number;
}
