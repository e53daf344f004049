import net from "node:net";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { EngineHost } from "../src/engine/EngineHost.js";
import { encode, LineReader, WIRE_VERSION, type ClientMessage, type EngineKey, type EngineMessage } from "../src/engine/wire.js";
import type { PromptPart } from "../src/inference/types.js";
import { silentLogger } from "../src/util/logger.js";
import { engineOptions, tempDir, tinyModel } from "./helpers/models.js";

// The real engine host on a real Unix socket, with raw wire clients standing for editor windows:
// each window answers its generation's verdicts itself, so the test sees every token as it comes.
const folder = tempDir("ifai-precedence-");
let host: EngineHost;
let key: (sequences: number) => EngineKey;

class Window {
  private readonly socket: net.Socket;
  private nextId = 1;
  private readonly handlers = new Map<number, (message: EngineMessage) => void>();
  readonly welcomed: Promise<void>;

  constructor(socketPath: string, engineKey: EngineKey) {
    this.socket = net.connect(socketPath);
    let welcome!: () => void;
    this.welcomed = new Promise((resolve) => (welcome = resolve));
    const reader = new LineReader(
      (raw) => {
        const message = raw as EngineMessage;
        if (message.t === "welcome") welcome();
        if ("id" in message) this.handlers.get(message.id)?.(message);
      },
      () => this.socket.destroy(),
    );
    this.socket.on("data", (chunk: Buffer) => reader.push(chunk));
    this.send({ t: "hello", version: WIRE_VERSION, key: engineKey, label: "test window" });
  }

  send(message: ClientMessage): void {
    this.socket.write(encode(message));
  }

  /**
   * Starts a completion; `onText` sees each token's text (and may say stop). Resolves with the
   * texts seen once the engine says done.
   */
  generate(prompt: PromptPart[], maxTokens: number, onText: (text: string) => boolean | Promise<boolean> = () => false): { id: number; done: Promise<string[]> } {
    const id = this.nextId++;
    const texts: string[] = [];
    const done = new Promise<string[]>((resolve, reject) => {
      this.handlers.set(id, (message) => {
        if (message.t === "text") {
          texts.push(message.text);
          void Promise.resolve(onText(message.text)).then((stop) => this.send({ t: "verdict", id, stop }));
        } else if (message.t === "done") resolve(texts);
        else if (message.t === "failed") reject(new Error(message.message));
      });
    });
    this.send({ t: "generate", id, request: { prompt, slot: `doc${id}`, maxTokens, maxTimeMs: 120_000, temperature: 0, stopCallback: true, progress: false } });
    return { id, done };
  }

