import path from "node:path";
import type { EditHistory } from "./EditHistory.js";
import { instructPrompt } from "./formats/instruct.js";
import { sweepPrompt } from "./formats/sweep.js";
import type { NextEditFormatName, NextEditPrompt, NextEditPromptInput } from "./formats/types.js";
import { zetaPrompt } from "./formats/zeta.js";
import { contextSpan, editableRegion, type RegionOptions } from "./regions.js";

export const FORMATS: Readonly<Record<NextEditFormatName, (input: NextEditPromptInput) => NextEditPrompt>> = {
  instruct: instructPrompt,
  zeta: zetaPrompt,
  sweep: sweepPrompt,
};

/** The format for a setting: "auto" goes by the model file's name (the published GGUFs name their model). */
export function chooseFormat(setting: string, modelPath: string): NextEditFormatName {
  if (setting === "instruct" || setting === "zeta" || setting === "sweep") return setting;
  const name = path.basename(modelPath).toLowerCase();
  if (name.includes("zeta")) return "zeta";
  if (name.includes("sweep") || name.includes("next-edit")) return "sweep";
  return "instruct";
}

/**
 * What a prompt shows for a document at a cursor: the region and its context, the recent edits
 * (oldest first), and the region as it was before this document's last edit when that edit lies
 * inside it.
 */
export function promptInput(
  doc: { uri: string; path: string; languageId: string; text: string },
  cursor: number,
  history: EditHistory,
  historyEdits: number,
  options: RegionOptions,
): NextEditPromptInput {
  const region = editableRegion(doc.text, cursor, options);
  const context = contextSpan(doc.text, region, options);
  const current = doc.text.slice(region.start, region.end);
  let originalRegion = current;
  const last = history.last(doc.uri);
  const at = history.lastOffset(doc.uri);
  if (last && at !== undefined && at >= region.start && at + last.after.length <= region.end && doc.text.startsWith(last.after, at)) {
    const rel = at - region.start;
    originalRegion = current.slice(0, rel) + last.before + current.slice(rel + last.after.length);
  }
  return {
    path: doc.path,
    languageId: doc.languageId,
    text: doc.text,
    cursor: Math.max(0, Math.min(doc.text.length, cursor)),
    region,
    context,
    history: historyEdits > 0 ? history.recent(historyEdits) : [],
    originalRegion,
  };
}
