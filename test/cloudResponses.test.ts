import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CloudClient, type CloudOptions } from "../src/inference/cloud/CloudClient.js";
import type { ResolvedProvider } from "../src/inference/cloud/providers.js";
import { silentLogger } from "../src/util/logger.js";

/**
 * Replies that are not the event stream asked for (issue 10, defect 11): a real HTTP server on
 * 127.0.0.1 answers each path in one odd way, and the client must report what happened.
 */
type Reply = (res: http.ServerResponse) => void;
const replies: Record<string, Reply> = {
  // A server that ignores "stream": true and answers with one JSON completion.
  "/json/chat/completions": (res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ id: "x", object: "chat.completion", choices: [{ index: 0, message: { role: "assistant", content: "plain answer" }, finish_reason: "stop" }] }));
  },
  // 200 with a JSON error body (some proxies do this).
  "/jsonerror/chat/completions": (res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ error: { message: "model overloaded, try later" } }));
  },
  // An event stream that ends without a single event.
  "/empty/chat/completions": (res) => {
    res.writeHead(200, { "content-type": "text/event-stream" });
    res.end();
  },
  // Streams a little, then stalls without finishing (a dead connection).
  "/stall/chat/completions": (res) => {
    res.writeHead(200, { "content-type": "text/event-stream" });
    res.write(`data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: "partial " } }] })}\n\n`);
  },
};

let server: http.Server;
let base: string;
const stalled: http.ServerResponse[] = [];
beforeAll(async () => {
  server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      const path = req.url ?? "";
      if (path.startsWith("/stall")) stalled.push(res);
      (replies[path] ?? ((r: http.ServerResponse) => (r.writeHead(404), r.end())))(res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  for (const r of stalled) r.destroy();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const options: CloudOptions = { timeoutMs: 300, maxRetries: 1, retryBaseMs: 1, maxRetryDelayMs: 5 };
const client = (prefix: string): CloudClient => {
  const provider: ResolvedProvider = { name: "odd", title: "odd", baseUrl: `${base}/${prefix}`, model: "m", apiKeyEnv: "", completionApi: "chat", completionBaseUrl: `${base}/${prefix}`, completionModel: "m" };
  return new CloudClient(provider, options, silentLogger(), {});
};
const ask = (prefix: string) => client(prefix).chat([{ role: "user", content: "hi" }], { maxTokens: 8, temperature: 0 }, new AbortController().signal);

describe("cloud replies that are not a stream", () => {
  it("uses a plain JSON completion sent to a streaming request", async () => {
    const result = await ask("json");
    expect(result.text).toBe("plain answer");
    expect(result.stopReason).toBe("end-of-generation");
  });

  it("reports a JSON error body as a bad response with the server's message, not an empty answer", async () => {
    await expect(ask("jsonerror")).rejects.toMatchObject({ kind: "bad-response", message: expect.stringMatching(/model overloaded, try later/) });
  });

  it("reports an event stream without any event as a bad response", async () => {
    await expect(ask("empty")).rejects.toMatchObject({ kind: "bad-response", message: expect.stringMatching(/ended without sending any answer/) });
  });

  it("reports a stream that stalls mid-answer as a time-out after its attempts, not as an answer cut off by the time limit", async () => {
    const error = await ask("stall").catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: "timeout", attempts: 2 });
    expect((error as Error).message).toMatch(/stopped sending mid-answer/);
    expect((error as Error).message).not.toMatch(/cut off/);
  });
});