  /** Says this window is in front; resolves once the engine has read it (a later request's answer). */
  async focus(): Promise<void> {
    this.send({ t: "focus" });
    const id = this.nextId++;
    await new Promise<void>((resolve) => {
      this.handlers.set(id, () => resolve());
      this.send({ t: "load", id });
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

const prompt = (text: string): PromptPart[] => [
  { kind: "special", token: "fim_prefix" },
  { kind: "text", text },
  { kind: "special", token: "fim_suffix" },
  { kind: "text", text: "\n}\n" },
  { kind: "special", token: "fim_middle" },
];

/**
 * Window B generates a long answer; once it has begun, window A asks for a completion, and B's
 * second token waits for A's first (so both are surely running; `holdB` false leaves that out). Returns how many tokens A got,
 * how many B got while A's completion ran (after A's first token), and B's in all.
 */
async function race(a: Window, b: Window, holdB = true, beforeA?: () => Promise<void>): Promise<{ aTokens: number; bWhileA: number; bTokens: number }> {
  let bTexts = 0;
  let aRunning = false;
  let bWhileA = 0;
  let bStarted!: () => void;
  const started = new Promise<void>((resolve) => (bStarted = resolve));
  let aStarted!: () => void;
  const aFirst = new Promise<void>((resolve) => (aStarted = resolve));
  const long = b.generate(prompt("export function mean(values) {\n  return "), 48, async () => {
    bTexts++;
    if (aRunning) bWhileA++;
    if (bTexts === 2) {
      bStarted();
      if (holdB) await aFirst;
    }
    return false;
  });
  await started;
  await beforeA?.();
  const aTexts = await a.generate(prompt("export function sum(a, b) {\n  return "), 16, () => {
    aRunning = true;
    aStarted();
    return false;
  }).done;
  aRunning = false;
  const bAll = await long.done;
  return { aTokens: aTexts.length, bWhileA, bTokens: bAll.length };
}

const windows: Window[] = [];
/** Two windows connected to the engine, closed after the test. */
async function pair(sequences = 4): Promise<[Window, Window]> {
  const socket = path.join(folder.path, "engine.sock");
  const a = new Window(socket, key(sequences));
  const b = new Window(socket, key(sequences));
  windows.push(a, b);
  await Promise.all([a.welcomed, b.welcomed]);
  return [a, b];
}

beforeAll(async () => {
  const modelPath = await tinyModel();
  key = (sequences) => ({
    model: { ...engineOptions(modelPath, { sequences, keepLoaded: true }) },
    chat: { contextSize: 512 },
    nextEdit: { contextSize: 512, speculative: false },
  });
  host = new EngineHost({ socketPath: path.join(folder.path, "engine.sock"), logger: silentLogger(), idleMs: 60_000, onIdle: () => undefined });
  expect(await host.start()).toBe("listening");
});
afterEach(() => {
  for (const w of windows.splice(0)) w.close();
});
afterAll(async () => {
  await host.close();
  folder.cleanup();
});

describe("the window in front goes first in the shared engine", () => {
  it("without a focused window, two windows' completions run side by side", async () => {
    const [a, b] = await pair();
    const { aTokens, bWhileA, bTokens } = await race(a, b);
    // Both must run long enough for the comparison to mean something.
    expect(aTokens).toBe(16);
    expect(bTokens).toBe(48);
    // Evaluated in the same batches, B's tokens keep coming while A's do.
    expect(bWhileA).toBeGreaterThanOrEqual(2);
  });

  it("the focused window's completion runs alone: the other window's pauses, then finishes", async () => {
    const [a, b] = await pair();
    await b.focus();
    await a.focus();
    const { aTokens, bWhileA, bTokens } = await race(a, b);
    expect(aTokens).toBe(16);
    // At most the token B had in flight when A began.
    expect(bWhileA).toBeLessThanOrEqual(1);
    // Paused, not cancelled: B's answer is whole.
    expect(bTokens).toBe(48);
  });

  it("a window that loses the focus while its completion runs gives way from its next step", async () => {
    const [a, b] = await pair();
    await b.focus();
    // B's completion starts first; the user switches to A before A's completion comes.
    const { aTokens, bWhileA, bTokens } = await race(a, b, true, () => a.focus());
    expect(aTokens).toBe(16);
    expect(bWhileA).toBeLessThanOrEqual(1);
    expect(bTokens).toBe(48);
  });

  it("a focused window whose request needs the sequence a paused one holds gets it, without a deadlock", async () => {
    // One sequence: A must wait for B's lock, and B must not wait for A meanwhile.
    const [a, b] = await pair(1);
    await a.focus();
    // B cannot wait for A's first token here: A waits for B's sequence.
    const { aTokens, bTokens } = await race(a, b, false);
    expect(aTokens).toBe(16);
    expect(bTokens).toBe(48);
  });

  it("a focused window that closes gives the others their turn back", async () => {
    const socket = path.join(folder.path, "engine.sock");
    const gone = new Window(socket, key(4));
    await gone.welcomed;
    await gone.focus();
    gone.close();
    // The host learns of the close on its own socket's event: wait for it, a turn at a time.
    while (host.info().clients > 0) await new Promise((resolve) => setImmediate(resolve));
    const [a, b] = await pair();
    const { bWhileA } = await race(a, b);
    expect(bWhileA).toBeGreaterThanOrEqual(2);
  });
});
