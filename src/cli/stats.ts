import { cacheDir } from "../config/paths.js";
import { acceptanceRate, feedbackPath, readFeedback, SUGGESTION_KINDS, totals, type Counts, type SuggestionKind } from "../features/feedback/feedbackFile.js";

export const STATS_HELP = `ifai-lsp stats — what became of the suggestions you were shown

Usage:
  ifai-lsp stats [--json]

Counts of ghost text (completion) and next edits shown, accepted, partially accepted and
dismissed, per language, with the acceptance rate and any quiet period in force (settings
feedback.*). They are kept in feedback.json in the cache folder (IFAI_CACHE_DIR), by every
editor window's server, and never sent anywhere. --json prints the file's content with totals.
`;

const KIND_NAMES: Record<SuggestionKind, string> = { completion: "ghost text (completion)", nextEdit: "next edits" };

function rate(c: Counts): string {
  const r = acceptanceRate(c);
  return r === undefined ? "–" : `${Math.round(r * 100)}%`;
}

/** `ifai-lsp stats`: the local acceptance counts, as a table or JSON. */
export function runStats(args: string[], env: NodeJS.ProcessEnv = process.env, out: (s: string) => void = (s) => void process.stdout.write(s), now = Date.now()): number {
  const unknown = args.filter((a) => a !== "--json");
  if (unknown.length > 0) {
    process.stderr.write(`ifai-lsp stats: unknown argument ${unknown[0]}\n\n${STATS_HELP}`);
    return 2;
  }
  const file = feedbackPath(cacheDir(env));
  const data = readFeedback(file);
  if (args.includes("--json")) {
    out(`${JSON.stringify({ file, ...data, totals: { completion: totals(data, "completion"), nextEdit: totals(data, "nextEdit") } }, null, 2)}\n`);
    return 0;
  }
  const lines = [`Suggestions (${file}; stored on this machine only)`];
  for (const kind of SUGGESTION_KINDS) {
    const all = totals(data, kind);
    lines.push("", `${KIND_NAMES[kind]}: ${all.shown} shown, ${all.accepted} accepted, ${all.partial} partially, ${all.dismissed} dismissed, acceptance ${rate(all)}`);
    const languages = Object.entries(data.kinds[kind]).sort((a, b) => b[1].shown - a[1].shown);
    for (const [languageId, r] of languages) {
      const quiet = r.quietUntil !== undefined && r.quietUntil > now ? `, quiet until ${new Date(r.quietUntil).toLocaleTimeString()}` : "";
      const skipped = r.quietSkips > 0 ? `, ${r.quietSkips} requests skipped while quiet` : "";
      lines.push(`  ${languageId.padEnd(16)} ${String(r.shown).padStart(6)} shown ${String(r.accepted).padStart(6)} accepted ${String(r.partial).padStart(5)} partially ${String(r.dismissed).padStart(6)} dismissed  ${rate(r).padStart(4)}${quiet}${skipped}`);
    }
  }
  out(`${lines.join("\n")}\n`);
  return 0;
}
