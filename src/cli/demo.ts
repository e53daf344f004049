import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { createMessageConnection, StreamMessageReader, StreamMessageWriter } from "vscode-jsonrpc/node";
import { cacheDir, resolveModelPath } from "../config/paths.js";
import type { ChatDeltaParams, ChatResponse, CodeActionRunResult, CompletionMetricsResult } from "../server/protocol.js";
import { cliCommand } from "./cliCommand.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const packageRoot = path.resolve(here, "../..");
const color = process.stdout.isTTY ? (code: number, s: string): string => `\u001b[${code}m${s}\u001b[0m` : (_: number, s: string): string => s;
const dim = (s: string): string => color(2, s);
const bold = (s: string): string => color(1, s);
const green = (s: string): string => color(32, s);
const yellow = (s: string): string => color(33, s);
const say = (s = ""): void => void process.stdout.write(`${s}\n`);

/** Pasted at the end of the file in one change, as an editor sends a paste. */
const PASTED = "export function averagePrice(items: Item[]): number {\n";
/** Then typed a character at a time, as a person would. */
const TYPED = "  return ";
/** Typed after TYPED, a key at a time, only while no suggestion is long enough to type through. */
const MORE = "totalValue(items) / items.length;";

type Source = "model" | "cache" | "typed-through" | string;
interface Answer {
  suggestion: string;
  source: Source;
  ms: number;
  evaluated: number;
  reused: number;
}

