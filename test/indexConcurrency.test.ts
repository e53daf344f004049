import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as lancedb from "@lancedb/lancedb";
import { afterAll, describe, expect, it } from "vitest";
import { runRaceRound } from "../src/devtools/indexRace.js";
import { indexLocation } from "../src/index/store/location.js";
import { IndexStore } from "../src/index/store/IndexStore.js";
import { LOCK_FILE, processStartTime, WriterLease } from "../src/index/store/WriterLease.js";
import { silentLogger } from "../src/util/logger.js";
import { makeWorkspace, sampleFiles, startService } from "./helpers/indexWorkspace.js";
import { binPath, nodeBinary } from "./helpers/paths.js";

const cleanups: Array<() => void> = [];
afterAll(() => {
  for (const c of cleanups.splice(0)) c();
});

/** Enough seeded rounds that a race happening one time in ten shows up in most CI runs (1 - 0.9^16 = 81 %). */
const ROUNDS = 16;

describe("several processes writing one index folder", () => {
  it(`stays exact over ${ROUNDS} seeded rounds: servers and CLI runs together or staggered, files changing, one server SIGKILLed`, async () => {
    const failures: string[] = [];
    const started = performance.now();
    let rows = 0;
    let waited = 0;
    for (let seed = 1; seed <= ROUNDS; seed++) {
      const result = await runRaceRound({ seed, binPath, nodeBinary, files: 30, timeoutMs: 40_000 });
      rows += result.rows;
      waited += result.cliWaited;
      if (!result.ok) failures.push(JSON.stringify(result));
    }
    // Figures for the report: visible with --reporter=verbose.
    console.info(`${ROUNDS} rounds, ${rows} rows compared, ${waited} CLI runs waited for a writer, ${Math.round(performance.now() - started)} ms`);
    expect(failures).toEqual([]);
  }, 240_000);
});

describe("the writer lease", () => {
  const dir = (): string => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), "ifai-lease-"));
    cleanups.push(() => fs.rmSync(d, { recursive: true, force: true }));
    return d;
  };
  const lease = (d: string, label = "test"): WriterLease => new WriterLease(d, { logger: silentLogger(), label });
  const writeLock = (d: string, holder: Record<string, unknown>): void =>
    fs.writeFileSync(path.join(d, LOCK_FILE), JSON.stringify({ token: "other", startTime: "", bootId: "", hostname: os.hostname(), label: "x", acquiredAt: "", ...holder }));

  it("is exclusive while its holder lives, and free again once released", () => {
    const d = dir();
    const a = lease(d);
    const b = lease(d);
    expect(a.tryAcquire()).toBe(true);
    expect(b.tryAcquire()).toBe(false);
    expect(b.holder()).toMatchObject({ pid: process.pid, label: "test" });
    a.release();
    expect(fs.existsSync(path.join(d, LOCK_FILE))).toBe(false);
    expect(b.tryAcquire()).toBe(true);
    b.release();
  });

  it("is taken over from a SIGKILLed holder, from a reused pid, and from a stalled heartbeat", async () => {
    const d = dir();
    // A real process that held the lock and was killed.
    const child = spawn(nodeBinary, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
    await new Promise((resolve) => child.once("spawn", resolve));
    writeLock(d, { pid: child.pid, startTime: processStartTime(child.pid!) ?? "" });
    expect(lease(d).tryAcquire()).toBe(false);
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await exited;
    const taker = lease(d);
    expect(taker.tryAcquire()).toBe(true);
    taker.release();

    // This process's pid, but another start time: the pid was reused by a new process.
    writeLock(d, { pid: process.pid, startTime: "1" });
    const reuse = lease(d);
    expect(reuse.tryAcquire()).toBe(true);
    reuse.release();

    // A live holder on another host whose heartbeat stopped long ago.
    writeLock(d, { pid: process.pid, hostname: "elsewhere" });
    expect(lease(d).tryAcquire()).toBe(false);
    const old = new Date(Date.now() - 3_600_000);
    fs.utimesSync(path.join(d, LOCK_FILE), old, old);
    const stale = lease(d);
    expect(stale.tryAcquire()).toBe(true);
    // The stalled holder's writes are refused from now on: its token is no longer in the file.
    expect(() => stale.assertHeld()).not.toThrow();
    writeLock(d, { pid: process.pid, token: "someone-else" });
    expect(() => stale.assertHeld()).toThrow(/took over/);
    stale.release();
    expect(fs.existsSync(path.join(d, LOCK_FILE))).toBe(true);
  });
});

