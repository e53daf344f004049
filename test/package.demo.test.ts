/**
 * `npm run demo` is what a new user sees first: on the generated model (no model installed) it
 * must show answers from the model, from typing-through and from the cache, a code action's
 * outcome, a streamed chat answer with its route, and totals that add up.
 */
import { spawnSync } from "node:child_process";
import { afterAll, describe, expect, it } from "vitest";
import { tempDir } from "./helpers/models.js";
import { binPath, nodeBinary, projectRoot } from "./helpers/paths.js";

const cache = tempDir("ifai-demo-");
afterAll(() => cache.cleanup());

describe("ifai-lsp demo", () => {
  it("shows completions by source, a code action, a streamed chat answer with its route, and honest totals", () => {
    // An empty cache folder: no model installed, so the demo says how to get one and uses a generated model.
    const run = spawnSync(nodeBinary, [binPath, "demo"], {
      cwd: projectRoot,
      encoding: "utf8",
      env: { ...process.env, IFAI_CACHE_DIR: cache.path, IFAI_MODEL: "", NO_COLOR: "1" },
      timeout: 120_000,
    });
    expect(run.status, run.stderr).toBe(0);
    const out = run.stdout;
    // The hint runs as printed from this clone (bin/ifai-lsp.js hands over to the clone's own Node).
    expect(out).toContain("node bin/ifai-lsp.js models pull qwen2.5-coder-0.5b");

    const lines = out.split("\n");
    const sources = lines.map((l) => /→ .* \[(model|cache|typed-through),/.exec(l)?.[1]).filter((s): s is string => s !== undefined);
    expect(sources).toContain("model");
    expect(sources).toContain("typed-through");
    expect(sources).toContain("cache");

    expect(out).toMatch(/^3\. An AI code action/m);
    expect(out).toMatch(/AI: Add documentation comment: (applied|refused)/);
    expect(out).toMatch(/^4\. A chat question, streamed/m);
    expect(out).toMatch(/route: local \(rule [\w-]+\)/);

    // The totals count exactly the answers listed above, per source.
    const count = (source: string): number => sources.filter((s) => s === source).length;
    const totals = /(\d+) completions asked: (.*)$/m.exec(out);
    expect(totals).not.toBeNull();
    expect(Number(totals![1])).toBe(sources.length);
    for (const source of ["model", "typed-through", "cache"]) expect(totals![2]).toContain(`${count(source)} from ${source} `);
    expect(out).toMatch(/server shut down \(exit code 0\)/);
  });
});
