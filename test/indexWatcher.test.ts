import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { IgnoreRules } from "../src/privacy/ignoreRules.js";
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

describe("live updates from the file watcher", () => {
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

  it.skipIf(process.platform !== "linux")("watches folders, not files: one inotify watch per folder, whatever the number of files", async () => {
    const files: Record<string, string> = {};
    for (let d = 0; d < 4; d++) for (let f = 0; f < 60; f++) files[`pkg${d}/src/file${f}.ts`] = `export const value${d}x${f} = ${f};\n`;
    files["pkg0/node_modules/dep/index.js"] = "1;\n";
    const ws = makeWorkspace(files);
    cleanups.push(ws.cleanup);
    const before = inotifyWatches();
    const watcher = new FolderWatcher(new IgnoreRules(ws.root, { maxFileBytes: 1_000_000 }), () => undefined, silentLogger());
    cleanups.push(() => watcher.close());
    await watcher.ready;
    // The root, pkg0..3 and their src folders: 9 folders for 240 files (node_modules is excluded).
    expect(inotifyWatches() - before).toBeLessThanOrEqual(9);
    expect(watcher.watchedFolders).toBe(9);
  });

  it("follows folders created, filled and renamed after it started, and stops at newly ignored ones", async () => {
    const ws = makeWorkspace({ "src/a.ts": "export const firstFile = 1;\n" });
    cleanups.push(ws.cleanup);
    const { service: s } = await startService(ws, { watch: true });
    cleanups.push(() => s.dispose());
    await s.watchersReady();
    const file = (rel: string): string => path.join(ws.root, rel);
    // A new folder tree, then a file written into it after it was created.
    fs.mkdirSync(file("lib/deep/er"), { recursive: true });
    fs.writeFileSync(file("lib/deep/er/one.ts"), "export const deepFileOne = 1;\n");
    await waitForIndex(s, async () => (await pathsWith(s, "deepFileOne")).length === 1);
    fs.writeFileSync(file("lib/deep/er/two.ts"), "export const deepFileTwo = 2;\n");
    await waitForIndex(s, async () => (await pathsWith(s, "deepFileTwo")).length === 1);
    // Renamed: edits at the new place are followed, nothing is left at the old one.
    fs.renameSync(file("lib/deep"), file("lib/moved"));
    await waitForIndex(s, async () => (await pathsWith(s, "deepFileOne")).join() === "lib/moved/er/one.ts");
    fs.writeFileSync(file("lib/moved/er/two.ts"), "export const editedAfterMove = 2;\n");
    await waitForIndex(s, async () => (await pathsWith(s, "editedAfterMove")).join() === "lib/moved/er/two.ts");
    expect(await pathsWith(s, "deepFileTwo")).toEqual([]);
    // A nested .gitignore excludes a folder: its files leave the index; re-included, they come back.
    fs.writeFileSync(file("lib/.gitignore"), "moved/\n");
    await waitForIndex(s, async () => (await pathsWith(s, "deepFileOne")).length === 0);
    fs.writeFileSync(file("lib/.gitignore"), "# nothing ignored\n");
    await waitForIndex(s, async () => (await pathsWith(s, "deepFileOne")).join() === "lib/moved/er/one.ts");
    fs.writeFileSync(file("lib/moved/er/three.ts"), "export const deepFileThree = 3;\n");
    await waitForIndex(s, async () => (await pathsWith(s, "deepFileThree")).length === 1);
  });
});

/** inotify watches this process holds (Linux): one "inotify wd:" line per watch in the fdinfo of its inotify descriptors. */
function inotifyWatches(): number {
  let watches = 0;
  for (const fd of fs.readdirSync("/proc/self/fdinfo")) {
    try {
      watches += fs.readFileSync(`/proc/self/fdinfo/${fd}`, "utf8").split("\n").filter((l) => l.startsWith("inotify wd:")).length;
    } catch {
      // Closed meanwhile.
    }
  }
  return watches;
}
