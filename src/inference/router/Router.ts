import type { Logger } from "../../util/logger.js";
import type { ModelStatus } from "../types.js";
import { formatCount, matchRules } from "./rules.js";
import { RouteLog, type RouteLogEntry, type RouteLogSnapshot } from "./RouteLog.js";
import { sensitiveFileReason } from "../../privacy/secretFiles.js";
import { TASK_LABELS, type TaskType } from "../../config/tasks.js";
import type { BackendKind, Preference, RouteDecision, RouteOutcome, RouteRequest, RouterConfig } from "./types.js";

/** The live facts a decision depends on; every method answers from memory (no I/O per keystroke). */
export interface RouterEnvironment {
  localStatus(): ModelStatus;
  /** The provider a cloud route of this task would use, or why there is none. */
  cloudProvider(task: TaskType): { name: string } | { problem: string };
  /** Why a document must stay off cloud APIs beyond the built-in checks (ignore files), or undefined. */
  excluded?(uri: string): string | undefined;
  /**
   * Why another file's content (a context source) must stay off cloud APIs: the privacy gate's
   * context check (ignore files, outside the workspace). Without it only secret file names count.
   */
  contextExcluded?(source: string): string | undefined;
}

interface Cooldown {
  until: number;
  reason: string;
}

/**
 * Chooses local or cloud for each AI task, and says why.
 *
 * Order: a per-request override, else the task's preference, else the global one. An explicit
 * local or cloud preference is obeyed; auto applies the rule table, then the low-end-hardware
 * and health checks. Cloud is never chosen in local-only mode, for sensitive or excluded files,
 * or without a configured provider; the refusal is part of the reasons.
 */
export class Router {
  private config: RouterConfig;
  private readonly log: RouteLog;
  private nextId = 1;
  private readonly cooldowns = new Map<string, Cooldown>();

  constructor(
    config: RouterConfig,
    private readonly env: RouterEnvironment,
    private readonly logger: Logger,
  ) {
    this.config = config;
    this.log = new RouteLog(config.logSize);
  }

  configure(config: RouterConfig): void {
    this.config = config;
    this.log.resize(config.logSize);
  }

  settings(): RouterConfig {
    return this.config;
  }

  /** Why a cloud route is impossible for this request, or undefined when one may be taken. */
  cloudBlocked(request: Pick<RouteRequest, "task" | "uri" | "cloudCapable" | "sources">): { rule: string; reason: string } | undefined {
    if (this.config.localOnly) return { rule: "local-only", reason: `local-only privacy mode is on (${this.config.localOnlyBy ?? "privacy.localOnly"}): nothing leaves this machine` };
    const sensitive = sensitiveFileReason(request.uri);
    if (sensitive) return { rule: "sensitive", reason: `${sensitive}; it is never sent to a cloud API` };
    if (request.cloudCapable === false) return { rule: "no-cloud", reason: "this request cannot be served by a cloud provider" };
    const provider = this.env.cloudProvider(request.task);
    if ("problem" in provider) return { rule: "no-cloud", reason: provider.problem };
    // Last: the ignore rules are the costliest check, and only matter when a cloud could be used.
    const excluded = request.uri ? this.env.excluded?.(request.uri) : undefined;
    if (excluded) return { rule: "sensitive", reason: `${excluded}; it is never sent to a cloud API` };
    // Every request passes here before any cloud call (fallbacks and retries included), so this is
    // where context from other files is checked: one refused source keeps the whole request local.
    for (const source of request.sources ?? []) {
      const refused = sensitiveFileReason(source) ?? this.env.contextExcluded?.(source);
      if (refused) return { rule: "sensitive", reason: `the request holds context from a file that must stay local (${refused}); it is never sent to a cloud API` };
    }
    return undefined;
  }

  /** The preference that applies to a task, and where it came from. */
  preferenceFor(task: TaskType, override?: BackendKind): { preference: Preference; source: string } {
    if (override) return { preference: override, source: "this request asks for" };
    const own = this.config.taskPreference[task];
    if (own) return { preference: own, source: `router.taskPreference.${task} is` };
    return { preference: this.config.preference, source: "router.preference is" };
  }

