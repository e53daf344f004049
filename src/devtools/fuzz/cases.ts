import { ActionCommands, CompletionCommands, ModelCommands, NextEditCommands, ServerCommands } from "../../server/protocol.js";
import { PARAM_SCHEMAS } from "../../server/transport/paramSchemas.js";
import { frame } from "./LspProcess.js";
import type { Rng } from "./Rng.js";

/** One fuzz case: bytes to write, and the request ids that must each get an answer. */
export interface FuzzCase {
  kind: string;
  bytes: Buffer;
  /** Ids (as sent) of well-formed requests: each must be answered at least `count` times. */
  expect: Array<{ id: string; count: number }>;
}

/** What a case may refer to: the session's documents and the commands the server advertised. */
export interface CaseContext {
  /** Documents the fuzzer opens and edits (never the health-check document). */
  uris: readonly string[];
  commands: readonly string[];
  /** A folder for anything a command might write or read by path. */
  tempDir: string;
  caseIndex: number;
}

const METHODS = Object.keys(PARAM_SCHEMAS).filter((m) => m !== "exit" && m !== "shutdown");
/** Custom requests that cost nothing to run (no model): safe to send in bulk. */
const CHEAP_REQUESTS = ["ifai/completionMetrics", "ifai/routeLog", "ifai/indexStatus"];
const LSP_UNHANDLED = ["textDocument/hover", "textDocument/definition", "workspace/symbol", "textDocument/formatting", "completionItem/resolve", "inlayHint/resolve"];
const MODEL_IDS = ["qwen2.5-coder-0.5b-q4_k_m", "qwen2.5-coder-1.5b-q4_k_m", "tiny", "", " ", "../../etc/passwd", "nope"];
const SAFE_SETTING_KEYS = [
  "completion.enabled", "completion.inline", "completion.items", "completion.debounceMs", "completion.maxPrefixTokens", "completion.maxSuffixTokens",
  "completion.maxSnippetTokens", "completion.maxTokens", "completion.maxMultilineTokens", "completion.maxTimeMs", "completion.temperature", "completion.cacheSize",
  "chat.maxTokens", "chat.maxTimeMs", "chat.maxPromptTokens", "chat.temperature", "chat.topK", "actions.enabled", "actions.maxTokens", "actions.maxTimeMs",
  "router.preference", "router.fallback", "router.logSize", "log.level", "model.keepLoaded", "zzz.unknown", "completion",
];

const enc = (value: unknown): Buffer => frame(JSON.stringify(value));

/** Text pieces that broke or could break document handling: newlines, CRLF, surrogates, NUL. */
function textPiece(r: Rng): string {
  return r.weighted<() => string>([
    [4, () => r.pick(["", "\n", "\r\n", "\r", "\n\n\n", "a", "x = 1;", "\t", " "])],
    [3, () => r.pick(["const a = ", "function f(", "}\n", "if (x) {\n  ", "// comment\n", "import x from 'y';\n"])],
    [2, () => r.pick(["\ud800", "\udc00", "😀", "\ud83d", "é", "\u0000", "\uffff", "\u2028", "\ufeff"])],
    [1, () => "x".repeat(r.int(100, 20_000))],
    [1, () => "\n".repeat(r.int(10, 2000))],
    [1, () => randomString(r, r.int(1, 200))],
  ])();
}

export function randomString(r: Rng, length: number): string {
  let s = "";
  for (let i = 0; i < length; i++) {
    s += r.weighted<() => string>([
      [6, () => String.fromCharCode(r.int(0x20, 0x7e))],
      [1, () => String.fromCharCode(r.int(0, 0x1f))],
      [1, () => String.fromCharCode(r.int(0xd800, 0xdfff))],
      [1, () => String.fromCodePoint(r.int(0x80, 0x10ffff))],
    ])();
  }
  return s;
}

