/**
 * The first suggestion in a file (issue 15), on the benchmark's running server: after opening a
 * file and pausing as a person does, and after switching between two files every ~20 keystrokes,
 * each against the cold cost measured in the same run.
 */
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import type { MessageConnection } from "vscode-jsonrpc/node";
import { TextDocument } from "vscode-languageserver-textdocument";
import { defaultSettings } from "../../config/schema.js";
import type { CompletionMetricsRecord, CompletionMetricsResult, PrefillMetricsRecord } from "../../server/protocol.js";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface FirstRecord {
  firstTokenMs: number;
  lane: string;
  reusedTokens: number;
  evaluatedTokens: number;
  promptTokens: number;
}

/** An open document the benchmark types into, mirrored on the client side. */
class BenchDocument {
  doc: TextDocument;
  constructor(
    private readonly connection: MessageConnection,
    file: string,
  ) {
    this.doc = TextDocument.create(pathToFileURL(file).href, "javascript", 1, fs.readFileSync(file, "utf8"));
  }

  get uri(): string {
    return this.doc.uri;
  }

  async open(): Promise<void> {
    await this.connection.sendNotification("textDocument/didOpen", { textDocument: { uri: this.uri, languageId: "javascript", version: 1, text: this.doc.getText() } });
  }

  async close(): Promise<void> {
    await this.connection.sendNotification("textDocument/didClose", { textDocument: { uri: this.uri } });
  }

  /** Inserts `text` at `offset` and returns the offset after it. */
  async insert(offset: number, text: string): Promise<number> {
    const range = { start: this.doc.positionAt(offset), end: this.doc.positionAt(offset) };
    this.doc = TextDocument.update(this.doc, [{ range, text }], this.doc.version + 1);
    await this.connection.sendNotification("textDocument/didChange", { textDocument: { uri: this.uri, version: this.doc.version }, contentChanges: [{ range, text }] });
    return offset + text.length;
  }

  /** Asks for an inline completion at `offset` and waits for the answer. */
  async request(offset: number): Promise<void> {
    await this.connection.sendRequest("textDocument/inlineCompletion", { textDocument: { uri: this.uri }, position: this.doc.positionAt(offset), context: { triggerKind: 2 } });
  }

  /** The end of the line at `fraction` of the file: where the benchmark starts typing. */
  middleLineEnd(fraction = 0.5): number {
    const line = Math.floor(this.doc.lineCount * fraction);
    const next = this.doc.offsetAt({ line: line + 1, character: 0 });
    const text = this.doc.getText();
    return text[next - 1] === "\n" ? next - 1 : next;
  }
}

async function lastRecord(connection: MessageConnection): Promise<CompletionMetricsRecord> {
  const result = (await connection.sendRequest("ifai/completionMetrics", { last: 1 })) as CompletionMetricsResult;
  return result.records.at(-1)!;
}

async function prefillsOf(connection: MessageConnection, uri: string): Promise<PrefillMetricsRecord[]> {
  const result = (await connection.sendRequest("ifai/completionMetrics", {})) as CompletionMetricsResult;
  return (result.prefills ?? []).filter((p) => p.uri === uri);
}

const first = (r: CompletionMetricsRecord): FirstRecord => ({
  firstTokenMs: r.firstTokenMs ?? Number.NaN,
  lane: r.lane ?? "",
  reusedTokens: r.reusedTokens,
  evaluatedTokens: r.evaluatedTokens,
  promptTokens: r.promptTokens,
});

/**
 * Settings for these runs: only the first token is measured, so suggestions stop after 4 tokens
 * (random weights rarely end one, and each request is awaited).
 */
export const setCompletion = (connection: MessageConnection, completion: Record<string, unknown>): Promise<void> =>
  connection.sendNotification("workspace/didChangeConfiguration", { settings: { ifai: { completion: { maxTokens: 4, maxMultilineTokens: 4, ...completion } } } });

/** How the open runs differ: the cold cost, a client that sends didOpen only, and one that also names the cursor. */
export type OpenVariant = "cold" | "open" | "focus";

