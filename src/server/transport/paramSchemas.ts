import { jsonDepth } from "../../util/jsonDepth.js";

export { jsonDepth };

/**
 * The shapes of the params of every LSP method the server handles, checked in one place (the
 * message gate) before any handler runs: a handler may then trust the types it is given. Checks
 * are deliberately small: the fields handlers read, with their JSON types; other fields pass.
 */

/** Returns a sentence naming the first wrong field, or undefined when the value fits. */
export type Check = (value: unknown, path: string) => string | undefined;

const MAX_UINT = 2 ** 31 - 1;

const typeName = (v: unknown): string => (v === null ? "null" : Array.isArray(v) ? "an array" : typeof v);

export const any: Check = () => undefined;
export const str: Check = (v, p) => (typeof v === "string" ? undefined : `${p} must be a string, got ${typeName(v)}`);
export const bool: Check = (v, p) => (typeof v === "boolean" ? undefined : `${p} must be true or false, got ${typeName(v)}`);
export const int: Check = (v, p) => (typeof v === "number" && Number.isInteger(v) ? undefined : `${p} must be a whole number, got ${typeName(v)}`);
export const num: Check = (v, p) => (typeof v === "number" && Number.isFinite(v) ? undefined : `${p} must be a number, got ${typeName(v)}`);
export const uint: Check = (v, p) =>
  typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= MAX_UINT ? undefined : `${p} must be a whole number from 0 to ${MAX_UINT}, got ${JSON.stringify(v)?.slice(0, 30) ?? typeName(v)}`;
export const obj = (fields: Record<string, Check> = {}, optional: Record<string, Check> = {}): Check => (v, p) => {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return `${p} must be an object, got ${typeName(v)}`;
  const o = v as Record<string, unknown>;
  for (const [k, check] of Object.entries(fields)) {
    const problem = check(o[k], `${p}.${k}`);
    if (problem) return problem;
  }
  for (const [k, check] of Object.entries(optional)) {
    if (o[k] === undefined || o[k] === null) continue;
    const problem = check(o[k], `${p}.${k}`);
    if (problem) return problem;
  }
  return undefined;
};
export const arr = (item: Check): Check => (v, p) => {
  if (!Array.isArray(v)) return `${p} must be an array, got ${typeName(v)}`;
  for (let i = 0; i < v.length; i++) {
    const problem = item(v[i], `${p}[${i}]`);
    if (problem) return problem;
  }
  return undefined;
};
export const oneOf = (...checks: Check[]): Check => (v, p) => {
  let first: string | undefined;
  for (const check of checks) {
    const problem = check(v, p);
    if (!problem) return undefined;
    first ??= problem;
  }
  return first;
};
export const nullable = (check: Check): Check => (v, p) => (v === null ? undefined : check(v, p));
/** No params at all (undefined or null), as `shutdown` and `exit` take. */
export const none: Check = (v, p) => (v === undefined || v === null ? undefined : `${p} must be absent`);
const optionalObject: Check = (v, p) => (v === undefined || v === null ? undefined : obj()(v, p));

const position = obj({ line: uint, character: uint });
const range = obj({ start: position, end: position });
const documentId = obj({ uri: str });
const positionParams = obj({ textDocument: documentId, position }, { workDoneToken: oneOf(int, str) });
const id = oneOf(int, str);
const feedbackItem = obj({}, { command: obj({ command: str }, { title: str, arguments: arr(any) }) });

/** Params shapes by method; a method absent here is passed through unchecked (its handler guards it). */
export const PARAM_SCHEMAS: Record<string, Check> = {
  initialize: obj(
    { capabilities: obj() },
    { processId: int, rootUri: str, rootPath: str, workspaceFolders: arr(obj({ uri: str, name: str })), clientInfo: obj({ name: str }), trace: str },
  ),
  initialized: optionalObject,
  shutdown: none,
  exit: none,
  "$/cancelRequest": obj({ id }),
  "$/setTrace": obj({ value: str }),
  "textDocument/didOpen": obj({ textDocument: obj({ uri: str, languageId: str, version: int, text: str }) }),
  "textDocument/didChange": obj({
    textDocument: obj({ uri: str, version: int }),
    contentChanges: arr(obj({ text: str }, { range, rangeLength: uint })),
  }),
  "textDocument/didClose": obj({ textDocument: documentId }),
  "textDocument/didSave": obj({ textDocument: documentId }, { text: str }),
  "textDocument/willSave": obj({ textDocument: documentId, reason: int }),
  "textDocument/completion": obj({ textDocument: documentId, position }, { context: obj({ triggerKind: int }, { triggerCharacter: str }), workDoneToken: id, partialResultToken: id }),
  "textDocument/inlineCompletion": obj({ textDocument: documentId, position }, { context: obj({ triggerKind: int }), workDoneToken: id }),
  "textDocument/codeAction": obj(
    { textDocument: documentId, range, context: obj({}, { diagnostics: arr(obj({ range, message: oneOf(str, obj({ value: str })) })), only: arr(str), triggerKind: int }) },
    { workDoneToken: id, partialResultToken: id },
  ),
  "codeAction/resolve": obj({ title: str }, { kind: str, command: obj({ title: str, command: str }, { arguments: arr(any) }), diagnostics: arr(obj({ range, message: str })) }),
  "workspace/executeCommand": obj({ command: str }, { arguments: arr(any), workDoneToken: id }),
  "workspace/didChangeConfiguration": optionalObject,
  "workspace/didChangeWatchedFiles": obj({ changes: arr(obj({ uri: str, type: int })) }),
  "workspace/didChangeWorkspaceFolders": obj({ event: obj({ added: arr(obj({ uri: str, name: str })), removed: arr(obj({ uri: str, name: str })) }) }),
  "textDocument/copilotInlineEdit": obj({ textDocument: obj({ uri: str, version: int }), position }, { context: obj({ triggerKind: int }), workDoneToken: id }),
  // Acceptance feedback: the item as the server sent it; only its command's arguments are read.
  "textDocument/didShowCompletion": obj({ item: feedbackItem }),
  "textDocument/didPartiallyAcceptCompletion": obj({ item: feedbackItem, acceptedLength: uint }),
  "ifai/didDismissSuggestion": obj({ item: feedbackItem }),
  "ifai/completionMetrics": (v, p) => (v === undefined || v === null ? undefined : obj({}, { last: uint })(v, p)),
  "ifai/routeLog": (v, p) => (v === undefined || v === null ? undefined : obj({}, { last: uint })(v, p)),
  "ifai/indexStatus": (v, p) => (v === undefined || v === null ? undefined : obj()(v, p)),
  "ifai/chat": obj(
    { messages: arr(obj({ role: str, content: str })) },
    { textDocument: documentId, selection: range, codebase: bool, backend: str, task: str, maxTokens: uint, chatId: str, workDoneToken: id, partialResultToken: id },
  ),
};

/** Checks params for a method; undefined when they fit or the method has no schema. */
export function checkParams(method: string, params: unknown): string | undefined {
  const check = PARAM_SCHEMAS[method];
  return check ? check(params, "params") : undefined;
}
