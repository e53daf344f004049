import { TASK_LABELS, type TaskType } from "../../config/tasks.js";
import type { Rule } from "./types.js";

export interface RuleThresholds {
  completionLocalMaxTokens: number;
  simpleRefactorLocalMaxTokens: number;
  unitTestsLocalMaxTokens: number;
  cloudAboveTokens: number;
  cloudTasks: readonly TaskType[];
}

/**
 * The default rule table, in the order it is tried: small completions, simple refactors and test
 * generation stay local; architecture design and deep refactors go to the cloud; anything with a
 * large context goes to the cloud. A task-specific rule comes before the generic size rule, so a
 * user who raises a local threshold above the cloud one gets what they asked for.
 */
export function defaultRules(t: RuleThresholds): Rule[] {
  return [
    { id: "completion-local", tasks: ["completion"], below: t.completionLocalMaxTokens, backend: "local" },
    { id: "simple-refactor-local", tasks: ["simpleRefactor"], below: t.simpleRefactorLocalMaxTokens, backend: "local" },
    { id: "unit-tests-local", tasks: ["unitTests"], below: t.unitTestsLocalMaxTokens, backend: "local" },
    { id: "cloud-tasks", tasks: t.cloudTasks, backend: "cloud" },
    { id: "large-context", above: t.cloudAboveTokens, backend: "cloud" },
  ];
}

export interface RuleMatch {
  rule: Rule;
  reason: string;
}

/**
 * The first rule that matches, with its reason in words. `tokens` is exact or an upper bound;
 * `exact()` is asked for the true count only when the bound cannot settle a size condition.
 */
export function matchRules(rules: readonly Rule[], task: TaskType, bound: number, isExact: boolean, exact: () => number): RuleMatch | undefined {
  let tokens = bound;
  let known = isExact;
  const settle = (): void => {
    if (!known) {
      tokens = exact();
      known = true;
    }
  };
  for (const rule of rules) {
    if (rule.tasks && !rule.tasks.includes(task)) continue;
    if (rule.below !== undefined) {
      if (!(tokens < rule.below)) {
        if (known) continue;
        settle();
        if (!(tokens < rule.below)) continue;
      }
    }
    if (rule.above !== undefined) {
      if (!(tokens > rule.above)) continue;
      if (!known) {
        settle();
        if (!(tokens > rule.above)) continue;
      }
    }
    return { rule, reason: describeRule(rule, task, tokens, known) };
  }
  return undefined;
}

export function describeRule(rule: Rule, task: TaskType, tokens: number, exact: boolean): string {
  const label = TASK_LABELS[task];
  const amount = `${exact ? "" : "at most "}${formatCount(tokens)} tokens`;
  if (rule.below !== undefined) return `${label}, ${amount} < ${formatCount(rule.below)} → ${rule.backend}`;
  if (rule.above !== undefined) return `${label}, ${amount} > ${formatCount(rule.above)} → ${rule.backend}`;
  return `${label} → ${rule.backend}`;
}

/** 1210 → "1,210", without Intl (this runs on every keystroke). */
export function formatCount(n: number): string {
  const s = String(Math.round(n));
  return s.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

