import type { Logger } from "../../util/logger.js";
import {
  emptyData,
  emptyRecord,
  MAX_RECENT,
  readFeedback,
  SUGGESTION_KINDS,
  totals,
  writeFeedback,
  type Counts,
  type FeedbackData,
  type LanguageRecord,
  type Outcome,
  type SuggestionKind,
} from "./feedbackFile.js";

export interface FeedbackSettings {
  /** Keep the counts in the file (off: in memory for this session only). */
  persist: boolean;
  /** Stay quiet where suggestions keep being dismissed. */
  quiet: boolean;
  /** How many of the latest shown suggestions the rule looks at (it needs that many). */
  window: number;
  /** Quiet when the share accepted (fully or in part) among them is below this. */
  below: number;
  /** How long a quiet period lasts. */
  minutes: number;
}

/** One quiet period in force. */
export interface QuietPeriod {
  kind: SuggestionKind;
  languageId: string;
  /** ISO time it ends. */
  until: string;
}

export interface FeedbackSummary {
  completion: Counts;
  nextEdit: Counts;
  quiet: QuietPeriod[];
}

const LETTER: Record<Outcome, string> = { open: "o", accepted: "a", partial: "p", dismissed: "d" };
const OUTCOME: Record<string, Outcome> = { o: "open", a: "accepted", p: "partial", d: "dismissed" };
const COUNTED = ["shown", "accepted", "partial", "dismissed", "quietPeriods", "quietSkips"] as const;
type Counted = (typeof COUNTED)[number];

interface WindowEntry {
  id?: string;
  outcome: Outcome;
}

/**
 * What became of the suggestions the user was shown, per kind and language, kept in a small JSON
 * file in the user's cache folder (never sent anywhere) and used to stay quiet where suggestions
 * keep being dismissed: when fewer than `below` of the last `window` shown suggestions of a kind
 * in a language were accepted (fully or in part; one replaced without an answer counts as not
 * accepted, the newest while it may still be on screen not at all), automatic suggestions of that kind there stop for `minutes`, and
 * the window starts afresh, so that the model gets another chance afterwards.
 *
 * Several servers (one per editor window) share the file: each keeps the counts it added since
 * its last write and adds them to what the file holds when it writes, so no window's counts are
 * lost; the recent outcomes and quiet periods are last-writer-wins. Writes are debounced and
 * atomic (feedbackFile.ts).
 */
export class FeedbackStore {
  private data: FeedbackData;
  private readonly deltas = new Map<string, Partial<Record<Counted, number>>>();
  private readonly windows = new Map<string, WindowEntry[]>();
  private timer: NodeJS.Timeout | undefined;
  private listeners: Array<() => void> = [];

  constructor(
    private readonly file: string,
    private settings: FeedbackSettings,
    private readonly logger: Logger,
    private readonly debounceMs = 2000,
    private readonly now: () => number = Date.now,
  ) {
    this.data = settings.persist ? readFeedback(file) : emptyData();
  }

  updateSettings(settings: FeedbackSettings): void {
    this.settings = settings;
  }

  /** Called when a quiet period begins (so the status can say so). */
  onQuietChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  shown(kind: SuggestionKind, languageId: string, id: string): void {
    const window = this.window(kind, languageId);
    window.push({ id, outcome: "open" });
    if (window.length > MAX_RECENT) window.splice(0, window.length - MAX_RECENT);
    this.bump(kind, languageId, "shown");
    this.changed(kind, languageId);
  }

  /** A full acceptance; one that follows a partial one turns that partial into accepted. */
  accepted(kind: SuggestionKind, languageId: string, id: string, wasPartial: boolean): void {
    this.bump(kind, languageId, "accepted");
    if (wasPartial) this.bump(kind, languageId, "partial", -1);
    this.settle(kind, languageId, id, "accepted");
  }

  partial(kind: SuggestionKind, languageId: string, id: string): void {
    this.bump(kind, languageId, "partial");
    this.settle(kind, languageId, id, "partial");
  }

  dismissed(kind: SuggestionKind, languageId: string, id: string): void {
    this.bump(kind, languageId, "dismissed");
    this.settle(kind, languageId, id, "dismissed");
  }

  /**
   * Whether automatic suggestions of this kind are off in this language now: the end of the
   * quiet period, or undefined. A request turned away is counted (`quietSkips`).
   */
  quietUntil(kind: SuggestionKind, languageId: string, countSkip = true): number | undefined {
    if (!this.settings.quiet) return undefined;
    const until = this.data.kinds[kind][languageId]?.quietUntil;
    if (until === undefined || until <= this.now()) return undefined;
    if (countSkip) {
      this.bump(kind, languageId, "quietSkips");
      this.schedule();
    }
    return until;
  }