/**
 * A visible end-to-end session: starts the real server over stdio exactly as an editor does,
 * opens a file and shows what the product does: completions while typing (from the model, from
 * typing through a suggestion, from the cache, and which), one AI code action applied to the
 * buffer, and one streamed chat answer with its route. Everything it prints comes from the server.
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
  let generated = false;
  if (!fs.existsSync(modelPath)) {
    say();
    say(yellow(`No completion model at ${modelPath}.`));
    say("To get real suggestions, download Qwen2.5-Coder 0.5B (about 400 MB, Apache-2.0) with:");
    say(`  ${cliCommand()} models pull qwen2.5-coder-0.5b`);
    say(dim(`  (or point the setting "model.path", or IFAI_MODEL, at any Qwen2.5-Coder GGUF)`));
    const { ensureGeneratedModel, TINY_SHAPE } = await import("../devtools/gguf/qwen2Model.js");
    modelPath = await ensureGeneratedModel(path.join(cacheDir(), "demo"), { shape: TINY_SHAPE, quant: "Q8_0", vocab: "byte", seed: 7 });
    say(yellow("Meanwhile the demo runs on a tiny generated model with random weights: the machinery is real"));
    say(yellow("(llama.cpp, KV-cache reuse, cache, typing-through, code actions, chat); its text is gibberish."));
    threads = 1;
    generated = true;
  }

  const server = spawn(process.execPath, [path.join(packageRoot, "bin", "ifai-lsp.js"), "--stdio"], {
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...process.env, IFAI_LOG_LEVEL: process.env.IFAI_LOG_LEVEL ?? "error" },
  });
  let serverLog = "";
  server.stderr.on("data", (chunk: Buffer) => {
    serverLog += chunk.toString("utf8");
  });
  const connection = createMessageConnection(new StreamMessageReader(server.stdout), new StreamMessageWriter(server.stdin));
  const messages: string[] = [];
  connection.onNotification("window/showMessage", (p: { message: string }) => void messages.push(p.message));
  const chatDeltas = new Map<string, (delta: string) => void>();
  connection.onNotification("ifai/chatDelta", (p: ChatDeltaParams) => chatDeltas.get(p.chatId)?.(p.delta));

  const uri = pathToFileURL(file).href;
  let text = fs.readFileSync(file, "utf8");
  if (!text.endsWith("\n")) text += "\n";
  text += "\n";
  let version = 1;
  // The editor's buffer: edits the server asks for (workspace/applyEdit) are applied here and sent back as didChange.
  connection.onRequest("workspace/applyEdit", async (p: { edit: WorkspaceEditLike }) => {
    const edits = editsFor(p.edit, uri);
    if (edits === undefined) return { applied: false, failureReason: "the demo edits only its own file" };
    const before = text;
    text = applyEdits(text, edits);
    await connection.sendNotification("textDocument/didChange", { textDocument: { uri, version: ++version }, contentChanges: [{ text }] });
    applied.push({ before, after: text });
    return { applied: true };
  });
  const applied: Array<{ before: string; after: string }> = [];
  connection.listen();

  const started = performance.now();
  await connection.sendRequest("initialize", {
    processId: process.pid,
    rootUri: pathToFileURL(path.dirname(file)).href,
    capabilities: {
      textDocument: { inlineCompletion: {}, completion: { completionItem: {} }, codeAction: {} },
      workspace: { applyEdit: true },
    },
    initializationOptions: { model: { path: modelPath, threads }, index: { enabled: false }, ...(generated ? { chat: { maxTokens: 40 } } : {}) },
    clientInfo: { name: "ifai-lsp demo" },
  });
  await connection.sendNotification("initialized", {});
  await connection.sendNotification("textDocument/didOpen", { textDocument: { uri, languageId: languageOf(file), version: 1, text } });
  say(dim(`server ready in ${Math.round(performance.now() - started)} ms; model ${path.basename(modelPath)}`));

  let line = text.split("\n").length - 1;
  let character = 0;
  const ask = async (): Promise<Answer> => {
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
  const edit = async (range: { start: number; end: number }, chars: string): Promise<void> => {
    await connection.sendNotification("textDocument/didChange", {
      textDocument: { uri, version: ++version },
      contentChanges: [{ range: { start: { line, character: range.start }, end: { line, character: range.end } }, text: chars }],
    });
    const lines = text.split("\n");
    lines[line] = lines[line]!.slice(0, range.start) + chars + lines[line]!.slice(range.end);
    text = lines.join("\n");
  };
  const type = async (chars: string): Promise<void> => {
    if (chars === "\n") {
      await connection.sendNotification("textDocument/didChange", {
        textDocument: { uri, version: ++version },
        contentChanges: [{ range: { start: { line, character }, end: { line, character } }, text: chars }],
      });
      const lines = text.split("\n");
      lines.splice(line, 1, lines[line]!.slice(0, character), lines[line]!.slice(character));
      text = lines.join("\n");
      line++;
      character = 0;
      return;
    }
    await edit({ start: character, end: character }, chars);
    character += chars.length;
  };
  const backspace = async (chars: string): Promise<void> => {
    await edit({ start: character - chars.length, end: character }, "");
    character -= chars.length;
  };
  const answers: Answer[] = [];
  const show = (label: string, r: Answer): void => {
    answers.push(r);
    const shown = r.suggestion ? green(quote(r.suggestion, 36)) : dim("(nothing)");
    const cost = r.source === "model" ? `${r.ms.toFixed(0)} ms, ${r.evaluated} tokens evaluated, ${r.reused} reused` : `${r.ms.toFixed(1)} ms, no model`;
    say(`  ${label.padEnd(13)} → ${shown} ${dim(`[${r.source}, ${cost}]`)}`);
  };

  say();
  say(bold(`1. Typing in ${path.relative(process.cwd(), file) || file}`) + dim(" (a suggestion after every keystroke)"));
  say(dim(`  pasted ${JSON.stringify(PASTED.trimEnd())} at the end of the file, then typed:`));
  for (const ch of PASTED) await type(ch);
  let current = await ask();
  show("(after paste)", current);
  for (const ch of TYPED) {
    await type(ch);
    if (ch === "\n" || ch === " ") continue;
    current = await ask();
    show(`typed ${JSON.stringify(ch)}`, current);
  }
  // Typing through needs a suggestion of two characters or more; a real model gives one at once.
  for (const ch of MORE) {
    if ([...current.suggestion].length >= 2) break;
    await type(ch);
    if (ch === " ") continue;
    current = await ask();
    show(`typed ${JSON.stringify(ch)}`, current);
  }

  say();
  say(bold("2. Typing through the suggestion, then deleting back") + dim(" (answers without the model)"));
  const accepted = [...current.suggestion].slice(0, Math.min(3, [...current.suggestion].length - 1));
  if (accepted.length === 0) say(dim("  (no suggestion of two characters or more to type through)"));
  for (const ch of accepted) {
    await type(ch);
    show(`typed ${JSON.stringify(ch)}`, await ask());
  }
  for (const ch of accepted.reverse()) {
    await backspace(ch);
    show("backspace", await ask());
  }

  // The user finishes the function, so the code action below starts from a file that parses.
  const finished = text.split("\n");
  finished.splice(line, 1, "  return totalValue(items) / items.length;", "}");
  text = finished.join("\n");
  await connection.sendNotification("textDocument/didChange", { textDocument: { uri, version: ++version }, contentChanges: [{ text }] });

  say();
  say(bold("3. An AI code action") + dim(" (a documentation comment for the file's first function, applied to the buffer)"));
  const lines = text.split("\n");
  const target = Math.max(0, lines.findIndex((l) => /^\s*(export\s+)?(async\s+)?function\s+\w+/.test(l)));
  const name = /function\s+(\w+)/.exec(lines[target] ?? "");
  const at = { line: target, character: name ? name.index + name[0].length - name[1]!.length : 0 };
  const actions = (await connection.sendRequest("textDocument/codeAction", {
    textDocument: { uri },
    range: { start: at, end: at },
    context: { diagnostics: [] },
  })) as Array<{ title: string; command?: { command: string; arguments?: unknown[] } }> | null;
  say(dim(`  offered: ${(actions ?? []).map((a) => a.title).join(" · ")}`));
  const docs = (actions ?? []).find((a) => (a.command?.arguments?.[0] as { kind?: string } | undefined)?.kind === "docs");
  let actionOutcome = "not offered";
  if (docs?.command) {
    const t0 = performance.now();
    const result = (await connection.sendRequest("workspace/executeCommand", { command: docs.command.command, arguments: docs.command.arguments })) as CodeActionRunResult;
    const ms = performance.now() - t0;
    actionOutcome = `${result.status} in ${(ms / 1000).toFixed(1)} s${result.servedBy ? ` (${result.servedBy})` : ""}`;
    if (result.status === "applied" && applied.length > 0) {
      say(`  ${docs.title}: ${green("applied")} ${dim(`[${result.servedBy}, ${(ms / 1000).toFixed(1)} s]`)}; the buffer now reads:`);
      for (const changed of changedLines(applied.at(-1)!.before, applied.at(-1)!.after)) say(green(`  + ${visible(changed, 100)}`));
    } else {
      say(`  ${docs.title}: ${yellow(result.status)} ${dim(`[${result.servedBy ?? "no model run"}, ${(ms / 1000).toFixed(1)} s]`)}`);
      const why = result.message ?? result.reason ?? messages.at(-1);
      if (why) say(yellow(`  ${visible(why, 300)}`));
      if (generated) say(dim("  (the generated model's reply is not valid code, so the server refused to offer it: it never applies an edit that breaks the syntax)"));
    }
  }

  say();
  say(bold("4. A chat question, streamed"));
  const question = "What does averagePrice return for an empty list?";
  say(`  ${dim("you:")} ${question}`);
  process.stdout.write(`  ${dim("ifai:")} `);
  let streamed = 0;
  chatDeltas.set("demo-chat", (delta) => {
    streamed += delta.length;
    process.stdout.write(visible(delta, 10_000, true));
  });
  const chat = (await connection.sendRequest("ifai/chat", {
    messages: [{ role: "user", content: question }],
    textDocument: { uri },
    chatId: "demo-chat",
  })) as ChatResponse;
  if (streamed === 0) process.stdout.write(visible(chat.content, 2000, true));
  say();
  const rate = chat.usage.tokensPerSecond !== undefined ? `, ${chat.usage.tokensPerSecond.toFixed(0)} tokens/s` : "";
  say(dim(`  route: ${chat.route.servedBy}${chat.route.rule ? ` (rule ${chat.route.rule})` : ""}: ${chat.route.reasons.join("; ")}`));
  say(dim(`  ${chat.usage.completionTokens} tokens${rate}, first token after ${chat.usage.timeToFirstTokenMs?.toFixed(0) ?? "?"} ms, stop: ${chat.stopReason}`));

  const metrics = (await connection.sendRequest("ifai/completionMetrics", {})) as CompletionMetricsResult;
  say();
  say(bold("Totals"));
  const bySource = new Map<string, number[]>();
  for (const a of answers) bySource.set(a.source, [...(bySource.get(a.source) ?? []), a.ms]);
  say(`  ${answers.length} completions asked: ${[...bySource].map(([k, ms]) => `${ms.length} from ${k} (p50 ${p50(ms).toFixed(k === "model" ? 0 : 1)} ms)`).join(", ")}`);
  say(`  code action: ${actionOutcome}; chat: ${chat.usage.completionTokens} tokens from ${chat.route.servedBy}`);
  say(`  server memory (RSS): ${(metrics.rss / 1e6).toFixed(0)} MB`);

  await connection.sendRequest("shutdown");
  const exited = new Promise<number | null>((resolve) => server.once("exit", resolve));
  await connection.sendNotification("exit");
  const code = await exited;
  connection.dispose();
  say(dim(`server shut down (exit code ${code}).`));
  if (code !== 0) process.stderr.write(serverLog);
  return code === 0 ? 0 : 1;
}

interface TextEditLike {
  range: { start: { line: number; character: number }; end: { line: number; character: number } };
  newText: string;
}
interface WorkspaceEditLike {
  changes?: Record<string, TextEditLike[]>;
  documentChanges?: Array<{ textDocument?: { uri: string }; edits?: TextEditLike[] }>;
}

function editsFor(edit: WorkspaceEditLike, uri: string): TextEditLike[] | undefined {
  if (edit.changes?.[uri]) return edit.changes[uri];
  const change = edit.documentChanges?.find((c) => c.textDocument?.uri === uri);
  return change?.edits;
}

/** Applies LSP edits (UTF-16 positions, non-overlapping) to a text, last first so earlier offsets stay valid. */
function applyEdits(text: string, edits: TextEditLike[]): string {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === "\n") starts.push(i + 1);
  const offset = (p: { line: number; character: number }): number => Math.min(text.length, (starts[p.line] ?? text.length) + p.character);
  const sorted = [...edits].sort((a, b) => offset(b.range.start) - offset(a.range.start));
  let out = text;
  for (const e of sorted) out = out.slice(0, offset(e.range.start)) + e.newText + out.slice(offset(e.range.end));
  return out;
}

