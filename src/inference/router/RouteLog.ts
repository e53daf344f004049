import type { BackendKind, RouteDecision, RouteOutcome } from "./types.js";

export interface RouteLogEntry extends RouteDecision {
  outcome?: RouteOutcome;
}

export interface RouteLogSnapshot {
  entries: RouteLogEntry[];
  /** Over every decision since the server started (not only the kept ones). */
  counts: {
    total: number;
    /** Decided backend → decisions. */
    decided: Partial<Record<BackendKind, number>>;
    /** Who actually served ("local", "cloud:<provider>", "none") → requests. */
    servedBy: Record<string, number>;
    /** What decided ("rule:completion-local", "preference", …) → decisions. */
    rule: Record<string, number>;
    /** Outcome status ("ok", "fallback", "error", "cancelled") → requests. */
    status: Record<string, number>;
  };
}

/** The last N routing decisions with their outcomes, and running counts. */
export class RouteLog {
  private readonly entries: RouteLogEntry[] = [];
  private total = 0;
  private readonly decided: Partial<Record<BackendKind, number>> = {};
  private readonly servedBy: Record<string, number> = {};
  private readonly rule: Record<string, number> = {};
  private readonly status: Record<string, number> = {};

  constructor(private size: number) {}

  resize(size: number): void {
    this.size = size;
    if (this.entries.length > size) this.entries.splice(0, this.entries.length - size);
  }

  add(decision: RouteDecision): RouteLogEntry {
    const entry: RouteLogEntry = { ...decision };
    this.entries.push(entry);
    if (this.entries.length > this.size) this.entries.splice(0, this.entries.length - this.size);
    this.total++;
    this.decided[decision.backend] = (this.decided[decision.backend] ?? 0) + 1;
    this.rule[decision.rule] = (this.rule[decision.rule] ?? 0) + 1;
    return entry;
  }

  finish(entry: RouteLogEntry, outcome: RouteOutcome): void {
    if (entry.outcome) return;
    entry.outcome = outcome;
    this.servedBy[outcome.servedBy] = (this.servedBy[outcome.servedBy] ?? 0) + 1;
    this.status[outcome.status] = (this.status[outcome.status] ?? 0) + 1;
  }

  snapshot(last?: number): RouteLogSnapshot {
    const entries = last && last > 0 ? this.entries.slice(-last) : [...this.entries];
    return {
      entries: entries.map((e) => ({ ...e, reasons: [...e.reasons], ...(e.outcome ? { outcome: { ...e.outcome } } : {}) })),
      counts: {
        total: this.total,
        decided: { ...this.decided },
        servedBy: { ...this.servedBy },
        rule: { ...this.rule },
        status: { ...this.status },
      },
    };
  }
}
