/**
 * npm run bench:chat — chat streaming and completion latency while a chat streams, over the real
 * server on stdio, on a model of the Qwen2.5-Coder-0.5B shape (random weights; the real
 * vocabulary when ../shared/models has it). Completion latency is measured idle and during a
 * streaming chat in the same run (the chat runs on its own context, so completions should not
 * wait for it). Prints p50/p95 and ends with one JSON line of the figures.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { createMessageConnection, StreamMessageReader, StreamMessageWriter } from "vscode-jsonrpc/node";
import type { ChatResponse, CompletionMetricsResult } from "../server/protocol.js";
import { formatSummary, summarize } from "./bench/stats.js";
import { ensureGeneratedModel, QWEN25_CODER_05B_SHAPE } from "./gguf/qwen2Model.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const quick = process.argv.includes("--quick");
const threadsArg = process.argv.indexOf("--threads");
const threads = threadsArg > 0 ? Number(process.argv[threadsArg + 1]) : 0;
const log = (s = ""): void => void process.stdout.write(`${s}\n`);
const SOURCE = path.join(root, "node_modules/vscode-jsonrpc/lib/common/linkedMap.js");
const COMPLETIONS = quick ? 5 : 12;

async function main(): Promise<void> {
  const vocabPath = path.resolve(root, "../shared/models/ggml-vocab-qwen2.5.gguf");
  const vocab = fs.existsSync(vocabPath) ? { vocabGgufPath: vocabPath } : ("byte" as const);
  log(`ifai-lsp chat benchmark — ${os.cpus().length} cores, node ${process.version}`);
  const modelPath = await ensureGeneratedModel(path.join(root, ".cache", "bench-models"), { shape: QWEN25_CODER_05B_SHAPE, quant: "Q8_0", vocab, seed: 1 });
  log(`model: ${path.basename(modelPath)}`);

  const server = spawn(process.execPath, [path.join(root, "bin", "ifai-lsp.js"), "--stdio"], {
    stdio: ["pipe", "pipe", "inherit"],
    env: { ...process.env, IFAI_LOG_LEVEL: process.env.IFAI_LOG_LEVEL ?? "warn" },
  });
  const connection = createMessageConnection(new StreamMessageReader(server.stdout), new StreamMessageWriter(server.stdin));
  const deltaWaiters: Array<{ chatId: string; resolve: () => void }> = [];
  connection.onNotification("ifai/chatDelta", (p: { chatId: string }) => {
    for (const w of deltaWaiters.splice(0)) (w.chatId === p.chatId ? w.resolve() : deltaWaiters.push(w));
  });
  connection.listen();
  await connection.sendRequest("initialize", {
    processId: process.pid,
    rootUri: null,
    capabilities: { textDocument: { inlineCompletion: {} } },
    initializationOptions: { engine: { mode: "in-process" }, model: { path: modelPath, keepLoaded: true, threads }, index: { enabled: false }, completion: { debounceMs: 0, maxTokens: 8, maxMultilineTokens: 8 }, chat: { temperature: 0, contextSize: 2048 } },
  });
  await connection.sendNotification("initialized", {});
  const text = fs.readFileSync(SOURCE, "utf8");
  const uri = pathToFileURL(SOURCE).href;
  const lines = text.split("\n");
  const line = 80;
  let col = lines[line]!.length;
  let version = 1;
  await connection.sendNotification("textDocument/didOpen", { textDocument: { uri, languageId: "javascript", version, text } });

  const complete = async (): Promise<{ clientMs: number; totalMs: number; firstTokenMs: number; reused: number; evaluated: number }> => {
    version++;
    await connection.sendNotification("textDocument/didChange", {
      textDocument: { uri, version },
      contentChanges: [{ range: { start: { line, character: col }, end: { line, character: col } }, text: "x" }],
    });
    col++;
    const t0 = performance.now();
    await connection.sendRequest("textDocument/inlineCompletion", { textDocument: { uri }, position: { line, character: col }, context: { triggerKind: 2 } });
    const clientMs = performance.now() - t0;
    const r = ((await connection.sendRequest("ifai/completionMetrics", { last: 1 })) as CompletionMetricsResult).records[0]!;
    return { clientMs, totalMs: r.totalMs, firstTokenMs: r.firstTokenMs ?? Number.NaN, reused: r.reusedTokens, evaluated: r.evaluatedTokens };
  };
  const chat = (chatId: string, maxTokens: number, question: string): Promise<ChatResponse> =>
    connection.sendRequest("ifai/chat", { chatId, backend: "local", maxTokens, messages: [{ role: "user", content: question }] }) as Promise<ChatResponse>;
  const firstDelta = (chatId: string): Promise<void> => new Promise((resolve) => deltaWaiters.push({ chatId, resolve }));

  // Warm-up: load the model and fill the completion cache.
  await complete();
  await complete();
  const idle: number[] = [];
  const idleFirst: number[] = [];
  for (let i = 0; i < COMPLETIONS; i++) {
    const r = await complete();
    idle.push(r.clientMs);
    idleFirst.push(r.firstTokenMs);
  }

  const question = `Explain what this code does:\n\n${lines.slice(60, 100).join("\n")}`;
  const cold = await chat("cold", 64, question);
  log(`chat (first, chat context created): ${cold.usage.promptTokens} prompt tokens, first token ${cold.usage.timeToFirstTokenMs} ms, ${cold.usage.tokensPerSecond} tokens/s`);

  const during: number[] = [];
  const duringFirst: number[] = [];
  let overlapped = 0;
  const started = firstDelta("long");
  let streaming = true;
  const long = chat("long", quick ? 200 : 400, `${question}\nAnd in more detail?`).finally(() => (streaming = false));
  await started;
  for (let i = 0; i < COMPLETIONS && streaming; i++) {
    const r = await complete();
    if (streaming) {
      overlapped++;
      during.push(r.clientMs);
      duringFirst.push(r.firstTokenMs);
    }
  }
  const longResult = await long;
  log(`chat (streaming): ${longResult.usage.promptTokens} prompt tokens, ${longResult.usage.completionTokens} answer tokens, first token ${longResult.usage.timeToFirstTokenMs} ms, ${longResult.usage.tokensPerSecond} tokens/s`);
  // A second idle baseline after the chat, so a neighbour's load during the run shows as a gap between the two.
  const idleAfter: number[] = [];
  const idleAfterFirst: number[] = [];
  let after = await complete();
  for (let i = 0; i < COMPLETIONS; i++) {
    after = await complete();
    idleAfter.push(after.clientMs);
    idleAfterFirst.push(after.firstTokenMs);
  }

  const idleS = summarize(idle);
  const duringS = summarize(during);
  log(formatSummary("completion latency, idle (client ms)", idleS, "ms"));
  log(formatSummary("completion latency, during a streaming chat", duringS, "ms"));
  log(formatSummary("completion latency, idle after the chat", summarize(idleAfter), "ms"));
  log(formatSummary("completion first token, idle", summarize(idleFirst), "ms"));
  log(formatSummary("completion first token, idle after the chat", summarize(idleAfterFirst), "ms"));
  log(formatSummary("completion first token, during a streaming chat", summarize(duringFirst), "ms"));
  log(`completion after the chats: reused ${after.reused} tokens, evaluated ${after.evaluated}`);
  log(`load average at the end: ${os.loadavg().map((x) => x.toFixed(2)).join(" ")} (other processes on this machine skew every figure)`);
  await connection.sendRequest("shutdown");
  await connection.sendNotification("exit");
  connection.dispose();
  log(
    JSON.stringify({
      bench: "chat",
      model: path.basename(modelPath),
      chatColdFirstTokenMs: cold.usage.timeToFirstTokenMs,
      chatFirstTokenMs: longResult.usage.timeToFirstTokenMs,
      chatTokensPerSecond: longResult.usage.tokensPerSecond,
      chatPromptTokens: longResult.usage.promptTokens,
      completionIdle: idleS,
      completionDuringChat: duringS,
      completionIdleAfter: summarize(idleAfter),
      completionFirstTokenIdle: summarize(idleFirst),
      completionFirstTokenIdleAfter: summarize(idleAfterFirst),
      completionFirstTokenDuringChat: summarize(duringFirst),
      completionsOverlapped: overlapped,
      reusedAfterChat: after.reused,
      evaluatedAfterChat: after.evaluated,
      loadAverage: os.loadavg()[0],
    }),
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:chat failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