  summary(): FeedbackSummary {
    const quiet: QuietPeriod[] = [];
    const now = this.now();
    if (this.settings.quiet) {
      for (const kind of SUGGESTION_KINDS) {
        for (const [languageId, r] of Object.entries(this.data.kinds[kind])) {
          if (r.quietUntil !== undefined && r.quietUntil > now) quiet.push({ kind, languageId, until: new Date(r.quietUntil).toISOString() });
        }
      }
    }
    return { completion: totals(this.data, "completion"), nextEdit: totals(this.data, "nextEdit"), quiet };
  }

  /** Whether a kind has a record for a language, and how many languages it has. */
  languages(kind: SuggestionKind): { has(languageId: string): boolean; count: number } {
    const records = this.data.kinds[kind];
    return { has: (languageId) => Object.hasOwn(records, languageId), count: Object.keys(records).length };
  }

  /** The records as they are now (this server's view). */
  snapshot(): FeedbackData {
    return structuredClone(this.data);
  }

  /** Writes what changed now (shutdown); later changes are written again after the debounce. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.settings.persist || this.deltas.size === 0) return;
    const fresh = readFeedback(this.file);
    for (const [key, delta] of this.deltas) {
      const [kind, languageId] = splitKey(key);
      const record = (fresh.kinds[kind][languageId] ??= emptyRecord());
      for (const field of COUNTED) record[field] = Math.max(0, record[field] + (delta[field] ?? 0));
      const mine = this.data.kinds[kind][languageId];
      if (mine) {
        record.recent = mine.recent;
        if (mine.quietUntil !== undefined) record.quietUntil = mine.quietUntil;
        else delete record.quietUntil;
      }
    }
    fresh.updated = new Date(this.now()).toISOString();
    try {
      writeFeedback(this.file, fresh);
      this.data = fresh;
      this.deltas.clear();
    } catch (error) {
      // The counts stay in memory and are tried again with the next change.
      this.logger.warn({ err: error, file: this.file }, "could not write the feedback counts");
    }
  }

  dispose(): void {
    this.flush();
  }

  private record(kind: SuggestionKind, languageId: string): LanguageRecord {
    return (this.data.kinds[kind][languageId] ??= emptyRecord());
  }

  private window(kind: SuggestionKind, languageId: string): WindowEntry[] {
    const key = keyOf(kind, languageId);
    let window = this.windows.get(key);
    if (!window) {
      window = [...this.record(kind, languageId).recent].map((letter) => ({ outcome: OUTCOME[letter]! }));
      this.windows.set(key, window);
    }
    return window;
  }

  private bump(kind: SuggestionKind, languageId: string, field: Counted, by = 1): void {
    const record = this.record(kind, languageId);
    record[field] = Math.max(0, record[field] + by);
    const key = keyOf(kind, languageId);
    const delta = this.deltas.get(key) ?? {};
    delta[field] = (delta[field] ?? 0) + by;
    this.deltas.set(key, delta);
  }

  private settle(kind: SuggestionKind, languageId: string, id: string, outcome: Outcome): void {
    const window = this.window(kind, languageId);
    const entry = window.findLast((e) => e.id === id);
    if (entry && (entry.outcome === "open" || (entry.outcome === "partial" && outcome === "accepted"))) entry.outcome = outcome;
    this.changed(kind, languageId);
  }

  /** Records the window and applies the quiet rule after every event. */
  private changed(kind: SuggestionKind, languageId: string): void {
    const window = this.window(kind, languageId);
    const record = this.record(kind, languageId);
    const { quiet, window: size, below, minutes } = this.settings;
    // The newest suggestion may still be on screen: it counts once it is answered or replaced.
    const settled = window.at(-1)?.outcome === "open" ? window.slice(0, -1) : window;
    if (quiet && settled.length >= size && (record.quietUntil === undefined || record.quietUntil <= this.now())) {
      const latest = settled.slice(-size);
      const taken = latest.filter((e) => e.outcome === "accepted" || e.outcome === "partial").length;
      if (taken / size < below) {
        record.quietUntil = this.now() + minutes * 60_000;
        this.bump(kind, languageId, "quietPeriods");
        window.length = 0;
        this.logger.info({ kind, languageId, accepted: taken, shown: size, minutes }, "suggestions keep being dismissed here: quiet for a while");
        for (const listener of this.listeners) listener();
      }
    }
    record.recent = window.map((e) => LETTER[e.outcome]).join("");
    // The window must be written even when only an outcome changed.
    const key = keyOf(kind, languageId);
    if (!this.deltas.has(key)) this.deltas.set(key, {});
    this.schedule();
  }

  private schedule(): void {
    if (!this.settings.persist || this.timer) return;
    this.timer = setTimeout(() => this.flush(), this.debounceMs);
    this.timer.unref();
  }
}

const keyOf = (kind: SuggestionKind, languageId: string): string => `${kind}\u0000${languageId}`;
function splitKey(key: string): [SuggestionKind, string] {
  const at = key.indexOf("\u0000");
  return [key.slice(0, at) as SuggestionKind, key.slice(at + 1)];
}