function randomNumber(r: Rng): number {
  return r.pick([0, 1, -1, 2 ** 31, 2 ** 31 - 1, -(2 ** 31), 2 ** 53, -(2 ** 53), 1e308, -1e308, 0.5, -0.5, 1e-9, r.int(0, 100), r.int(0, 1e6), Number.MAX_SAFE_INTEGER]);
}

/** Any JSON value, mostly small; sometimes huge or deep. */
export function randomJson(r: Rng, depth = 0): unknown {
  const leaf = (): unknown =>
    r.weighted<() => unknown>([
      [3, () => randomNumber(r)],
      [3, () => randomString(r, r.int(0, 20))],
      [1, () => r.bool()],
      [1, () => null],
      [1, () => textPiece(r)],
    ])();
  if (depth > 4) return leaf();
  return r.weighted<() => unknown>([
    [6, leaf],
    [2, () => Array.from({ length: r.int(0, 4) }, () => randomJson(r, depth + 1))],
    [2, () => Object.fromEntries(Array.from({ length: r.int(0, 4) }, () => [r.pick(["uri", "line", "character", "text", "textDocument", "position", "range", "id", "title", "data", "command", "arguments", randomString(r, 5)]), randomJson(r, depth + 1)]))],
  ])();
}

function position(r: Rng): unknown {
  return r.weighted<() => unknown>([
    [5, () => ({ line: r.int(0, 30), character: r.int(0, 80) })],
    [2, () => ({ line: r.pick([0, 1e6, 2 ** 31 - 1, 1e9]), character: r.pick([0, 1e6, 2 ** 31 - 1]) })],
    [1, () => ({ line: randomNumber(r), character: randomNumber(r) })],
    [1, () => randomJson(r)],
  ])();
}

function range(r: Rng): unknown {
  return r.bool(0.9) ? { start: position(r), end: position(r) } : randomJson(r);
}

/** A plausible valid params object for a method, to be mutated. */
function validParams(r: Rng, method: string, ctx: CaseContext): Record<string, unknown> {
  const uri = r.pick(ctx.uris);
  switch (method) {
    case "textDocument/didOpen":
      return { textDocument: { uri, languageId: r.pick(["typescript", "python", "plaintext", "rust", ""]), version: r.int(0, 100), text: textPiece(r) + textPiece(r) } };
    case "textDocument/didChange":
      return { textDocument: { uri, version: r.int(0, 1000) }, contentChanges: Array.from({ length: r.int(0, 3) }, () => (r.bool(0.8) ? { range: range(r), text: textPiece(r) } : { text: textPiece(r) })) };
    case "textDocument/didClose":
    case "textDocument/didSave":
      return { textDocument: { uri } };
    case "textDocument/completion":
    case "textDocument/inlineCompletion":
      return { textDocument: { uri }, position: position(r), context: { triggerKind: r.int(1, 3) } };
    case "textDocument/copilotInlineEdit":
      return { textDocument: { uri, version: r.int(0, 20) }, position: position(r), ...(r.bool() ? { context: { triggerKind: r.int(0, 3) } } : {}) };
    case "textDocument/didShowCompletion":
    case "textDocument/didPartiallyAcceptCompletion":
    case "ifai/didDismissSuggestion":
      return { item: feedbackItem(r), ...(method.includes("Partially") ? { acceptedLength: r.int(0, 50) } : {}) };
    case "textDocument/codeAction":
      return { textDocument: { uri }, range: range(r), context: { diagnostics: r.bool(0.3) ? [{ range: range(r), message: randomString(r, 10) }] : [] } };
    case "codeAction/resolve":
      return { title: randomString(r, 8), data: { ifai: "action", kind: r.pick(["rewrite", "docs", "extract", "tests", "fix", "explain", "nope"]), uri, range: range(r) } };
    case "workspace/executeCommand":
      return { command: r.pick(ctx.commands), arguments: commandArguments(r, ctx) };
    case "workspace/didChangeConfiguration":
      return { settings: { ifai: safeSettings(r) } };
    case "workspace/didChangeWatchedFiles":
      return { changes: [{ uri: `file://${ctx.tempDir}/w${r.int(0, 3)}.ts`, type: r.int(0, 4) }] };
    case "workspace/didChangeWorkspaceFolders":
      return { event: { added: [], removed: [{ uri: `file://${ctx.tempDir}`, name: "t" }] } };
    case "$/cancelRequest":
      return { id: r.bool() ? `f${ctx.caseIndex - r.int(0, 50)}-0` : r.int(0, 1000) };
    case "$/setTrace":
      return { value: r.pick(["off", "messages", "verbose", "nope"]) };
    case "ifai/chat":
      return { messages: [{ role: r.pick(["user", "system", "assistant", "nope"]), content: textPiece(r) }], maxTokens: r.int(0, 4), ...(r.bool() ? { textDocument: { uri }, selection: range(r) } : {}) };
    case "initialize":
      return { processId: null, capabilities: {} };
    default:
      return r.bool() ? {} : { last: randomNumber(r) };
  }
}

