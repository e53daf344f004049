import http from "node:http";
import type { AddressInfo } from "node:net";
import type { LocalCompletionBackend } from "../../src/inference/local/LocalCompletionBackend.js";
import type { LocalModel } from "../../src/inference/local/LocalModel.js";
import type { PromptPart } from "../../src/inference/types.js";
import { createEngine } from "./models.js";

/** What the fixture does with the next request instead of answering from the model. */
export type Behaviour =
  | { kind: "status"; status: number; message?: string; retryAfterSeconds?: number }
  | { kind: "hang" }
  | { kind: "html" }
  | { kind: "reply"; text: string }
  /** Streams `text`, then holds the stream open, unfinished, until the client closes it (a cancel). */
  | { kind: "stall"; text: string }
  /** Streams `text`, holds the stream open until `until` resolves, then ends it normally. */
  | { kind: "held"; text: string; until: Promise<void> };

export interface RecordedRequest {
  path: string;
  body: any;
  authorization: string | undefined;
  /** What was done: "model", "reply", "stall", "status 429", "hang", "html", "401 bad key". */
  answer: string;
  /** The client closed the connection before the answer ended (a cancel or a time-out). */
  aborted: boolean;
  closed: Promise<void>;
}

/**
 * A real OpenAI-compatible HTTP server on 127.0.0.1 for tests: `/v1/completions` (with `suffix`)
 * and `/v1/chat/completions`, streamed as server-sent events, answered by the tiny generated
 * model through the real node-llama-cpp. It can be told to fail the next requests with an HTTP
 * status, to hang, or to answer with a web page, and it records every request it saw.
 */
export class OpenAIFixture {
  readonly requests: RecordedRequest[] = [];
  private readonly queue: Behaviour[] = [];
  private readonly rules: Array<{ match: (body: any, path: string) => boolean; behaviours: Behaviour[] }> = [];
  private waiters: Array<{ n: number; resolve: () => void }> = [];
  private server: http.Server | undefined;
  private engine: { model: LocalModel; backend: LocalCompletionBackend } | undefined;
  /** When set, requests must carry `Authorization: Bearer <key>`; others get a 401 that echoes the key sent. */
  requiredKey: string | undefined;

  constructor(private readonly modelPath: string) {}

  async start(): Promise<string> {
    this.engine = createEngine(this.modelPath);
    await this.engine.model.load();
    this.server = http.createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    return this.baseUrl;
  }

  get baseUrl(): string {
    const { port } = this.server!.address() as AddressInfo;
    return `http://127.0.0.1:${port}/v1`;
  }

  /**
   * Requests that `match` are kept apart from the queue of `failNext`: they get `behaviours` in
   * order, then answers from the model. For requests whose number the test does not control
   * (completions while typing), so that they never take what was queued for others.
   */
  when(match: (body: any, path: string) => boolean, ...behaviours: Behaviour[]): void {
    this.rules.push({ match, behaviours });
  }

  /** The next `times` requests get this behaviour (after any queued before). */
  failNext(behaviour: Behaviour, times = 1): void {
    for (let i = 0; i < times; i++) this.queue.push(behaviour);
  }

  clear(): void {
    this.queue.length = 0;
    this.rules.length = 0;
  }