/** The lines of `after` that `before` did not have, in order (a small edit's view, not a general diff). */
function changedLines(before: string, after: string): string[] {
  const a = before.split("\n");
  const b = after.split("\n");
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  return b.slice(head, b.length - tail);
}

/** Text from the model made safe for a terminal: control characters shown as escapes, cut to `max` characters. */
function visible(s: string, max: number, keepNewlines = false): string {
  // eslint-disable-next-line no-control-regex
  const cleaned = s.replace(keepNewlines ? /[\u0000-\u0009\u000b-\u001f\u007f]/g : /[\u0000-\u001f\u007f]/g, (c) => JSON.stringify(c).slice(1, -1));
  return cleaned.length > max ? `${cleaned.slice(0, max)}…` : cleaned;
}

function quote(s: string, max: number): string {
  const q = JSON.stringify(s);
  return q.length > max ? `${q.slice(0, max)}…` : q;
}

function p50(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

function languageOf(file: string): string {
  const ext = path.extname(file).slice(1);
  const map: Record<string, string> = { ts: "typescript", tsx: "typescriptreact", js: "javascript", py: "python", go: "go", rs: "rust", java: "java", c: "c", cpp: "cpp", rb: "ruby", sh: "shellscript" };
  return map[ext] ?? "plaintext";
}
