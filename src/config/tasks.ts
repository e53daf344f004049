/**
 * The kinds of AI task the router chooses a backend for. Completion is wired today; chat and the
 * code actions reach the router through the same decision, so every task is listed here once.
 */
export const TASK_TYPES = ["completion", "simpleRefactor", "unitTests", "architecture", "deepRefactor", "chat", "explain", "fix", "docs", "nextEdit"] as const;

export type TaskType = (typeof TASK_TYPES)[number];

/** How a task is named in the reasons people read. */
export const TASK_LABELS: Readonly<Record<TaskType, string>> = {
  completion: "completion",
  simpleRefactor: "simple refactor",
  unitTests: "unit-test generation",
  architecture: "architecture design",
  deepRefactor: "deep refactor",
  chat: "chat",
  explain: "explain",
  fix: "fix",
  docs: "documentation",
  nextEdit: "next-edit suggestion",
};

export function isTaskType(value: unknown): value is TaskType {
  return typeof value === "string" && (TASK_TYPES as readonly string[]).includes(value);
}
