import type { ActionKind, Diagnostic } from "./types.js";

/** One action as the list shows it, before anything is generated. */
export interface ActionOffer {
  kind: ActionKind;
  title: string;
  /** LSP CodeActionKind. */
  codeActionKind: string;
  /** For fix: which of the request's diagnostics. */
  diagnostic?: Diagnostic;
}

export const CODE_ACTION_KINDS: Readonly<Record<ActionKind, string>> = {
  rewrite: "refactor.rewrite",
  docs: "refactor.rewrite.documentation",
  extract: "refactor.extract.function",
  tests: "source.generateTests",
  fix: "quickfix",
  explain: "refactor.explain",
};

const TITLES: Readonly<Record<Exclude<ActionKind, "fix">, string>> = {
  rewrite: "AI: Simplify / improve",
  docs: "AI: Add documentation comment",
  extract: "AI: Extract function",
  tests: "AI: Generate unit tests",
  explain: "AI: Explain",
};

/** Whether a requested kind filter (LSP `only`) lets an action kind through: equal or a parent. */
function allowed(kind: string, only: readonly string[] | undefined): boolean {
  if (!only || only.length === 0) return true;
  return only.some((o) => o === "" || kind === o || kind.startsWith(`${o}.`));
}

/**
 * The actions offered for a selection or cursor, with no model call (the list must be instant):
 * a fix per diagnostic in the request's context first, then the rest. Extract needs a selection.
 */
export function listActions(params: { hasSelection: boolean; diagnostics: readonly Diagnostic[]; only?: readonly string[] }): ActionOffer[] {
  const offers: ActionOffer[] = [];
  for (const d of params.diagnostics.slice(0, 10)) {
    const message = d.message.split("\n")[0]!.trim();
    const short = message.length > 80 ? `${message.slice(0, 77)}…` : message;
    offers.push({ kind: "fix", title: `AI: Fix: ${short}`, codeActionKind: CODE_ACTION_KINDS.fix, diagnostic: d });
  }
  const kinds: Array<Exclude<ActionKind, "fix">> = ["rewrite", "docs", ...(params.hasSelection ? (["extract"] as const) : []), "tests", "explain"];
  for (const kind of kinds) offers.push({ kind, title: TITLES[kind], codeActionKind: CODE_ACTION_KINDS[kind] });
  return offers.filter((o) => allowed(o.codeActionKind, params.only));
}
