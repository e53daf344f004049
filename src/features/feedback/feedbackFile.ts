import fs from "node:fs";
import path from "node:path";

/** The two kinds of suggestion the user sees and answers. */
export type SuggestionKind = "completion" | "nextEdit";
export const SUGGESTION_KINDS: readonly SuggestionKind[] = ["completion", "nextEdit"];

/** What became of one shown suggestion: still open (or ignored), accepted, partially accepted, dismissed. */
export type Outcome = "open" | "accepted" | "partial" | "dismissed";

export interface Counts {
  shown: number;
  accepted: number;
  partial: number;
  dismissed: number;
}

/** One kind in one language: lifetime counts, the outcomes of the latest shown suggestions, and a quiet period. */
export interface LanguageRecord extends Counts {
  /** Outcomes of the most recent shown suggestions, oldest first, one letter each (o/a/p/d). */
  recent: string;
  /** Epoch ms until which automatic suggestions of this kind stay off in this language. */
  quietUntil?: number;
  /** How many times a quiet period began. */
  quietPeriods: number;
  /** Requests answered with nothing because of a quiet period. */
  quietSkips: number;
}

/** The file's content: records by kind, then by language id. */
export interface FeedbackData {
  version: 1;
  updated: string;
  kinds: Record<SuggestionKind, Record<string, LanguageRecord>>;
}

export const FEEDBACK_FILE = "feedback.json";

/** Where the counts live: a file in the per-user cache folder, never sent anywhere. */
export function feedbackPath(cacheFolder: string): string {
  return path.join(cacheFolder, FEEDBACK_FILE);
}

export function emptyData(): FeedbackData {
  // Records are keyed by language ids that come from editors: no prototype, so that no id
  // ("__proto__", "constructor") can reach one.
  return { version: 1, updated: new Date(0).toISOString(), kinds: { completion: Object.create(null), nextEdit: Object.create(null) } };
}

export function emptyRecord(): LanguageRecord {
  return { shown: 0, accepted: 0, partial: 0, dismissed: 0, recent: "", quietPeriods: 0, quietSkips: 0 };
}

const count = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) && v >= 0 ? Math.floor(v) : 0);

/**
 * Reads the file, keeping only what has the expected shape: a file another version wrote, or
 * one damaged by hand, gives counts of zero rather than an error, since nothing depends on it.
 */
export function readFeedback(file: string): FeedbackData {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch {
    return emptyData();
  }
  const data = emptyData();
  if (typeof raw !== "object" || raw === null) return data;
  const r = raw as Record<string, unknown>;
  if (typeof r.updated === "string") data.updated = r.updated;
  const kinds = (typeof r.kinds === "object" && r.kinds !== null ? r.kinds : {}) as Record<string, unknown>;
  for (const kind of SUGGESTION_KINDS) {
    const langs = kinds[kind];
    if (typeof langs !== "object" || langs === null) continue;
    for (const [lang, value] of Object.entries(langs as Record<string, unknown>)) {
      if (typeof value !== "object" || value === null) continue;
      const v = value as Record<string, unknown>;
      const record: LanguageRecord = {
        shown: count(v.shown),
        accepted: count(v.accepted),
        partial: count(v.partial),
        dismissed: count(v.dismissed),
        recent: typeof v.recent === "string" ? v.recent.replace(/[^oapd]/g, "").slice(-MAX_RECENT) : "",
        quietPeriods: count(v.quietPeriods),
        quietSkips: count(v.quietSkips),
      };
      if (typeof v.quietUntil === "number" && Number.isFinite(v.quietUntil)) record.quietUntil = v.quietUntil;
      data.kinds[kind][lang] = record;
    }
  }
  return data;
}

/** The most outcomes a record keeps (the quiet rule's window is at most this). */
export const MAX_RECENT = 200;

/**
 * Writes the file atomically: a temporary file in the same folder renamed over it, so a reader
 * (another editor window's server, `ifai-lsp stats`) sees the old content or the new, never half.
 */
export function writeFeedback(file: string, data: FeedbackData): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.${Date.now().toString(36)}.tmp`;
  try {
    fs.writeFileSync(temp, `${JSON.stringify(data, null, 1)}\n`, { mode: 0o600 });
    fs.renameSync(temp, file);
  } catch (error) {
    fs.rmSync(temp, { force: true });
    throw error;
  }
}

/** Totals of one kind over every language. */
export function totals(data: FeedbackData, kind: SuggestionKind): Counts {
  const out: Counts = { shown: 0, accepted: 0, partial: 0, dismissed: 0 };
  for (const r of Object.values(data.kinds[kind])) {
    out.shown += r.shown;
    out.accepted += r.accepted;
    out.partial += r.partial;
    out.dismissed += r.dismissed;
  }
  return out;
}

/** Accepted (fully or in part) per shown, or undefined when nothing was shown. */
export function acceptanceRate(c: Counts): number | undefined {
  return c.shown > 0 ? Math.min(1, (c.accepted + c.partial) / c.shown) : undefined;
}
