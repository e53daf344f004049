/**
 * The messages between a language server and the shared engine process, one JSON object per line
 * over a per-user Unix socket (a named pipe on Windows). Only plain data crosses: prompts as parts,
 * results, status. A callback of the in-process interfaces (`shouldStop`, `onText`) becomes a
 * message: the engine sends the text so far and, for `shouldStop`, waits for the verdict before the
 * next token, so a shared engine stops exactly where the in-process one would.
 */
import type { LocalModelOptions } from "../inference/local/LocalModel.js";
import type { LocalNextEditOptions } from "../inference/local/LocalNextEditBackend.js";
import type { ChatRequest, ChatResult, GenerateResult, ModelStatus, PrefillResult, PromptPart } from "../inference/types.js";

/** Bumped when a message changes shape; a server and an engine of different versions never talk. */
export const WIRE_VERSION = 2;

/** The model options that travel (functions such as `freeMemory` stay behind). */
export type EngineModelOptions = Omit<LocalModelOptions, "freeMemory">;

export interface ChatContextOptions {
  contextSize: number;
  threads?: number;
}

/** What identifies an engine inside the process: windows with the same options share one model. */
export interface EngineKey {
  model: EngineModelOptions;
  chat: ChatContextOptions;
  nextEdit: LocalNextEditOptions;
}

/** `task` "nextEdit" runs on the next-edit context (with `copySource` for prompt lookup). */
export type GenerateWire = { task?: "completion" | "nextEdit"; copySource?: string; prompt: PromptPart[]; slot?: string; maxTokens: number; maxTimeMs: number; temperature: number; stopCallback: boolean; progress: boolean };
export type PrefillWire = { prompt: PromptPart[]; slot?: string; progress: boolean };
export type ChatWire = Omit<ChatRequest, "onText"> & { stream: boolean };

export type ClientMessage =
  | { t: "hello"; version: number; key: EngineKey; label: string }
  | { t: "configure"; key: EngineKey }
  | { t: "generate"; id: number; request: GenerateWire }
  | { t: "prefill"; id: number; request: PrefillWire }
  | { t: "verdict"; id: number; stop: boolean }
  /** The user brought this window to the front: its completions go before other windows'. */
  | { t: "focus" }
  | { t: "chat"; id: number; request: ChatWire }
  | { t: "tokenizer"; id: number }
  | { t: "load"; id: number }
  | { t: "unload"; id: number }
  | { t: "cancel"; id: number };

/** How an error crosses: the kind decides which error class the server side throws again. */
export type ErrorKind = "unavailable" | "unloaded" | "other";

export interface EngineInfo {
  pid: number;
  /** Servers connected to this engine process. */
  clients: number;
  /** Models held by the process (windows configured differently hold different ones). */
  models: number;
}

export type EngineMessage =
  | { t: "welcome"; version: number; engine: EngineInfo; status: ModelStatus }
  | { t: "refused"; reason: string }
  | { t: "status"; status: ModelStatus; engine: EngineInfo }
  | { t: "text"; id: number; text: string; verdict: boolean }
  | { t: "progress"; id: number; evaluated: number; total: number }
  /** `warmSlots`: after a generate or prefill, this server's slots whose KV state the engine holds, most recent first. */
  | { t: "done"; id: number; result?: GenerateResult | ChatResult | PrefillResult | ModelStatus | null; warmSlots?: string[] }
  | { t: "failed"; id: number; kind: ErrorKind; message: string };

/** The longest line either side accepts: prompts are bounded by the context, about 1 MB at most. */
export const MAX_LINE_BYTES = 16 * 1024 * 1024;

/**
 * Splits a byte stream into lines and parses each as JSON. A line over the bound or a line that is
 * not JSON ends the connection (the peer is not an ifai-lsp of this version).
 */
export class LineReader {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(
    private readonly onMessage: (message: unknown) => void,
    private readonly onBroken: (reason: string) => void,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (let nl = chunk.indexOf(10, start); nl !== -1; nl = chunk.indexOf(10, start)) {
      const piece = chunk.subarray(start, nl);
      start = nl + 1;
      const line = this.pending.length ? Buffer.concat([...this.pending, piece]) : piece;
      this.pending = [];
      this.pendingBytes = 0;
      let parsed: unknown;
      try {
        parsed = JSON.parse(line.toString("utf8"));
      } catch {
        this.onBroken("a message that is not JSON");
        return;
      }
      this.onMessage(parsed);
    }
    if (start < chunk.length) {
      this.pending.push(chunk.subarray(start));
      this.pendingBytes += chunk.length - start;
      if (this.pendingBytes > MAX_LINE_BYTES) {
        this.pending = [];
        this.pendingBytes = 0;
        this.onBroken(`a message over ${MAX_LINE_BYTES} bytes`);
      }
    }
  }
}

export function encode(message: ClientMessage | EngineMessage): string {
  return `${JSON.stringify(message)}\n`;
}
