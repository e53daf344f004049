/**
 * npm run bench:completion — keystroke latency of the real server over stdio on a model of the
 * exact Qwen2.5-Coder-0.5B shape (random weights, real vocabulary when ../shared/models has it),
 * against a naive fresh infill per keystroke measured in the same run. Prints p50/p95 and ends
 * with one JSON line of the figures.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { CancellationTokenSource, createMessageConnection, StreamMessageReader, StreamMessageWriter } from "vscode-jsonrpc/node";
import { TextDocument } from "vscode-languageserver-textdocument";
import type { CompletionMetricsRecord, CompletionMetricsResult, MemorySnapshot } from "../server/protocol.js";
import { ensureGeneratedModel, QWEN25_CODER_05B_SHAPE } from "./gguf/qwen2Model.js";
import { buildTrace, type TraceEvent } from "./bench/typingTrace.js";
import { formatSummary, summarize } from "./bench/stats.js";
import { runNaiveBaseline, type DocumentState } from "./bench/naiveBaseline.js";
import { runFloor } from "./bench/floor.js";
import { numberOption } from "./bench/args.js";
import { benchFiles, measureOpen, measureSwitch, setCompletion, type FirstRecord } from "./bench/firstSuggestion.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const quick = process.argv.includes("--quick");
/** `--first-only`: only the first-suggestion runs (open a file, pause, type), after the model loads. */
const firstOnly = process.argv.includes("--first-only");
/** `--threads N` overrides the server's automatic thread count (to compare settings). */
const threads = numberOption("threads") ?? 0;
/** `--middle-lines N` sets completion.middleLines (0: the whole prefix before the suffix, as before). */
const middleLines = numberOption("middle-lines");
/** `--debounce-ms N` sets completion.debounceMs (to compare with the default). */
const debounceMs = numberOption("debounce-ms");
const completionOptions = { ...(middleLines !== undefined ? { middleLines } : {}), ...(debounceMs !== undefined ? { debounceMs } : {}) };
/** `--no-index` turns the codebase index off, to separate its cost from the completion engine's. */
const indexEnabled = !process.argv.includes("--no-index");
const log = (s = ""): void => void process.stdout.write(`${s}\n`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The real source file the trace types into (pinned by the lockfile), and the lines it retypes. */
const SOURCE = path.join(root, "node_modules/vscode-jsonrpc/lib/common/linkedMap.js");
const REGION = { from: 69, to: quick ? 74 : 82 };

interface Sent {
  event: TraceEvent["kind"];
  /** Typed away from the end of the prefix: in the middle of an earlier line. */
  midLine: boolean;
  t0: number;
  clientMs?: number;
  suggestion?: string;
  state: DocumentState;
}

async function main(): Promise<void> {
  const vocabPath = path.resolve(root, "../shared/models/ggml-vocab-qwen2.5.gguf");
  const vocab = fs.existsSync(vocabPath) ? { vocabGgufPath: vocabPath } : ("byte" as const);
  log(`ifai-lsp completion benchmark — ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`);
  if (vocab === "byte") log("(../shared/models absent: byte-level vocabulary, so token counts are not realistic)");
  const genStart = performance.now();
  const modelPath = await ensureGeneratedModel(path.join(root, ".cache", "bench-models"), { shape: QWEN25_CODER_05B_SHAPE, quant: "Q8_0", vocab, seed: 1 });
  log(`model: ${path.basename(modelPath)} (${(fs.statSync(modelPath).size / 2 ** 20).toFixed(0)} MiB, ready in ${((performance.now() - genStart) / 1000).toFixed(1)} s)`);

  const lines = fs.readFileSync(SOURCE, "utf8").split("\n");
  const region = lines.slice(REGION.from, REGION.to).join("\n") + "\n";
  const initial = [...lines.slice(0, REGION.from), ...lines.slice(REGION.to)].join("\n");
  let doc = TextDocument.create(pathToFileURL(SOURCE).href, "javascript", 1, initial);
  let offset = doc.offsetAt({ line: REGION.from, character: 0 });

  const server = spawn(process.execPath, [path.join(root, "bin", "ifai-lsp.js"), "--stdio"], {
    stdio: ["pipe", "pipe", "inherit"],
    env: { ...process.env, IFAI_LOG_LEVEL: process.env.IFAI_LOG_LEVEL ?? "warn" },
  });
  const connection = createMessageConnection(new StreamMessageReader(server.stdout), new StreamMessageWriter(server.stdin));
  connection.listen();
  const t0 = performance.now();
  await connection.sendRequest("initialize", {
    processId: process.pid,
    rootUri: pathToFileURL(path.dirname(SOURCE)).href,
    capabilities: { textDocument: { inlineCompletion: {} } },
    // The model in the server itself, so its memory figures are the whole cost of one window;
    // bench:engine compares this with the shared engine across windows.
    initializationOptions: { engine: { mode: "in-process" }, model: { path: modelPath, keepLoaded: true, threads }, index: { enabled: indexEnabled }, ...(Object.keys(completionOptions).length > 0 ? { completion: completionOptions } : {}) },
  });
  const initializeMs = performance.now() - t0;
  await connection.sendNotification("initialized", {});
  const metrics = async (): Promise<CompletionMetricsResult> => connection.sendRequest("ifai/completionMetrics", {});
  const idle = await metrics();
  const idleRss = idle.rss;
  const memoryAt: Array<[string, MemorySnapshot | undefined]> = [["idle (initialized)", idle.memory]];
  await connection.sendNotification("textDocument/didOpen", { textDocument: { uri: doc.uri, languageId: "javascript", version: 1, text: initial } });

  const sent: Sent[] = [];
  let saved = 0;
  let pending: { done: Promise<void>; cancel: CancellationTokenSource } | undefined;
  let lastSuggestion = "";
  const request = (event: TraceEvent["kind"]): void => {
    pending?.cancel.cancel();
    const cancel = new CancellationTokenSource();
    const record: Sent = { event, midLine: saved !== 0, t0: performance.now(), state: { text: doc.getText(), offset } };
    sent.push(record);
    const done = (
      connection.sendRequest("textDocument/inlineCompletion", { textDocument: { uri: doc.uri }, position: doc.positionAt(offset), context: { triggerKind: 2 } }, cancel.token) as Promise<{
        items: Array<{ insertText: string }>;
      } | null>
    ).then(
      (list) => {
        record.clientMs = performance.now() - record.t0;
        record.suggestion = list?.items[0]?.insertText ?? "";
        if (record.suggestion) lastSuggestion = record.suggestion;
      },
      () => undefined,
    );
    pending = { done, cancel };
  };
  const edit = async (start: number, end: number, text: string): Promise<void> => {
    const range = { start: doc.positionAt(start), end: doc.positionAt(end) };
    doc = TextDocument.update(doc, [{ range, text }], doc.version + 1);
    offset = start + text.length;
    await connection.sendNotification("textDocument/didChange", { textDocument: { uri: doc.uri, version: doc.version }, contentChanges: [{ range, text }] });
  };
  const pause = async (ms: number, keyIntervalMs: number): Promise<void> => {
    if (ms > keyIntervalMs) await pending?.done; // a person reads the suggestion before going on
    await sleep(ms);
  };

  // The first request is cold: the whole prompt is evaluated once.
  request("type");
  await pending!.done;
  const coldMs = sent[0]!.clientMs ?? Number.NaN;
  memoryAt.push(["model loaded, first suggestion", (await metrics()).memory]);

  if (firstOnly) {
    // Only issue 15's runs (open, switch), a few minutes instead of the whole benchmark.
    const files = benchFiles(root);
    const opened = await measureOpen(connection, quick ? files.open.slice(0, 6) : files.open, 1000);
    const ms = (r: FirstRecord[]): ReturnType<typeof summarize> => summarize(r.map((x) => x.firstTokenMs).filter(Number.isFinite));
    const tok = (r: FirstRecord[]): ReturnType<typeof summarize> => summarize(r.map((x) => x.evaluatedTokens), 0);
    await connection.sendRequest("shutdown");
    await connection.sendNotification("exit");
    connection.dispose();
    log(formatSummary("open, pause 1 s, type → first token (didOpen only)", ms(opened.open), "ms") + `  evaluated p50 ${tok(opened.open).p50}`);
    log(formatSummary("  the same, client sends ifai/didFocus at the cursor", ms(opened.focus), "ms") + `  evaluated p50 ${tok(opened.focus).p50}`);
    log(formatSummary("  cold: no prefill, full prompt", ms(opened.cold), "ms") + `  evaluated p50 ${tok(opened.cold).p50}`);
    log(JSON.stringify({ bench: "completion", part: "first", openPauseFirstTokenMs: ms(opened.open), openFocusFirstTokenMs: ms(opened.focus), openColdFirstTokenMs: ms(opened.cold), evaluated: { open: tok(opened.open), focus: tok(opened.focus), cold: tok(opened.cold) } }));
    return;
  }

  const trace = buildTrace(region, { keyIntervalMs: 110, pauseMs: 450 });
  let typedThrough = 0;
  for (const event of trace) {
    switch (event.kind) {
      case "type":
        await edit(offset, offset, event.text);
        request(event.kind);
        await pause(event.delayMs, 110);
        break;
      case "type-suggestion": {
        await pending?.done;
        const chars = [...lastSuggestion].slice(0, Math.min(event.chars, Math.max(0, lastSuggestion.length - 1)));
        typedThrough = chars.length;
        for (const ch of chars) {
          await edit(offset, offset, ch);
          request(event.kind);
          await pending?.done;
          await sleep(event.delayMs);
        }
        break;
      }
      case "backspace":
        if (typedThrough === 0 && sent.at(-1)?.event === "type-suggestion") break;
        if (typedThrough > 0) typedThrough--;
        await edit(offset - 1, offset, "");
        request(event.kind);
        await pause(event.delayMs, 110);
        break;
      case "move": {
        saved = offset;
        const position = doc.positionAt(offset);
        const line = Math.max(0, position.line - event.linesUp);
        const lineText = doc.getText({ start: { line, character: 0 }, end: { line: line + 1, character: 0 } });
        offset = doc.offsetAt({ line, character: Math.floor(lineText.trimEnd().length / 2) });
        break;
      }
      case "return":
        offset = saved;
        saved = 0;
        break;
    }
  }
  await pending?.done;
  const result = (await connection.sendRequest("ifai/completionMetrics", { last: sent.length })) as CompletionMetricsResult;
  const records = result.records.sort((a, b) => a.requestId - b.requestId);
  if (records.length !== sent.length) throw new Error(`expected ${sent.length} metric records, got ${records.length}`);
  memoryAt.push(["after the trace", result.memory]);

  // Issue 15: the first suggestion after opening a file, and after switching back to one.
  const files = benchFiles(root);
  const opened = await measureOpen(connection, quick ? files.open.slice(0, 6) : files.open, 1000);
  const switchOptions = { switches: quick ? 4 : 8, keystrokes: 20, keyIntervalMs: 110 };
  const switched = await measureSwitch(connection, files.pair, switchOptions);
  memoryAt.push(["after open and switch runs", (await metrics()).memory]);
  // The same switches with one sequence and no first prompts (every switch evicts the other
  // file's KV state): the cold cost.
  await setCompletion(connection, { warmDocuments: 1, firstPrefixTokens: 0 });
  const switchedOne = await measureSwitch(connection, files.pair, switchOptions);
  await connection.sendRequest("shutdown");
  await connection.sendNotification("exit");
  connection.dispose();

  const joined = sent.map((s, i) => ({ ...s, r: records[i]! }));
  if (process.env.IFAI_BENCH_DUMP) {
    const lines = [...joined.map((j) => JSON.stringify({ event: j.event, clientMs: j.clientMs, ...j.r, uri: undefined })), ...(result.prefills ?? []).map((p) => JSON.stringify({ prefill: true, ...p, uri: undefined }))];
    fs.writeFileSync(process.env.IFAI_BENCH_DUMP, lines.join("\n"));
  }
  const warm = (j: { r: CompletionMetricsRecord; midLine: boolean }): boolean =>
    j.r.source === "model" && !j.midLine && j.r.reusedTokens >= j.r.promptTokens / 2;
  const trace0 = joined.slice(1);
  const modelServed = trace0.filter(warm);
  const typedThroughRuns = trace0.filter((j) => j.r.source === "typed-through");
  const midLine = trace0.filter((j) => j.r.source === "model" && j.midLine);
  const reanchored = trace0.filter((j) => j.r.source === "model" && !j.midLine && !warm(j)).length;
  const superseded = trace0.filter((j) => j.r.source === "superseded").length;

  const firstToken = summarize(modelServed.map((j) => j.r.firstTokenMs ?? Number.NaN).filter(Number.isFinite));
  // The wait for the sequence (the request before this one ending its evaluation step) and what
  // follows it (tokenizing, the changed tokens, one decode): the floor compares with the second.
  const waited = summarize(modelServed.map((j) => j.r.waitMs ?? Number.NaN).filter(Number.isFinite));
  const afterWait = summarize(modelServed.map((j) => (j.r.firstTokenMs ?? Number.NaN) - (j.r.waitMs ?? Number.NaN)).filter(Number.isFinite));
  const complete = summarize(modelServed.map((j) => j.clientMs ?? Number.NaN).filter(Number.isFinite));
  const evaluated = summarize(modelServed.map((j) => j.r.evaluatedTokens), 0);
  const through = summarize(typedThroughRuns.map((j) => j.clientMs ?? Number.NaN).filter(Number.isFinite), 2);
  const cold = summarize(midLine.map((j) => j.r.firstTokenMs ?? Number.NaN).filter(Number.isFinite));

  log();
  log(`trace: ${sent.length} keystroke requests over ${path.relative(root, SOURCE)} lines ${REGION.from + 1}-${REGION.to}`);
  const bySource = (name: string): number => trace0.filter((j) => j.r.source === name).length;
  log(`  answered by the model ${bySource("model")}, cache ${bySource("cache")}, typed-through ${bySource("typed-through")}, cancelled by the client ${bySource("cancelled")}, superseded ${superseded}`);
  log(`initialize answered in ${initializeMs.toFixed(0)} ms; first (cold) suggestion ${coldMs.toFixed(0)} ms`);
  log(formatSummary("warm keystroke → first suggestion token", firstToken, "ms"));
  log(formatSummary("  of which waiting for the sequence", waited, "ms"));
  log(formatSummary("  of which after it (prompt, evaluation, decode)", afterWait, "ms"));
  log(formatSummary("warm keystroke → complete suggestion", complete, "ms"));
  log(formatSummary("prompt tokens evaluated per keystroke", evaluated, "tok"));
  log(formatSummary("typed-through keystroke → suggestion", through, "ms"));
  log(formatSummary("mid-line edit → first token", cold, "ms"));
  log(`model answers with a cold prompt after the first (prefix window re-anchored): ${reanchored}`);
  const firstLane = trace0.filter((j) => j.r.source === "model" && j.r.lane === "first").length;
  log(`model answers on a document's short first prompt (its full prompt not evaluated yet): ${firstLane}`);
  log(`server RSS idle ${(idleRss / 2 ** 20).toFixed(0)} MiB, after the trace ${(result.rss / 2 ** 20).toFixed(0)} MiB`);
  for (const line of formatMemory(memoryAt, fs.statSync(modelPath).size)) log(line);

  log();
  log("naive baseline: a fresh infill per keystroke (no KV-cache reuse), same prompts, same engine, same threads");
  const sampled = modelServed.filter((_, i) => i % Math.max(1, Math.floor(modelServed.length / (quick ? 4 : 12))) === 0);
  const samples = sampled.map((j) => j.state);
  const naive = await runNaiveBaseline(modelPath, samples, doc.uri);
  const naiveFirst = summarize(naive.firstTokenMs);
  log(formatSummary("naive keystroke → first token", naiveFirst, "ms"));
  log(formatSummary("naive prompt tokens evaluated per keystroke", summarize(naive.promptTokens, 0), "tok"));
  const ratio = naiveFirst.p50 / firstToken.p50;
  log(`ratio naive / ifai-lsp, first token p50: ${ratio.toFixed(1)}x`);

  log();
  log("floor: the tokens each keystroke changed plus one decode, on a warm sequence, same engine and threads");
  const pairs = modelServed.filter((_, i) => i % Math.max(1, Math.floor(modelServed.length / (quick ? 8 : 24))) === 0)
    .map((j) => ({ before: joined[joined.indexOf(j) - 1]!.state, after: j.state }));
  const floor = await runFloor(modelPath, pairs, doc.uri);
  const floorFirst = summarize(floor.firstTokenMs);
  log(formatSummary("floor keystroke → first token", floorFirst, "ms"));
  log(formatSummary("floor tokens evaluated per keystroke", summarize(floor.changedTokens, 0), "tok"));
  const overFloor = firstToken.p50 / floorFirst.p50;
  log(`ratio ifai-lsp / floor, first token p50: ${overFloor.toFixed(2)}x`);
  log(`prompt evaluation by step size (tokens/s): ${floor.stepTokensPerSecond.map((s) => `${s.step}: ${s.tokensPerSecond}`).join(", ")}`);

  log();
  log("first suggestion in a file (cold: the same in this run without prefill, or with one KV sequence)");
  const ms = (r: FirstRecord[]): ReturnType<typeof summarize> => summarize(r.map((x) => x.firstTokenMs).filter(Number.isFinite));
  const tok = (r: FirstRecord[], f: (x: FirstRecord) => number): ReturnType<typeof summarize> => summarize(r.map(f), 0);
  const openCold = ms(opened.cold);
  const openPlain = ms(opened.open);
  const openFocus = ms(opened.focus);
  const switchWarm = ms(switched);
  const switchCold = ms(switchedOne);
  const lanes = (r: FirstRecord[]): string => `first prompt ${r.filter((x) => x.lane === "first").length}/${r.length}`;
  log(formatSummary("open, pause 1 s, type → first token (didOpen only)", openPlain, "ms") + `  ${lanes(opened.open)}`);
  log(formatSummary("  the same, client sends ifai/didFocus at the cursor", openFocus, "ms") + `  ${lanes(opened.focus)}`);
  log(formatSummary("  cold: no prefill, full prompt", openCold, "ms"));
  log(formatSummary("  prompt tokens evaluated (didOpen only)", tok(opened.open, (x) => x.evaluatedTokens), "tok") + `  of p50 ${tok(opened.open, (x) => x.promptTokens).p50}`);
  log(formatSummary("  prompt tokens evaluated (didFocus)", tok(opened.focus, (x) => x.evaluatedTokens), "tok") + `  of p50 ${tok(opened.focus, (x) => x.promptTokens).p50}`);
  log(formatSummary("  prompt tokens evaluated (cold)", tok(opened.cold, (x) => x.evaluatedTokens), "tok") + `  of p50 ${tok(opened.cold, (x) => x.promptTokens).p50}`);
  log(formatSummary("switch back after 20 keystrokes → first token", switchWarm, "ms") + `  ${lanes(switched)}`);
  log(formatSummary("  the same with one KV sequence (cold)", switchCold, "ms"));
  log(formatSummary("  prompt tokens evaluated (3 / 1 sequences)", tok(switched, (x) => x.evaluatedTokens), "tok") + `  one sequence p50 ${tok(switchedOne, (x) => x.evaluatedTokens).p50}`);

  const figures = {
    bench: "completion",
    model: path.basename(modelPath),
    cores: os.cpus().length,
    threads: threads || "auto",
    index: indexEnabled,
    middleLines: middleLines ?? "default",
    debounceMs: debounceMs ?? "default",
    keystrokes: sent.length,
    initializeMs: Math.round(initializeMs),
    coldFirstSuggestionMs: Math.round(coldMs),
    warmFirstTokenMs: firstToken,
    warmWaitMs: waited,
    warmAfterWaitMs: afterWait,
    warmCompleteMs: complete,
    evaluatedTokensPerKeystroke: evaluated,
    typedThroughMs: through,
    midLineEditFirstTokenMs: cold,
    reanchoredColdPrompts: reanchored,
    firstLaneAnswers: firstLane,
    superseded,
    rssIdleMiB: Math.round(idleRss / 2 ** 20),
    rssAfterMiB: Math.round(result.rss / 2 ** 20),
    ...(result.memory?.anon !== undefined ? { rssAfterAnonMiB: mib(result.memory.anon), rssAfterFileMiB: mib(result.memory.file ?? 0) } : {}),
    naiveFirstTokenMs: naiveFirst,
    naiveOverOursP50: Number(ratio.toFixed(2)),
    floorFirstTokenMs: floorFirst,
    oursOverFloorP50: Number(overFloor.toFixed(2)),
    stepTokensPerSecond: Object.fromEntries(floor.stepTokensPerSecond.map((s) => [s.step, s.tokensPerSecond])),
    openPauseFirstTokenMs: openPlain,
    openFocusFirstTokenMs: openFocus,
    openColdFirstTokenMs: openCold,
    openFirstLane: { open: opened.open.filter((x) => x.lane === "first").length, focus: opened.focus.filter((x) => x.lane === "first").length, runs: opened.open.length },
    openPrefilledTokens: summarize(opened.prefilledTokens, 0),
    switchFirstTokenMs: switchWarm,
    switchOneSequenceFirstTokenMs: switchCold,
    switchEvaluatedTokens: tok(switched, (x) => x.evaluatedTokens),
    rssAfterSwitchMiB: mib(memoryAt.find(([stage]) => stage === "after open and switch runs")?.[1]?.rss ?? 0),
  };
  log(JSON.stringify(figures));
}

const mib = (bytes: number): number => Math.round(bytes / 2 ** 20);

/**
 * The server's memory at each stage. The GGUF's weights are read into anonymous memory (not
 * mapped, so replacing the file cannot crash the server), so "anon" is the cost of the loaded
 * model and everything else the server holds; "file" is the node binary and libraries.
 */
function formatMemory(stages: Array<[string, MemorySnapshot | undefined]>, modelBytes: number): string[] {
  const known = stages.filter((s): s is [string, MemorySnapshot] => s[1] !== undefined);
  if (known.length === 0) return [];
  const cell = (n: number | undefined): string => (n === undefined ? "?" : String(mib(n))).padStart(6);
  const lines = [`server memory, MiB (model file ${mib(modelBytes)}):   rss   anon   file   heap  heapUsed  external`];
  for (const [stage, m] of known) {
    lines.push(`  ${stage.padEnd(46)}${cell(m.rss)} ${cell(m.anon)} ${cell(m.file)} ${cell(m.heapTotal)} ${cell(m.heapUsed)}    ${cell(m.external)}`);
  }
  return lines;
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:completion failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