export interface OpenRecords {
  /** Prefill off and the full prompt on the first request: what the first suggestion costs without working ahead. */
  cold: FirstRecord[];
  /** Defaults, with a client that sends didOpen only (the server prefills the window from the top). */
  open: FirstRecord[];
  /** Defaults, with a client that also sends ifai/didFocus at the cursor, as the project's clients do. */
  focus: FirstRecord[];
  /** Prompt tokens the prefills evaluated before the request, per run of `open` and `focus`. */
  prefilledTokens: number[];
}

/**
 * Opens each file, pauses `pauseMs` (a person looking at the file), then starts a new line in
 * the middle of it and asks for a suggestion. Files take the variants in turn (each file is used
 * once, so no run finds another's KV state), so the cold cost is measured in the same run on files
 * of the same kind.
 */
export async function measureOpen(connection: MessageConnection, files: readonly string[], pauseMs: number): Promise<OpenRecords> {
  const out: OpenRecords = { cold: [], open: [], focus: [], prefilledTokens: [] };
  const variants: OpenVariant[] = ["cold", "open", "focus"];
  for (const [i, file] of files.entries()) {
    const variant = variants[i % variants.length]!;
    await setCompletion(connection, variant === "cold" ? { prefill: false, firstPrefixTokens: 0 } : { prefill: true, firstPrefixTokens: defaultFirstPrefixTokens });
    const doc = new BenchDocument(connection, file);
    await doc.open();
    const at = doc.middleLineEnd();
    if (variant === "focus") await connection.sendNotification("ifai/didFocus", { textDocument: { uri: doc.uri }, position: doc.doc.positionAt(at) });
    await sleep(pauseMs);
    const cursor = await doc.insert(at, "\n  c");
    await doc.request(cursor);
    out[variant].push(first(await lastRecord(connection)));
    if (variant !== "cold") out.prefilledTokens.push((await prefillsOf(connection, doc.uri)).reduce((n, p) => n + p.evaluatedTokens, 0));
    await doc.close();
  }
  await setCompletion(connection, { prefill: true, firstPrefixTokens: defaultFirstPrefixTokens });
  return out;
}

const defaultFirstPrefixTokens = defaultSettings()["completion.firstPrefixTokens"];

/**
 * Types a line in file A for `keystrokes` keystrokes, then in file B, and so on, `switches`
 * times, as a person moving between a module and its test does; returns the first request after
 * each switch back. Both files are opened (and the model loaded) before the first measurement.
 */
export async function measureSwitch(
  connection: MessageConnection,
  files: readonly [string, string],
  options: { switches: number; keystrokes: number; keyIntervalMs: number },
): Promise<FirstRecord[]> {
  const docs = files.map((f) => new BenchDocument(connection, f));
  const cursors: number[] = [];
  for (const doc of docs) {
    await doc.open();
    cursors.push(await doc.insert(doc.middleLineEnd(0.4), "\n  "));
  }
  const line = "const total = items.reduce((sum, item) => sum + item.price * item.count, 0); ";
  const out: FirstRecord[] = [];
  let typed = 0;
  for (let visit = 0; visit < options.switches + 2; visit++) {
    const k = visit % 2;
    const doc = docs[k]!;
    for (let key = 0; key < options.keystrokes; key++) {
      cursors[k] = await doc.insert(cursors[k]!, line[typed++ % line.length]!);
      await doc.request(cursors[k]!);
      // The first visit to each file is a cold start: only switches back are measured.
      if (key === 0 && visit >= 2) out.push(first(await lastRecord(connection)));
      await sleep(options.keyIntervalMs);
    }
  }
  for (const doc of docs) await doc.close();
  return out;
}

/** Real source files of about 1k tokens (pinned by the lockfile), for the open and switch runs. */
export function benchFiles(root: string): { open: string[]; pair: [string, string] } {
  const common = (pkg: string, name: string): string => path.join(root, "node_modules", pkg, "lib/common", name);
  const client = [
    "inlineValue.js",
    "foldingRange.js",
    "signatureHelp.js",
    "documentLink.js",
    "colorProvider.js",
    "linkedEditingRange.js",
    "workspaceSymbol.js",
    "codeLens.js",
    "fileSystemWatcher.js",
    "inlayHint.js",
    "typeHierarchy.js",
    "callHierarchy.js",
  ];
  return {
    open: client.map((f) => common("vscode-languageclient", f)),
    pair: [common("vscode-jsonrpc", "events.js"), common("vscode-jsonrpc", "cancellation.js")],
  };
}
