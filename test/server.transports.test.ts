import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { spawn } from "node:child_process";
import { afterAll, describe, expect, it } from "vitest";
import { createMessageConnection, SocketMessageReader, SocketMessageWriter } from "vscode-jsonrpc/node";
import { ITEMS_CLIENT, startStdioServer, TestClient, waitForExit } from "./helpers/lspClient.js";
import { tempDir } from "./helpers/models.js";
import { binPath, nodeBinary } from "./helpers/paths.js";

const dir = tempDir();
afterAll(() => dir.cleanup());

describe("transports and process behaviour", () => {
  it("speaks LSP over --socket=PORT (the editor listens, the server connects)", async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as net.AddressInfo).port;
    const accepted = new Promise<net.Socket>((resolve) => server.once("connection", resolve));
    const proc = spawn(nodeBinary, [binPath, `--socket=${port}`], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    proc.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
    const socket = await accepted;
    const client = new TestClient(createMessageConnection(new SocketMessageReader(socket), new SocketMessageWriter(socket)), proc);
    const result = await client.initialize(ITEMS_CLIENT);
    expect(result.serverInfo?.name).toBe("ifai-lsp");
    expect(await client.shutdownAndExit()).toBe(0);
    // In socket mode stdout is free, yet the server still writes nothing there.
    expect(stdout).toBe("");
    server.close();
  });

  it("answers a malformed request with a JSON-RPC error and goes on", async () => {
    const client = startStdioServer({ IFAI_CACHE_DIR: dir.path });
    try {
      await client.initialize({ textDocument: { inlineCompletion: {} } });
      await client.open("file:///m.ts", "typescript", "let a = 1;\n");
      const error = await client.connection
        .sendRequest("textDocument/inlineCompletion", { textDocument: { uri: "file:///m.ts" }, position: null, context: {} })
        .then(
          () => undefined,
          (e: { code?: number; message?: string }) => e,
        );
      // The message gate checks params shapes before any handler runs.
      expect(error?.code).toBe(-32602);
      expect(error?.message).toMatch(/Invalid params for textDocument\/inlineCompletion: params.position must be an object/);
      expect(client.stderr.text).toMatch(/protocol: Invalid params/);
      // The next request is served normally.
      expect(await client.inline("file:///m.ts", { line: 0, character: 3 })).toEqual({ items: [] });
      expect(await client.shutdownAndExit()).toBe(0);
    } finally {
      client.kill();
    }
  });

  it("writes logs to log.file when configured, and nothing to stdout or stderr then", async () => {
    const logFile = path.join(dir.path, "logs", "ifai.log");
    const client = startStdioServer({ IFAI_CACHE_DIR: dir.path, IFAI_LOG_LEVEL: "" });
    try {
      await client.initialize(ITEMS_CLIENT, { log: { file: logFile, level: "debug" } });
      expect(await client.shutdownAndExit()).toBe(0);
      const lines = fs.readFileSync(logFile, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { msg: string });
      expect(lines.map((l) => l.msg)).toContain("shutdown");
      expect(client.stderr.text).not.toMatch(/"msg":"shutdown"/);
    } finally {
      client.kill();
    }
  });

  it("the exit notification ends the process even while a request is in flight", async () => {
    const client = startStdioServer({ IFAI_CACHE_DIR: dir.path });
    await client.initialize(ITEMS_CLIENT);
    const exited = waitForExit(client.process!);
    void client.connection.sendRequest("textDocument/completion", { textDocument: { uri: "file:///none" }, position: { line: 0, character: 0 } }).catch(() => undefined);
    await client.connection.sendNotification("exit");
    expect(await exited).toBe(1);
    client.kill();
  });
});
