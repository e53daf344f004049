/**
 * Checks a message from a client before the engine acts on it. Only the user's own processes can
 * reach the socket, but a stale or foreign client must still get a closed connection rather than a
 * crashed engine that every editor window shares.
 */
import type { PromptPart } from "../inference/types.js";
import { SPECIAL_TOKEN_TEXT } from "../inference/types.js";
import type { ClientMessage } from "./wire.js";

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isId = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isFiniteNumber = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

function isPrompt(v: unknown): v is PromptPart[] {
  return (
    Array.isArray(v) &&
    v.every(
      (part) =>
        isObject(part) &&
        ((part.kind === "text" && typeof part.text === "string") || (part.kind === "special" && typeof part.token === "string" && part.token in SPECIAL_TOKEN_TEXT)),
    )
  );
}

/** A slot names a document (its uri); absent means the default slot. */
const isSlot = (v: unknown): boolean => v === undefined || (typeof v === "string" && v.length <= 8192);

function isKey(v: unknown): boolean {
  if (!isObject(v) || !isObject(v.model) || !isObject(v.chat)) return false;
  const m = v.model;
  return (
    typeof m.modelPath === "string" &&
    isFiniteNumber(m.threads) &&
    isFiniteNumber(m.contextSize) &&
    isFiniteNumber(m.batchSize) &&
    isFiniteNumber(v.chat.contextSize) &&
    isObject(v.nextEdit) &&
    isFiniteNumber(v.nextEdit.contextSize) &&
    typeof v.nextEdit.speculative === "boolean"
  );
}

function isTurns(v: unknown): boolean {
  return Array.isArray(v) && v.every((t) => isObject(t) && typeof t.content === "string" && (t.role === "system" || t.role === "user" || t.role === "assistant"));
}

export function validClientMessage(raw: unknown): ClientMessage | undefined {
  if (!isObject(raw) || typeof raw.t !== "string") return undefined;
  switch (raw.t) {
    case "hello":
      return isFiniteNumber(raw.version) && isKey(raw.key) && typeof raw.label === "string" ? (raw as ClientMessage) : undefined;
    case "configure":
      return isKey(raw.key) ? (raw as ClientMessage) : undefined;
    case "focus":
      return { t: "focus" };
    case "verdict":
      return isId(raw.id) && typeof raw.stop === "boolean" ? (raw as ClientMessage) : undefined;
    case "cancel":
    case "tokenizer":
    case "load":
    case "unload":
      return isId(raw.id) ? (raw as ClientMessage) : undefined;
    case "generate": {
      const r = raw.request;
      return isId(raw.id) && isObject(r) && isPrompt(r.prompt) && isSlot(r.slot) && (r.task === undefined || r.task === "completion" || r.task === "nextEdit") && (r.copySource === undefined || typeof r.copySource === "string") && isFiniteNumber(r.maxTokens) && isFiniteNumber(r.maxTimeMs) && isFiniteNumber(r.temperature)
        ? (raw as ClientMessage)
        : undefined;
    }
    case "prefill": {
      const r = raw.request;
      return isId(raw.id) && isObject(r) && isPrompt(r.prompt) && isSlot(r.slot) ? (raw as ClientMessage) : undefined;
    }
    case "chat": {
      const r = raw.request;
      return isId(raw.id) && isObject(r) && isTurns(r.messages) && isFiniteNumber(r.maxTokens) && isFiniteNumber(r.maxTimeMs) && isFiniteNumber(r.temperature)
        ? (raw as ClientMessage)
        : undefined;
    }
    default:
      return undefined;
  }
}
