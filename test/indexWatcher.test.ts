import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { IgnoreRules } from "../src/index/ignoreRules.js";
import type { IndexService } from "../src/index/IndexService.js";
import { FolderWatcher } from "../src/index/watcher.js";
import { silentLogger } from "../src/util/logger.js";
import { makeWorkspace, startService, waitForIndex } from "./helpers/indexWorkspace.js";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Paths whose indexed text contains `word`. */
async function pathsWith(s: IndexService, word: string): Promise<string[]> {
  return (await s.search(word, { k: 50 })).filter((h) => h.text.includes(word)).map((h) => h.path).sort();
}

describe("live updates from the file watcher (chokidar)", () => {
  it("follows edits, new files, renames and deletes of real files", async () => {
    const ws = makeWorkspace({
      "src/alpha.ts": "export function alphaOriginal() { return 1; }\n",
      "src/beta.ts": "export function betaFunction() { return 2; }\n",
      "src/lib/gamma.ts": "export function gammaFunction() { return 3; }\n",
      "src/lib/delta.ts": "export function deltaFunction() { return 4; }\n",
    });
    cleanups.push(ws.cleanup);
    const { service: s } = await startService(ws, { watch: true });
    cleanups.push(() => s.dispose());
    await s.watchersReady();
    const file = (rel: string): string => path.join(ws.root, rel);

    // Edit: the new text is found, the old is gone.
    fs.writeFileSync(file("src/alpha.ts"), "export function alphaEdited() { return 10; }\n");
    await waitForIndex(s, async () => (await pathsWith(s, "alphaEdited")).length === 1);
    expect(await pathsWith(s, "alphaOriginal")).toEqual([]);

    // New file.
    fs.writeFileSync(file("src/epsilon.ts"), "export function epsilonCreated() { return 5; }\n");
    await waitForIndex(s, async () => (await pathsWith(s, "epsilonCreated")).length === 1);

    // Rename: rows move to the new path.
    fs.renameSync(file("src/beta.ts"), file("src/beta-renamed.ts"));
    await waitForIndex(s, async () => (await pathsWith(s, "betaFunction")).join() === "src/beta-renamed.ts");

    // Delete.
    fs.rmSync(file("src/epsilon.ts"));
    await waitForIndex(s, async () => (await pathsWith(s, "epsilonCreated")).length === 0);

    // Rename a folder: everything below it moves.
    fs.renameSync(file("src/lib"), file("src/core"));
    await waitForIndex(s, async () => (await pathsWith(s, "gammaFunction")).join() === "src/core/gamma.ts" && (await pathsWith(s, "deltaFunction")).join() === "src/core/delta.ts");

    // Delete a folder.
    fs.rmSync(file("src/core"), { recursive: true });
    await waitForIndex(s, async () => (await pathsWith(s, "gammaFunction")).length === 0 && (await pathsWith(s, "deltaFunction")).length === 0);
    await s.whenIdle();
    expect(s.status().folders[0]).toMatchObject({ indexedFiles: 2, state: "ready" });
  });

  it("re-scans when an ignore file changes, and never indexes what it excludes", async () => {
    const ws = makeWorkspace({ "keep.ts": "export const keepMeAround = 1;\n", "drafts/idea.ts": "export const draftIdeaText = 1;\n" });
    cleanups.push(ws.cleanup);
    const { service: s } = await startService(ws, { watch: true });
    cleanups.push(() => s.dispose());
    await s.watchersReady();
    expect(await pathsWith(s, "draftIdeaText")).toEqual(["drafts/idea.ts"]);
    fs.writeFileSync(path.join(ws.root, ".ifaiignore"), "drafts/\n");
    await waitForIndex(s, async () => (await pathsWith(s, "draftIdeaText")).length === 0);
    // A secret written while watching is not indexed; a normal file written after it is.
    fs.writeFileSync(path.join(ws.root, ".env"), "TOKEN=watchedSecretValue\n");
    fs.writeFileSync(path.join(ws.root, "later.ts"), "export const writtenAfterSecret = 1;\n");
    await waitForIndex(s, async () => (await pathsWith(s, "writtenAfterSecret")).length === 1);
    expect(await pathsWith(s, "watchedSecretValue")).toEqual([]);
  });

  it("does not watch excluded folders at all", async () => {
    const ws = makeWorkspace({ "src/a.ts": "1;\n", "node_modules/pkg/index.js": "1;\n", "dist/out.js": "1;\n" });
    cleanups.push(ws.cleanup);
    const events: string[] = [];
    const watcher = new FolderWatcher(new IgnoreRules(ws.root, { maxFileBytes: 1_000_000 }), (rels) => events.push(...rels), silentLogger());
    cleanups.push(() => watcher.close());
    await watcher.ready;
    fs.writeFileSync(path.join(ws.root, "node_modules/pkg/index.js"), "2;\n");
    fs.writeFileSync(path.join(ws.root, "dist/out.js"), "2;\n");
    fs.writeFileSync(path.join(ws.root, "src/a.ts"), "2;\n");
    await new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (events.includes("src/a.ts")) {
          clearInterval(check);
          resolve();
        }
      }, 5);
    });
    expect(events.filter((e) => e.startsWith("node_modules") || e.startsWith("dist"))).toEqual([]);
  });
});
