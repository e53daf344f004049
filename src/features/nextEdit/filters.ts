import { applyEdits, type TextEdit } from "./minimalEdits.js";

/** Why a suggestion (or one of its edits) was dropped, for logs and metrics. */
export type DropReason = "no-change" | "whitespace-only" | "undoes-last-edit" | "syntax-error" | "unparsable" | "too-large";

/** An edit that changes nothing but whitespace (re-indenting, trailing spaces, blank lines). */
export function isWhitespaceOnly(region: string, edit: TextEdit): boolean {
  return region.slice(edit.start, edit.end).replace(/\s+/g, "") === edit.text.replace(/\s+/g, "");
}

/**
 * Whether applying `edits` to `region` gives back the region as it was before the user's last
 * edit (`original`): a suggestion to undo what the user just did.
 */
export function undoesLastEdit(region: string, original: string, edits: readonly TextEdit[]): boolean {
  return original !== region && edits.length > 0 && applyEdits(region, edits) === original;
}

/**
 * The edits worth showing: whitespace-only edits are dropped, and a suggestion that undoes the
 * user's last edit is dropped whole. Returns the edits kept and the reason when none are.
 */
export function keepUseful(region: string, original: string, edits: readonly TextEdit[]): { edits: TextEdit[]; dropped?: DropReason } {
  if (edits.length === 0) return { edits: [], dropped: "no-change" };
  if (undoesLastEdit(region, original, edits)) return { edits: [], dropped: "undoes-last-edit" };
  const kept = edits.filter((e) => !isWhitespaceOnly(region, e));
  return kept.length > 0 ? { edits: kept } : { edits: [], dropped: "whitespace-only" };
}
