/** Percentile by nearest rank; NaN for an empty list. */
export function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

export interface Summary {
  n: number;
  p50: number;
  p95: number;
}

export function summarize(values: readonly number[], digits = 1): Summary {
  const round = (x: number): number => (Number.isFinite(x) ? Number(x.toFixed(digits)) : x);
  return { n: values.length, p50: round(percentile(values, 0.5)), p95: round(percentile(values, 0.95)) };
}

export function formatSummary(label: string, s: Summary, unit: string): string {
  return `${label.padEnd(44)} n=${String(s.n).padStart(3)}  p50 ${String(s.p50).padStart(8)} ${unit}  p95 ${String(s.p95).padStart(8)} ${unit}`;
}
