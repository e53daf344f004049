import { spawn } from "node:child_process";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { nodeBinary, projectRoot } from "./helpers/paths.js";

/**
 * The watchdog is tested in a child process whose event loop is really blocked: the child spins
 * synchronously until the watchdog's worker has reported (a counter in shared memory), so the test
 * waits for the event itself, not for a time.
 */
const child = `
import { Watchdog } from ${JSON.stringify(pathToFileURL(path.join(projectRoot, "dist/server/watchdog/Watchdog.js")).href)};
const dog = new Watchdog({ thresholdMs: 300, intervalMs: 20, log: { level: "info", file: "" } });
dog.setActivity("last message textDocument/completion (id 7); in flight: textDocument/completion (id 7)");
// The watchdog never keeps a process alive by itself; this child stays up until the recovery.
const keepAlive = setInterval(() => undefined, 1000);
dog.onRecovered((ms) => { process.stdout.write("recovered " + ms + "\\n"); clearInterval(keepAlive); void dog.stop(); });
void dog.ready().then(() => {
  const giveUp = Date.now() + 60_000;
  // A handler that never yields: only the worker thread can notice.
  while (dog.reports() === 0 && Date.now() < giveUp);
  process.stdout.write("reports " + dog.reports() + "\\n");
});
`;

describe("event-loop watchdog", () => {
  it("logs a blocked loop with the request in progress, and its recovery", async () => {
    const proc = spawn(nodeBinary, ["--input-type=module", "-e", child], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, IFAI_LOG_LEVEL: "info" } });
    let out = "";
    let err = "";
    proc.stdout.on("data", (d: Buffer) => (out += d.toString()));
    proc.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => proc.once("exit", resolve));
    expect(code).toBe(0);
    expect(out).toMatch(/reports 1/);
    expect(out).toMatch(/recovered \d+/);
    const lines = err.trim().split("\n").map((l) => JSON.parse(l) as { msg: string; activity?: string; component?: string; blockedMs?: number });
    const blocked = lines.find((l) => /event loop blocked/.test(l.msg));
    expect(blocked?.component).toBe("watchdog");
    expect(blocked?.activity).toMatch(/textDocument\/completion \(id 7\)/);
    expect(blocked!.blockedMs).toBeGreaterThanOrEqual(300);
    expect(lines.some((l) => /event loop responsive again/.test(l.msg))).toBe(true);
  });

  it("stays quiet while the loop turns", async () => {
    const quiet = `
import { Watchdog } from ${JSON.stringify(pathToFileURL(path.join(projectRoot, "dist/server/watchdog/Watchdog.js")).href)};
const dog = new Watchdog({ thresholdMs: 30000, intervalMs: 20, log: { level: "info", file: "" } });
let n = 0;
const tick = () => { if (++n < 20) setImmediate(tick); else void dog.stop().then(() => process.stdout.write("reports " + dog.reports() + "\\n")); };
tick();
`;
    const proc = spawn(nodeBinary, ["--input-type=module", "-e", quiet], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    proc.stdout.on("data", (d: Buffer) => (out += d.toString()));
    proc.stderr.on("data", (d: Buffer) => (err += d.toString()));
    expect(await new Promise((resolve) => proc.once("exit", resolve))).toBe(0);
    expect(out).toMatch(/reports 0/);
    expect(err).not.toMatch(/blocked/);
  });
});