  /** Resolves once `n` requests in total have arrived. */
  waitForRequests(n: number): Promise<void> {
    if (this.requests.length >= n) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ n, resolve }));
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    await this.engine?.model.dispose();
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    let body: any = {};
    try {
      body = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}");
    } catch {
      body = {};
    }
    let markClosed!: () => void;
    const record: RecordedRequest = {
      path: req.url ?? "",
      body,
      authorization: req.headers.authorization,
      answer: "",
      aborted: false,
      closed: new Promise<void>((resolve) => (markClosed = resolve)),
    };
    res.on("close", () => {
      if (!res.writableFinished) record.aborted = true;
      markClosed();
    });
    this.requests.push(record);
    this.waiters = this.waiters.filter((w) => (this.requests.length >= w.n ? (w.resolve(), false) : true));

    if (req.method === "GET" && record.path === "/v1/models") {
      record.answer = "models";
      return void json(res, 200, { object: "list", data: [{ id: "tiny", object: "model" }] });
    }
    if (this.requiredKey && req.headers.authorization !== `Bearer ${this.requiredKey}`) {
      record.answer = "401 bad key";
      const given = (req.headers.authorization ?? "").replace(/^Bearer /, "");
      // Real providers echo (part of) the rejected key; the client must not pass it on to logs.
      return void json(res, 401, { error: { message: `Incorrect API key provided: ${given}.`, type: "invalid_request_error", code: "invalid_api_key" } });
    }
    const rule = this.rules.find((r) => r.match(body, record.path));
    const behaviour = rule ? rule.behaviours.shift() : this.queue.shift();
    if (behaviour?.kind === "status") {
      record.answer = `status ${behaviour.status}`;
      const headers: Record<string, string> = behaviour.retryAfterSeconds !== undefined ? { "retry-after": String(behaviour.retryAfterSeconds) } : {};
      return void json(res, behaviour.status, { error: { message: behaviour.message ?? `fixture answers ${behaviour.status}`, type: "fixture" } }, headers);
    }
    if (behaviour?.kind === "hang") {
      record.answer = "hang";
      return; // Never answers; the client's time-out or cancel closes the connection.
    }
    if (behaviour?.kind === "html") {
      record.answer = "html";
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      return void res.end("<!doctype html><html><body><h1>Welcome</h1></body></html>");
    }
    const chat = record.path === "/v1/chat/completions";
    if (!chat && record.path !== "/v1/completions") {
      record.answer = "404";
      return void json(res, 404, { error: { message: `no route ${record.path}` } });
    }
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
    const send = (piece: string, finish: string | null): void => {
      const choice = chat ? { index: 0, delta: piece ? { content: piece } : {}, finish_reason: finish } : { index: 0, text: piece, finish_reason: finish };
      res.write(`data: ${JSON.stringify({ id: "fx", object: chat ? "chat.completion.chunk" : "text_completion", model: body.model, choices: [choice] })}\n\n`);
    };
    if (behaviour?.kind === "reply" || behaviour?.kind === "stall" || behaviour?.kind === "held") {
      record.answer = behaviour.kind;
      for (const piece of behaviour.text.match(/[\s\S]{1,4}/g) ?? []) send(piece, null);
      if (behaviour.kind === "stall") return;
      if (behaviour.kind === "held") await behaviour.until;
    } else {
      record.answer = "model";
      try {
        await this.generate(body, chat, (piece) => send(piece, null), res);
      } catch (error) {
        record.answer = `model failed: ${error instanceof Error ? error.message : String(error)}`;
        res.write(`data: ${JSON.stringify({ error: { message: record.answer } })}\n\n`);
      }
    }
    if (res.destroyed) return;
    send("", "stop");
    res.end("data: [DONE]\n\n");
  }

  private async generate(body: any, chat: boolean, onPiece: (piece: string) => void, res: http.ServerResponse): Promise<void> {
    const prompt: PromptPart[] = chat
      ? [
          ...(body.messages as Array<{ role: string; content: string }>).flatMap((m): PromptPart[] => [
            { kind: "special", token: "im_start" },
            { kind: "text", text: `${m.role}\n${m.content}` },
            { kind: "special", token: "im_end" },
            { kind: "text", text: "\n" },
          ]),
          { kind: "special", token: "im_start" },
          { kind: "text", text: "assistant\n" },
        ]
      : [
          { kind: "special", token: "fim_prefix" },
          { kind: "text", text: String(body.prompt ?? "") },
          { kind: "special", token: "fim_suffix" },
          { kind: "text", text: String(body.suffix ?? "") },
          { kind: "special", token: "fim_middle" },
        ];
    const controller = new AbortController();
    res.on("close", () => controller.abort());
    let sent = 0;
    await this.engine!.backend.generate(
      {
        prompt,
        maxTokens: Math.min(Number(body.max_tokens) || 16, 32),
        maxTimeMs: 5000,
        temperature: 0,
        shouldStop: (soFar) => {
          if (soFar.length > sent && !soFar.endsWith("\ufffd")) {
            onPiece(soFar.slice(sent));
            sent = soFar.length;
          }
          return false;
        },
      },
      controller.signal,
    );
  }
}

function json(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
}
