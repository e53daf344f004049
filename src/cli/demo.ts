import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { createMessageConnection, StreamMessageReader, StreamMessageWriter } from "vscode-jsonrpc/node";
import { cacheDir, resolveModelPath } from "../config/paths.js";
import type { CompletionMetricsResult, StatusParams } from "../server/protocol.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const packageRoot = path.resolve(here, "../..");
const color = process.stdout.isTTY ? (code: number, s: string): string => `\u001b[${code}m${s}\u001b[0m` : (_: number, s: string): string => s;
const dim = (s: string): string => color(2, s);
const bold = (s: string): string => color(1, s);
const green = (s: string): string => color(32, s);
const yellow = (s: string): string => color(33, s);
const say = (s = ""): void => void process.stdout.write(`${s}\n`);

/** What the demo types into the file, a character at a time, as a person would. */
const TYPED = "export function averagePrice(items: Item[]): number {\n  const total = totalValue(items);\n  return ";

/**
 * A visible end-to-end session: starts the real server over stdio exactly as an editor does,
 * opens a file, types into it and asks for completions after each keystroke, printing what the
 * server answers and what it cost.
 */
export async function runDemo(args: string[]): Promise<number> {
  const modelFlag = args.indexOf("--model");
  const explicitModel = modelFlag >= 0 ? args[modelFlag + 1] : process.env.IFAI_MODEL;
  const fileArg = args.find((a, i) => !a.startsWith("--") && args[i - 1] !== "--model");
  const file = path.resolve(fileArg ?? path.join(packageRoot, "examples", "inventory.ts"));
  if (!fs.existsSync(file)) {
    say(`demo: no file at ${file}`);
    return 1;
  }

  say(bold("ifai-lsp demo") + dim(" — the real server over stdio, driven as an editor drives it"));
  let modelPath = resolveModelPath(explicitModel ?? "");
  // A real model uses the automatic thread count; the generated tiny one is faster on one thread
  // (its per-token work is too small to share between threads).
  let threads = 0;
  if (!fs.existsSync(modelPath)) {
    say();
    say(yellow(`No completion model at ${modelPath}.`));
    say("To get real suggestions, download Qwen2.5-Coder 0.5B (about 400 MB, Apache-2.0) with:");
    say(dim(`  node ${path.relative(process.cwd(), path.join(packageRoot, "bin", "ifai-lsp.js")) || "bin/ifai-lsp.js"} models pull qwen2.5-coder-0.5b`));
    say(dim("  (verified download with resume and mirrors; `ifai-lsp models list` shows the catalogue)"));
    say(`or point the server at any Qwen2.5-Coder GGUF with the setting "model.path" (or IFAI_MODEL=… for this demo).`);
    say();
    const { ensureGeneratedModel, TINY_SHAPE } = await import("../devtools/gguf/qwen2Model.js");
    modelPath = await ensureGeneratedModel(path.join(cacheDir(), "demo"), { shape: TINY_SHAPE, quant: "Q8_0", vocab: "byte", seed: 7 });
    say(yellow("Meanwhile the demo runs on a generated model with random weights: the machinery is real (llama.cpp,"));
    say(yellow("KV-cache reuse, cancellation, typing-through), the suggestions are gibberish."));
    say(dim(`  generated model: ${modelPath} (tiny: its timings are not those of a real model)`));
    threads = 1;
  }

  const server = spawn(process.execPath, [path.join(packageRoot, "bin", "ifai-lsp.js"), "--stdio"], {
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...process.env, IFAI_LOG_LEVEL: process.env.IFAI_LOG_LEVEL ?? "warn" },
  });
  let serverLog = "";
  server.stderr.on("data", (chunk: Buffer) => {
    serverLog += chunk.toString("utf8");
  });
  const connection = createMessageConnection(new StreamMessageReader(server.stdout), new StreamMessageWriter(server.stdin));
  connection.onNotification("window/showMessage", (p: { message: string }) => say(yellow(`  [server message] ${p.message}`)));
  let lastStatus: StatusParams | undefined;
  connection.onNotification("ifai/status", (p: StatusParams) => {
    if (p.model.state !== lastStatus?.model.state) say(dim(`  [status] model ${p.model.state}${p.model.gpu ? ` on ${p.model.gpu}, ${p.model.threads} threads` : ""}`));
    lastStatus = p;
  });
  connection.listen();

  const started = performance.now();
  const init = (await connection.sendRequest("initialize", {
    processId: process.pid,
    rootUri: pathToFileURL(path.dirname(file)).href,
    capabilities: { textDocument: { inlineCompletion: {}, completion: { completionItem: {} } } },
    initializationOptions: { model: { path: modelPath, threads } },
    clientInfo: { name: "ifai-lsp demo" },
  })) as { capabilities: Record<string, unknown> };
  say(`initialize answered in ${Math.round(performance.now() - started)} ms; capabilities: ${Object.keys(init.capabilities).join(", ")}`);
  await connection.sendNotification("initialized", {});

  const uri = pathToFileURL(file).href;
  let text = fs.readFileSync(file, "utf8");
  if (!text.endsWith("\n")) text += "\n";
  text += "\n";
  await connection.sendNotification("textDocument/didOpen", { textDocument: { uri, languageId: languageOf(file), version: 1, text } });
  say(`opened ${path.relative(process.cwd(), file) || file} (${text.split("\n").length - 1} lines); typing at its end:`);
  say();

  let version = 1;
  let line = text.split("\n").length - 1;
  let character = 0;
  const latencies: number[] = [];
  let lastSuggestion = "";
  const ask = async (): Promise<{ suggestion: string; source: string; ms: number; evaluated: number; reused: number }> => {
    const t0 = performance.now();
    const list = (await connection.sendRequest("textDocument/inlineCompletion", {
      textDocument: { uri },
      position: { line, character },
      context: { triggerKind: 2 },
    })) as { items: Array<{ insertText: string }> } | null;
    const ms = performance.now() - t0;
    const m = (await connection.sendRequest("ifai/completionMetrics", { last: 1 })) as CompletionMetricsResult;
    const r = m.records.at(-1);
    return { suggestion: list?.items[0]?.insertText ?? "", source: r?.source ?? "?", ms, evaluated: r?.evaluatedTokens ?? 0, reused: r?.reusedTokens ?? 0 };
  };
  const type = async (chars: string): Promise<void> => {
    await connection.sendNotification("textDocument/didChange", {
      textDocument: { uri, version: ++version },
      contentChanges: [{ range: { start: { line, character }, end: { line, character } }, text: chars }],
    });
    if (chars === "\n") {
      line++;
      character = 0;
    } else character += chars.length;
  };

  for (const ch of TYPED) {
    await type(ch);
    if (ch === "\n" || ch === " ") continue;
    const r = await ask();
    latencies.push(r.ms);
    lastSuggestion = r.suggestion || lastSuggestion;
    const shown = r.suggestion ? green(JSON.stringify(r.suggestion.length > 40 ? `${r.suggestion.slice(0, 40)}…` : r.suggestion)) : dim("(nothing)");
    say(`  typed ${JSON.stringify(ch).padEnd(5)} → ${shown} ${dim(`[${r.source}, ${r.ms.toFixed(0)} ms, ${r.evaluated} tokens evaluated, ${r.reused} reused]`)}`);
  }

  if (lastSuggestion.length > 2) {
    const final = await ask();
    if (final.suggestion.length > 2) {
      say();
      say(`Typing the first characters of the suggestion ${green(JSON.stringify(final.suggestion.slice(0, 30)))} serves the rest without the model:`);
      for (const ch of final.suggestion.slice(0, 2)) {
        await type(ch);
        const r = await ask();
        say(`  typed ${JSON.stringify(ch).padEnd(5)} → ${green(JSON.stringify(r.suggestion.slice(0, 30)))} ${dim(`[${r.source}, ${r.ms.toFixed(1)} ms]`)}`);
      }
    }
  }

  const items = (await connection.sendRequest("textDocument/completion", { textDocument: { uri }, position: { line, character } })) as {
    items: Array<{ label: string }>;
  } | null;
  say();
  say(`Editors without inline completion get ordinary items: ${items?.items.length ? green(JSON.stringify(items.items[0]!.label)) : dim("(none)")}`);

  const sorted = [...latencies].sort((a, b) => a - b);
  const p = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  const metrics = (await connection.sendRequest("ifai/completionMetrics", {})) as CompletionMetricsResult;
  say();
  say(bold("Summary"));
  say(`  ${latencies.length} keystrokes; suggestion latency p50 ${p(0.5).toFixed(0)} ms, p95 ${p(0.95).toFixed(0)} ms`);
  say(`  sources: ${summarize(metrics.records.map((r) => r.source))}`);
  say(`  server memory (RSS): ${(metrics.rss / 1e6).toFixed(0)} MB${lastStatus?.model.lastTokensPerSecond ? `; generation ${lastStatus.model.lastTokensPerSecond} tokens/s` : ""}`);

  await connection.sendRequest("shutdown");
  const exited = new Promise<number | null>((resolve) => server.once("exit", resolve));
  await connection.sendNotification("exit");
  const code = await exited;
  connection.dispose();
  say(`server shut down cleanly (exit code ${code}).`);
  if (code !== 0) process.stderr.write(serverLog);
  return code === 0 ? 0 : 1;
}

function summarize(values: string[]): string {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts].map(([k, n]) => `${k} ${n}`).join(", ");
}

function languageOf(file: string): string {
  const ext = path.extname(file).slice(1);
  const map: Record<string, string> = { ts: "typescript", tsx: "typescriptreact", js: "javascript", py: "python", go: "go", rs: "rust", java: "java", c: "c", cpp: "cpp", rb: "ruby", sh: "shellscript" };
  return map[ext] ?? "plaintext";
}
