import { createHash } from "node:crypto";
import { LruCache } from "../../util/LruCache.js";
import type { ActionKind, ActionOutcome, Diagnostic, Span } from "./types.js";

/** What makes two requests for an action the same request: same document text, same place, same route. */
export interface ActionKey {
  uri: string;
  /** The document's version as the editor numbers it. */
  version: number;
  /** The document's text (hashed: a reopened document starts its versions again). */
  text: string;
  kind: ActionKind;
  range: Span;
  diagnostic?: Diagnostic;
  /** Anything else the outcome depends on (the router's preferences for the action's tasks). */
  route: string;
}

export function actionKey(k: ActionKey): string {
  const text = createHash("sha256").update(k.text).digest("base64");
  const diagnostic = k.diagnostic ? [k.diagnostic.message, k.diagnostic.range] : null;
  return JSON.stringify([k.uri, k.version, text, k.kind, k.range, diagnostic, k.route]);
}

type Report = (message: string) => void;

interface Running {
  promise: Promise<ActionOutcome>;
  controller: AbortController;
  waiters: number;
  reports: Set<Report>;
}

const CANCELLED: ActionOutcome = Object.freeze({ refused: true, message: "cancelled" }) as ActionOutcome;

/** An outcome worth keeping: an edit, or a refusal that asking again would only repeat. */
function keepable(outcome: ActionOutcome): boolean {
  return outcome.edit !== undefined || (outcome.refused === true && outcome.message !== "cancelled");
}

/**
 * The outcomes of code actions per document version, so that asking again costs no model or
 * cloud call: an editor that resolves a refused action again (eglot 1.17 does, until it gets an
 * edit or a command), a user who picks the same action twice, and identical requests that arrive
 * while the first still runs, which share its one computation. A shared computation is aborted
 * only when every request waiting for it was cancelled. Cancelled runs and failures are not kept.
 */
export class ActionResults {
  private readonly done: LruCache<string, ActionOutcome>;
  private readonly running = new Map<string, Running>();

  constructor(capacity = 32) {
    this.done = new LruCache(capacity);
  }

  /** Forgets every kept outcome (the settings changed); runs under way finish for their callers. */
  clear(): void {
    this.done.clear();
  }

  /** How many computations are running (for tests and logs). */
  get inFlight(): number {
    return this.running.size;
  }

  run(key: string, signal: AbortSignal, report: Report, compute: (signal: AbortSignal, report: Report) => Promise<ActionOutcome>): Promise<ActionOutcome> {
    const kept = this.done.get(key);
    if (kept) return Promise.resolve(kept);
    if (signal.aborted) return Promise.resolve(CANCELLED);
    let run = this.running.get(key);
    if (!run) run = this.start(key, compute);
    const shared = run;
    shared.waiters++;
    shared.reports.add(report);
    return new Promise<ActionOutcome>((resolve, reject) => {
      const leave = (): void => {
        signal.removeEventListener("abort", onAbort);
        shared.reports.delete(report);
        shared.waiters--;
      };
      const onAbort = (): void => {
        leave();
        if (shared.waiters === 0) {
          // Nobody waits any more: stop the model, let the next request start afresh, and answer
          // once the model has stopped (as an uncached run would).
          if (this.running.get(key) === shared) this.running.delete(key);
          shared.controller.abort(signal.reason);
          shared.promise.then(
            () => resolve(CANCELLED),
            () => resolve(CANCELLED),
          );
          return;
        }
        resolve(CANCELLED);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      shared.promise.then(
        (outcome) => {
          if (signal.aborted) return;
          leave();
          resolve(outcome);
        },
        (error: unknown) => {
          if (signal.aborted) return;
          leave();
          reject(error);
        },
      );
    });
  }

  private start(key: string, compute: (signal: AbortSignal, report: Report) => Promise<ActionOutcome>): Running {
    const controller = new AbortController();
    const reports = new Set<Report>();
    const run: Running = { controller, waiters: 0, reports, promise: Promise.resolve(CANCELLED) };
    run.promise = (async () => {
      try {
        const outcome = await compute(controller.signal, (message) => {
          for (const r of reports) r(message);
        });
        if (!controller.signal.aborted && keepable(outcome)) this.done.set(key, outcome);
        return outcome;
      } finally {
        if (this.running.get(key) === run) this.running.delete(key);
      }
    })();
    // Every waiter handles the rejection; this keeps a run nobody waits for from being unhandled.
    run.promise.catch(() => undefined);
    this.running.set(key, run);
    return run;
  }
}
