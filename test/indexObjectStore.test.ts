import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import S3rver from "s3rver";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IndexStore } from "../src/index/store/IndexStore.js";
import { silentLogger } from "../src/util/logger.js";
import { makeWorkspace, sampleFiles, startService } from "./helpers/indexWorkspace.js";
import { startStdioServer, type TestClient } from "./helpers/lspClient.js";
import { binPath, nodeBinary } from "./helpers/paths.js";

/*
 * A shared index on object storage (index.uri s3://…), the way a team uses one: CI is the one
 * writer (`ifai-lsp index --uri s3://…`), editors read it with index.readOnly. s3rver is a real
 * S3-compatible server on 127.0.0.1; LanceDB reaches it through the standard AWS_* variables.
 */

const ws = makeWorkspace(sampleFiles());
const bucketDir = path.join(ws.cache, "s3");
let server: S3rver;
let awsEnv: Record<string, string>;
const saved: Record<string, string | undefined> = {};
const clients: TestClient[] = [];
const URI = "s3://team/ifai-index";

beforeAll(async () => {
  fs.mkdirSync(bucketDir, { recursive: true });
  server = new S3rver({ address: "127.0.0.1", port: 0, silent: true, directory: bucketDir, configureBuckets: [{ name: "team" }] });
  const { port } = await server.run();
  awsEnv = { AWS_ENDPOINT: `http://127.0.0.1:${port}`, AWS_ALLOW_HTTP: "true", AWS_ACCESS_KEY_ID: "S3RVER", AWS_SECRET_ACCESS_KEY: "S3RVER", AWS_REGION: "us-east-1" };
  // The test process reads the bucket too (to compare rows).
  for (const [k, v] of Object.entries(awsEnv)) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
});

afterAll(async () => {
  for (const c of clients) c.kill();
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  await server?.close();
  ws.cleanup();
});

/** `ifai-lsp index --uri s3://…`, run asynchronously: s3rver answers from this process's event loop. */
function cli(): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const proc = spawn(nodeBinary, [binPath, "index", ws.root, "--uri", URI, "--json"], { env: { ...process.env, ...awsEnv, IFAI_CACHE_DIR: ws.cache, IFAI_LOG_LEVEL: "" } });
  let stdout = "";
  let stderr = "";
  proc.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
  proc.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
  return new Promise((resolve) => proc.once("close", (status) => resolve({ status, stdout, stderr })));
}

async function snapshot(location: string): Promise<Array<{ path: string; id: string; text: string }>> {
  const store = await IndexStore.open({ location, readOnly: true, logger: silentLogger() });
  try {
    return await store.snapshot();
  } finally {
    store.close();
  }
}

/** The tree indexed alone on local disk, for comparison. */
async function reference(): Promise<Array<{ path: string; id: string; text: string }>> {
  const cache = fs.mkdtempSync(path.join(ws.cache, "reference-"));
  const { service } = await startService({ uri: ws.uri, cache });
  const location = service.status().folders[0]!.location;
  await service.dispose();
  return snapshot(location);
}

const bucketListing = (): string[] => fs.readdirSync(bucketDir, { recursive: true }).map(String).sort();

describe("a shared index on object storage (s3://)", () => {
  it("is written by one writer run after run without losing or duplicating rows, and read by read-only servers that never write", async () => {
    const first = await cli();
    expect(first.status, first.stderr).toBe(0);
    const built = JSON.parse(first.stdout);
    expect(built).toMatchObject({ location: URI, indexedFiles: 13 });
    expect(await snapshot(URI)).toEqual(await reference());

    // An editor reads the shared index.
    const before = bucketListing();
    const reader = startStdioServer({ ...awsEnv, IFAI_CACHE_DIR: path.join(ws.cache, "reader"), IFAI_LOG_LEVEL: "warn" });
    clients.push(reader);
    await reader.initialize({ workspace: { configuration: true } }, { index: { uri: URI, readOnly: true } }, ws.uri);
    const status = async (): Promise<{ state: string; folders: Array<{ chunks: number; indexedFiles: number; readOnly: boolean }> }> =>
      (await reader.connection.sendRequest("ifai/indexStatus")) as never;
    let seen = await status();
    while (seen.state !== "ready" || seen.folders.length === 0) seen = await status();
    expect(seen.folders[0]).toMatchObject({ readOnly: true, indexedFiles: 13, chunks: built.chunks });
    // Reading wrote nothing to the bucket.
    expect(bucketListing()).toEqual(before);

    // CI runs again after changes: an edited file, a deleted one, a new one.
    fs.appendFileSync(path.join(ws.root, "src/sample.ts"), "\nexport function addedInCi(): number {\n  return 42;\n}\n");
    fs.rmSync(path.join(ws.root, "src/sample.rb"));
    ws.write("src/extra.py", "def shared_index_helper():\n    return 'from ci'\n");
    const second = await cli();
    expect(second.status, second.stderr).toBe(0);
    expect(JSON.parse(second.stdout)).toMatchObject({ indexedFiles: 13, pass: { changed: 2, removed: 1 } });
    const expected = await reference();
    expect(await snapshot(URI)).toEqual(expected);
    // A run with nothing changed writes no rows and keeps the table as it is.
    expect(JSON.parse((await cli()).stdout)).toMatchObject({ pass: { changed: 0, removed: 0 }, chunks: expected.length });
    expect(await snapshot(URI)).toEqual(expected);

    // The reader sees CI's new version at once: its counts come from the table's newest version.
    expect((await status()).folders[0]).toMatchObject({ indexedFiles: 13, chunks: expected.length });
    expect(await reader.shutdownAndExit()).toBe(0);
  }, 120_000);
});