/** A suggestion as a client passes it back: a command whose first argument may name an id. */
function feedbackItem(r: Rng): unknown {
  const args = r.weighted<() => unknown>([
    [3, () => [{ id: r.pick(["", "x", "00000000-1", randomString(r, 8)]) }]],
    [1, () => [randomString(r, 10)]],
    [1, () => [randomJson(r)]],
    [1, () => randomJson(r)],
  ])();
  return { insertText: textPiece(r), command: { title: "Accept", command: r.pick(["ifai.completion.accepted", "ifai.nextEdit.accepted", "x"]), arguments: args } };
}

/** Settings a fuzz case may push: never the keys that choose hosts, paths or local-only mode. */
function safeSettings(r: Rng): unknown {
  const out: Record<string, unknown> = {};
  for (let i = r.int(0, 3); i > 0; i--) {
    const key = r.pick(SAFE_SETTING_KEYS);
    // Strings without ':' or '/' can name neither a host nor a path.
    const value = r.weighted<() => unknown>([
      [3, () => randomNumber(r)],
      [2, () => r.bool()],
      [2, () => r.pick(["on", "off", "auto", "local", "cloud", "debug", "info", "silent", "x"])],
      [1, () => randomString(r, 6).replace(/[:/\\.]/g, "_")],
      [1, () => ({ nested: { deeper: r.int(0, 9) } })],
    ])();
    out[key] = value;
  }
  return out;
}

function commandArguments(r: Rng, ctx: CaseContext): unknown {
  return r.weighted<() => unknown>([
    [3, () => []],
    [3, () => [r.pick(MODEL_IDS)]],
    [2, () => [{ id: r.pick(MODEL_IDS), sha256: r.bool() ? "00" : randomString(r, 64) }]],
    // Paths only inside the fuzzer's temp folder; URLs only to a closed loopback port.
    [1, () => [r.pick([`${ctx.tempDir}/m.gguf`, `${ctx.tempDir}/nothing`, "http://127.0.0.1:9/x.gguf"])]],
    [2, () => [{ ifai: "action", kind: r.pick(["rewrite", "docs", "explain", "fix", "tests", "nope"]), uri: r.pick(ctx.uris), range: range(r) }]],
    [2, () => [{ messages: [{ role: "user", content: textPiece(r) }], maxTokens: r.int(0, 4) }]],
    [1, () => [r.pick(["Local", "Cloud", "Auto", "nope", 3])]],
    [1, () => [{ task: r.pick(["chat", "completion", "nope"]), contextTokens: randomNumber(r), uri: r.pick(ctx.uris) }]],
    [2, () => Array.from({ length: r.int(1, 3) }, () => randomJson(r))],
    [1, () => randomJson(r)],
  ])();
}