  decide(request: RouteRequest): RouteDecision {
    const { task } = request;
    const label = TASK_LABELS[task];
    const reasons: string[] = [];
    const blocked = this.cloudBlocked(request);
    const provider = blocked ? undefined : (this.env.cloudProvider(task) as { name: string }).name;
    const { preference, source } = this.preferenceFor(task, request.override);
    let backend: BackendKind;
    let rule: string;
    let refused: string | undefined;
    let explicitLocal = false;
    let exact = request.countContextTokens === undefined;
    let tokens = request.contextTokens;
    const exactCount = (): number => {
      if (!exact && request.countContextTokens) {
        tokens = request.countContextTokens();
        exact = true;
      }
      return tokens;
    };

    if (preference === "local") {
      backend = "local";
      rule = request.override ? "override" : "preference";
      explicitLocal = true;
      reasons.push(`${label}: ${source} local → local`);
    } else if (preference === "cloud") {
      rule = request.override ? "override" : "preference";
      if (blocked) {
        backend = "local";
        refused = `cloud refused: ${blocked.reason}`;
        rule = blocked.rule;
        reasons.push(`${label}: ${source} cloud`, `${refused} → local`);
      } else {
        backend = "cloud";
        reasons.push(`${label}: ${source} cloud → cloud (${provider})`);
      }
    } else {
      const match = matchRules(this.config.rules, task, tokens, exact, exactCount);
      if (match) {
        backend = match.rule.backend;
        rule = `rule:${match.rule.id}`;
        reasons.push(match.reason);
      } else {
        backend = "cloud";
        rule = "auto-default";
        const size = `${exact ? "" : "at most "}${formatCount(tokens)} tokens`;
        reasons.push(`${label}, ${size}: no rule applies, auto prefers the cloud${blocked ? "" : ` → cloud (${provider})`}`);
      }
      if (backend === "cloud" && blocked) {
        backend = "local";
        if (blocked.rule !== "no-cloud") refused = `cloud refused: ${blocked.reason}`;
        rule = blocked.rule;
        reasons.push(`${blocked.rule === "no-cloud" ? blocked.reason : (refused ?? blocked.reason)} → local`);
      }
      const cooldown = provider ? this.activeCooldown(provider) : undefined;
      if (backend === "cloud" && cooldown) {
        backend = "local";
        rule = "cooldown";
        reasons.push(`${cooldown} → local`);
      }
      if (backend === "local" && !blocked && !cooldown) {
        const local = this.env.localStatus();
        const slow = this.config.minLocalTokensPerSecond;
        if (local.state === "error") {
          backend = "cloud";
          rule = "local-unavailable";
          reasons.push(`local model unavailable (${local.message ?? "failed to load"}) → cloud (${provider})`);
        } else if (slow > 0 && local.lastTokensPerSecond !== undefined && local.lastTokensPerSecond < slow) {
          backend = "cloud";
          rule = "low-end";
          reasons.push(`local model measured ${local.lastTokensPerSecond} tokens/s < ${slow} (router.minLocalTokensPerSecond) → cloud (${provider})`);
        }
      }
    }

    let fallback: BackendKind | undefined;
    if (this.config.fallback) {
      if (backend === "cloud") fallback = "local";
      else if (!blocked && !explicitLocal) fallback = "cloud";
    }
    const decision: RouteDecision = {
      id: this.nextId++,
      time: new Date().toISOString(),
      task,
      contextTokens: tokens,
      exact,
      backend,
      rule,
      reasons,
      ...(provider ? { provider } : {}),
      ...(fallback ? { fallback } : {}),
      ...(refused ? { refused } : {}),
    };
    return decision;
  }

  /** Decides and records the decision in the log; finish the entry with `finish`. */
  route(request: RouteRequest): RouteLogEntry {
    const decision = this.decide(request);
    const entry = this.log.add(decision);
    if (this.logger.isLevelEnabled("debug")) {
      this.logger.debug({ route: decision.id, task: decision.task, backend: decision.backend, rule: decision.rule, reasons: decision.reasons }, "route decided");
    }
    if (decision.refused) this.logger.info({ route: decision.id, task: decision.task }, decision.refused);
    return entry;
  }

  finish(entry: RouteLogEntry, outcome: RouteOutcome): void {
    this.log.finish(entry, outcome);
    const fields = { route: entry.id, task: entry.task, servedBy: outcome.servedBy, status: outcome.status, ms: Math.round(outcome.ms), attempts: outcome.attempts };
    if (outcome.status === "fallback" || outcome.status === "error") this.logger.warn({ ...fields, error: outcome.error }, `route ${outcome.status}`);
    else this.logger.debug(fields, "route finished");
  }

  routeLog(last?: number): RouteLogSnapshot {
    return this.log.snapshot(last);
  }

  /** A cloud provider failed after its retries: auto routes avoid it for the cooldown. */
  noteCloudFailure(provider: string, reason: string, now = Date.now()): void {
    if (this.config.cooldownMs <= 0) return;
    this.cooldowns.set(provider, { until: now + this.config.cooldownMs, reason });
  }

  noteCloudSuccess(provider: string): void {
    this.cooldowns.delete(provider);
  }

  private activeCooldown(provider: string, now = Date.now()): string | undefined {
    const c = this.cooldowns.get(provider);
    if (!c) return undefined;
    if (c.until <= now) {
      this.cooldowns.delete(provider);
      return undefined;
    }
    return `cloud provider ${provider} failed recently (${c.reason}); auto stays local for ${formatCount(Math.ceil((c.until - now) / 1000))} s more (cloud.cooldownSeconds)`;
  }
}