describe("ifai-lsp index beside a writer", () => {
  it("waits for the process writing the index, says so, then exits 0 with the table's counts", async () => {
    const ws = makeWorkspace(sampleFiles());
    cleanups.push(ws.cleanup);
    const location = indexLocation(ws.root, { env: { IFAI_CACHE_DIR: ws.cache } });
    // This test process holds the lease, as a server in the middle of a pass would.
    const holder = new WriterLease(location, { logger: silentLogger(), label: "ifai-lsp server" });
    expect(holder.tryAcquire()).toBe(true);
    const cli = spawn(nodeBinary, [binPath, "index", ws.root, "--json"], { env: { ...process.env, IFAI_CACHE_DIR: ws.cache, IFAI_LOG_LEVEL: "" } });
    let stderr = "";
    let stdout = "";
    cli.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
    const waiting = new Promise<void>((resolve) =>
      cli.stderr.setEncoding("utf8").on("data", (c: string) => {
        stderr += c;
        if (stderr.includes("waiting for it to finish")) resolve();
      }),
    );
    const exit = new Promise<number | null>((resolve) => cli.once("exit", resolve));
    await waiting;
    expect(stderr).toContain(`ifai-lsp server (pid ${process.pid}) is indexing ${ws.root}; waiting for it to finish`);
    holder.release();
    expect(await exit).toBe(0);
    const result = JSON.parse(stdout);
    expect(result).toMatchObject({ indexedFiles: 13, waitedFor: { pid: process.pid, label: "ifai-lsp server" } });
    const store = await IndexStore.open({ location, readOnly: true, logger: silentLogger() });
    expect(result.chunks).toBe(await store.countChunks());
    store.close();
  });
});

describe("self-repair", () => {
  it("finds duplicate rows, stale rows and miscounted files on open and re-reads only those files", async () => {
    const ws = makeWorkspace(sampleFiles());
    cleanups.push(ws.cleanup);
    const first = await startService(ws);
    const location = first.service.status().folders[0]!.location;
    const clean = await snapshot(location);
    await first.service.dispose();

    // Damage as uncoordinated writers left it: one file's rows twice, rows of a file that has no
    // record, and a record whose rows are gone.
    const db = await lancedb.connect(location);
    const chunks = await db.openTable("chunks_lexical");
    const twice = await chunks.query().where("path = 'src/sample.ts'").toArray();
    await chunks.add(twice.map((r) => ({ ...r })));
    const ghost = await chunks.query().where("path = 'src/sample.py'").limit(1).toArray();
    await chunks.add(ghost.map((r) => ({ ...r, path: "src/deleted-long-ago.py", id: `src/deleted-long-ago.py#0:0#${r.hash}` })));
    await chunks.delete("path = 'src/sample.go'");
    chunks.close();
    db.close();
    expect((await snapshot(location)).length).toBe(clean.length + twice.length + 1 - clean.filter((c) => c.path === "src/sample.go").length);

    const second = await startService(ws);
    const pass = second.service.folderIndexes()[0]!.lastPass;
    // Only the damaged files are read again (sample.ts and sample.go); the rest stays as it was.
    expect(pass.read).toBe(2);
    expect(await snapshot(location)).toEqual(clean);
    expect(second.service.status().folders[0]!.chunks).toBe(clean.length);
    expect((await second.service.search("parseConfig"))[0]!.path).toBe("src/sample.ts");
    await second.service.dispose();
  });
});

async function snapshot(location: string): Promise<Array<{ path: string; id: string; text: string }>> {
  const store = await IndexStore.open({ location, readOnly: true, logger: silentLogger() });
  try {
    return await store.snapshot();
  } finally {
    store.close();
  }
}