/** Replaces one field somewhere in `value` with a random JSON value (or the whole). */
function mutate(r: Rng, value: unknown, depth = 0): unknown {
  if (depth > 0 && r.bool(0.3)) return randomJson(r);
  if (Array.isArray(value) && value.length > 0) {
    const copy = [...value];
    const i = r.int(0, copy.length - 1);
    copy[i] = mutate(r, copy[i], depth + 1);
    return copy;
  }
  if (typeof value === "object" && value !== null) {
    const keys = Object.keys(value);
    if (keys.length === 0) return randomJson(r);
    const copy: Record<string, unknown> = { ...(value as Record<string, unknown>) };
    const k = r.pick(keys);
    if (r.bool(0.15)) delete copy[k];
    else copy[k] = mutate(r, copy[k], depth + 1);
    return copy;
  }
  return randomJson(r);
}

/** The cheapest way to check that a request was heard: a tracked request that needs no model. */
function tracked(ctx: CaseContext, n: number): string {
  return `f${ctx.caseIndex}-${n}`;
}

const request = (id: unknown, method: string, params?: unknown): Record<string, unknown> =>
  params === undefined ? { jsonrpc: "2.0", id, method } : { jsonrpc: "2.0", id, method, params };
const notification = (method: string, params?: unknown): Record<string, unknown> => (params === undefined ? { jsonrpc: "2.0", method } : { jsonrpc: "2.0", method, params });

/** Malformed framing: every way a header or a body can be wrong. Nothing in it is tracked. */
function framingCase(r: Rng, ctx: CaseContext): Buffer {
  const body = JSON.stringify(request(tracked(ctx, 9), r.pick(CHEAP_REQUESTS), {}));
  const n = Buffer.byteLength(body);
  return r.weighted<() => Buffer>([
    [2, () => Buffer.from(`Content-Length: ${r.pick(["abc", "-5", "", " ", "1e3", "0x10", "12abc", "99999999999999999999", "NaN", "3.5"])}\r\n\r\n${body}`)],
    [2, () => Buffer.from(`Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n${body}`)],
    [2, () => Buffer.from(`${randomString(r, r.int(1, 40)).replace(/[:\n]/g, "")}\r\n\r\n${body}`)],
    [2, () => Buffer.from(`Content-Length: ${r.int(0, Math.max(0, n - 1))}\r\n\r\n${body}`)],
    [2, () => Buffer.from(`Content-Length: ${n + r.int(1, 5000)}\r\n\r\n${body}`)],
    [1, () => Buffer.from(`Content-Length: ${r.pick([10 ** 10, 2 ** 40, 2 ** 31])}\r\n\r\n${body}`)],
    [2, () => Buffer.from(`Content-Length: ${n}\n\n${body}`)],
    [1, () => Buffer.from(`CONTENT-LENGTH:${n}\r\nX-Junk: ${randomString(r, 10).replace(/[\r\n]/g, "")}\r\n\r\n${body}`)],
    [1, () => Buffer.from(`Content-Length: ${n}\r\nContent-Type: text/plain; charset=latin1\r\n\r\n${body}`)],
    [1, () => Buffer.from(`Content-Length: ${n}\r\nContent-Length: ${n + 1}\r\n\r\n${body}`)],
    [2, () => Buffer.from(Array.from({ length: r.int(1, 4096) }, () => r.int(0, 255)))],
    [1, () => Buffer.from(`Content-Le`)],
    [1, () => Buffer.from(`Content-Length: ${n}\r\n`)],
    [1, () => Buffer.from(`Content-Length: ${r.int(1, 50)}\r\nX: `)],
    [1, () => Buffer.from(`X-Header: ${"h".repeat(r.int(9000, 20000))}\r\n\r\n`)],
    [1, () => Buffer.from("\r\n\r\n\n\n")],
    [2, () => frame(randomString(r, r.int(0, 100)))],
    [1, () => frame(Buffer.from(Array.from({ length: r.int(1, 200) }, () => r.int(0x80, 0xff))))],
    [1, () => frame(r.pick(["[]", "null", "42", '"s"', "true", "[1,2]", `[${body}]`, "{", "}", "{}}"]))],
  ])();
}

