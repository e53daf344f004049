import type { IndexService } from "../../index/IndexService.js";

/**
 * Resolves when a full-text search finds `token` in a hit's text (benchmarks of saved →
 * searchable). It checks again on every index change rather than polling, and gives up after
 * `timeoutMs` naming the file.
 */
export function untilSearchable(service: IndexService, token: string, rel: string, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let done = false;
    const finish = (error?: Error): void => {
      if (done) return;
      done = true;
      clearTimeout(timeout);
      off();
      if (error) reject(error);
      else resolve();
    };
    const timeout = setTimeout(() => finish(new Error(`not searchable after ${Math.round(timeoutMs / 1000)} s: ${rel}`)), timeoutMs);
    const check = async (): Promise<void> => {
      const hits = await service.search(token, { k: 3, fusion: { vector: 0 } });
      if (hits.some((h) => h.text.includes(token))) finish();
    };
    const off = service.onChange(() => void check());
    void check();
  });
}