/** Messages that are framed well but are not valid JSON-RPC. */
function envelopeCase(r: Rng, ctx: CaseContext): unknown {
  const method = r.pick(CHEAP_REQUESTS);
  return r.pick([
    { id: tracked(ctx, 0), method, params: {} },
    { jsonrpc: "1.0", id: tracked(ctx, 0), method },
    { jsonrpc: "2.0", id: r.pick([{}, [], true, null, 1.5, -0]), method },
    { jsonrpc: "2.0", id: tracked(ctx, 0), method: r.pick([42, null, {}, [], true]) },
    { jsonrpc: "2.0", id: r.pick([123456, "unknown"]), result: randomJson(r) },
    { jsonrpc: "2.0", id: r.pick([123456, "unknown"]), error: { code: -1, message: "x" } },
    { jsonrpc: "2.0", id: 5, result: 1, error: {} },
    { jsonrpc: "2.0" },
    { jsonrpc: "2.0", params: {} },
    { jsonrpc: "2.0", method, params: r.pick([1, "x", true]) },
    { jsonrpc: "2.0", id: tracked(ctx, 0), method, params: r.pick([1, "x", true]) },
  ]);
}

/** Builds case `ctx.caseIndex` from its own generator. */
export function generateCase(r: Rng, ctx: CaseContext): FuzzCase {
  const kind = r.weighted<string>([
    [10, "framing"],
    [6, "envelope"],
    [16, "wrong-types"],
    [6, "unknown-method"],
    [10, "positions"],
    [5, "duplicate-ids"],
    [12, "custom"],
    [5, "huge"],
    [4, "deep"],
    [3, "surrogates"],
    [16, "documents"],
    [3, "lifecycle"],
    [4, "cancel"],
  ]);
  const expect: FuzzCase["expect"] = [];
  const ask = (method: string, params?: unknown, n = 0): Buffer => {
    const id = tracked(ctx, n);
    expect.push({ id, count: 1 });
    return enc(request(id, method, params));
  };
  let bytes: Buffer;
  switch (kind) {
    case "framing":
      bytes = framingCase(r, ctx);
      break;
    case "envelope":
      bytes = enc(envelopeCase(r, ctx));
      break;
    case "wrong-types": {
      const method = r.pick(METHODS);
      const params = r.bool(0.8) ? mutate(r, validParams(r, method, ctx)) : randomJson(r);
      bytes = r.bool(0.6) ? ask(method, params) : enc(notification(method, params));
      break;
    }
    case "unknown-method": {
      const method = r.pick([...LSP_UNHANDLED, `ifai/${randomString(r, 6)}`, `$/${randomString(r, 4)}`, randomString(r, r.int(0, 30)), "rpc.discover", ""]);
      bytes = r.bool() ? ask(method, randomJson(r)) : enc(notification(method, randomJson(r)));
      break;
    }
    case "positions": {
      const method = r.pick(["textDocument/completion", "textDocument/inlineCompletion", "textDocument/codeAction"]);
      bytes = ask(method, validParams(r, method, ctx));
      break;
    }
    case "duplicate-ids": {
      const id = `d${ctx.caseIndex}`;
      const copies = r.int(2, 4);
      expect.push({ id, count: copies });
      bytes = Buffer.concat(Array.from({ length: copies }, () => enc(request(id, r.pick(CHEAP_REQUESTS), {}))));
      break;
    }
    case "custom": {
      if (r.bool(0.6)) {
        const command = r.pick(ctx.commands);
        bytes = ask("workspace/executeCommand", { command, arguments: commandArguments(r, ctx) });
      } else {
        const method = r.pick([...CHEAP_REQUESTS, "ifai/chat"]);
        bytes = ask(method, r.bool() ? validParams(r, method, ctx) : mutate(r, validParams(r, method, ctx)));
      }
      break;
    }
    case "huge": {
      const big = "y".repeat(r.pick([100_000, 1_000_000, 3_000_000]));
      bytes = r.weighted<() => Buffer>([
        [2, () => ask(r.pick(CHEAP_REQUESTS), { last: 1, junk: big })],
        [2, () => enc(notification("textDocument/didOpen", { textDocument: { uri: r.pick(ctx.uris), languageId: "typescript", version: 1, text: r.bool() ? big : `${big}\n`.repeat(2) } }))],
        [1, () => ask(`ifai/${big.slice(0, 100_000)}`, {})],
        [1, () => ask("workspace/executeCommand", { command: big.slice(0, 50_000), arguments: [big] })],
      ])();
      break;
    }
    case "deep": {
      const levels = r.pick([65, 1000, 20_000, 100_000]);
      const open = r.bool() ? '{"a":' : "[";
      const close = open === "[" ? "]" : "}";
      const deep = `${open.repeat(levels)}1${close.repeat(levels)}`;
      const id = tracked(ctx, 0);
      expect.push({ id, count: 1 });
      const method = r.pick([...CHEAP_REQUESTS, "workspace/executeCommand", "textDocument/completion"]);
      bytes = frame(`{"jsonrpc":"2.0","id":"${id}","method":"${method}","params":{"x":${deep}}}`);
      break;
    }
    case "surrogates": {
      // Lone surrogates as JSON escapes, and raw invalid UTF-8 inside a string.
      const text = r.pick(["\\ud800", "\\udfff", "\\ud83d\\ude00", "\\ud83d", "a\\u0000b"]).repeat(r.int(1, 50));
      const uri = r.pick(ctx.uris);
      const raw = Buffer.concat([
        Buffer.from(`{"jsonrpc":"2.0","method":"textDocument/didOpen","params":{"textDocument":{"uri":"${uri}","languageId":"typescript","version":1,"text":"${text}`),
        Buffer.from([0xff, 0xfe, 0xed, 0xa0, 0x80]),
        Buffer.from(`x"}}}`),
      ]);
      bytes = Buffer.concat([frame(raw), ask("textDocument/completion", { textDocument: { uri }, position: { line: 0, character: r.int(0, 60) } })]);
      break;
    }
    case "documents": {
      const steps = r.int(1, 6);
      const parts: Buffer[] = [];
      for (let i = 0; i < steps; i++) {
        const method = r.weighted<string>([
          [2, "textDocument/didOpen"],
          [6, "textDocument/didChange"],
          [1, "textDocument/didClose"],
          [1, "textDocument/didSave"],
        ]);
        parts.push(enc(notification(method, validParams(r, method, ctx))));
      }
      if (r.bool(0.3)) parts.push(ask("textDocument/completion", validParams(r, "textDocument/completion", ctx), 1));
      bytes = Buffer.concat(parts);
      break;
    }
    case "lifecycle":
      bytes = r.bool() ? ask("initialize", { processId: null, capabilities: {} }) : enc(notification("initialized", r.bool() ? {} : randomJson(r)));
      break;
    default: {
      // cancel: cancel a tracked request of a recent case, or one sent in this case.
      const id = tracked(ctx, 0);
      bytes = Buffer.concat([ask(r.pick(CHEAP_REQUESTS), {}), enc(notification("$/cancelRequest", { id: r.bool() ? id : r.pick([id, 99999, "x", `f${ctx.caseIndex - 1}-0`]) }))]);
    }
  }
  return { kind, bytes, expect };
}

/** Every command a server of this version advertises (the fuzzer uses the live list when it has one). */
export const KNOWN_COMMANDS: readonly string[] = [...Object.values(ModelCommands), ...Object.values(ServerCommands), ActionCommands.run, CompletionCommands.accepted, NextEditCommands.accepted];
