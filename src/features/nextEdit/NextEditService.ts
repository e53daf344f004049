import { grammarFor, syntaxErrors } from "../actions/syntax.js";
import type { CompletionBackend, GenerateResult } from "../../inference/types.js";
import type { Logger } from "../../util/logger.js";
import type { EditHistory } from "./EditHistory.js";
import { keepUseful, type DropReason } from "./filters.js";
import type { NextEditFormatName } from "./formats/types.js";
import { applyEdits, minimalEdits, type TextEdit } from "./minimalEdits.js";
import { instructMessages, parseChatAnswer } from "./formats/instruct.js";
import { chooseFormat, FORMATS, promptInput } from "./prompt.js";
import type { RegionOptions } from "./regions.js";

export interface NextEditSettings {
  enabled: boolean;
  format: string;
  maxTokens: number;
  maxTimeMs: number;
  historyEdits: number;
  region: RegionOptions;
}

export interface NextEditRequest {
  uri: string;
  /** The path the model sees. */
  path: string;
  languageId: string;
  /** The document version the client asked about and its text at that version. */
  version: number;
  text: string;
  /** Cursor offset (UTF-16) in `text`. */
  offset: number;
  /** The document's version now (undefined once closed): a suggestion for an older one is never given. */
  currentVersion: () => number | undefined;
}

/** Why no edit came back, when none did. */
export type NoEditReason = DropReason | "disabled" | "stale" | "superseded" | "typing" | "cancelled" | "cut-off";

export interface NextEditOutcome {
  /** Offsets into the request's text, sorted, non-overlapping. */
  edits: TextEdit[];
  /** Set when `edits` is empty. */
  reason?: NoEditReason;
  format?: NextEditFormatName;
  metrics: NextEditMetrics;
}

export interface NextEditMetrics {
  totalMs: number;
  promptTokens: number;
  reusedTokens: number;
  evaluatedTokens: number;
  generatedTokens: number;
  stopReason?: string;
  predictions?: { validated: number; refuted: number };
  backend?: string;
}

/** Answers longer than this many times the region (plus a margin) are not a rewrite of it. */
const MAX_GROWTH = 4;

/**
 * Next-edit suggestions, without LSP: the newest request wins (an older one still running is
 * aborted and answered empty), an edit to any document cancels the one in flight (`cancel`), and
 * a suggestion is returned only while the document is still at the version it was computed for.
 * The model's rewrite of the editable region becomes minimal edits; whitespace-only edits, a
 * suggestion that undoes the user's last edit, and one that adds syntax errors are dropped.
 */
export class NextEditService {
  private inFlight: AbortController | undefined;

  constructor(
    private readonly backend: CompletionBackend,
    private readonly history: EditHistory,
    private settings: NextEditSettings,
    private readonly logger: Logger,
  ) {}

  updateSettings(settings: NextEditSettings): void {
    this.settings = settings;
  }

  /** Typing (or any edit) makes the running suggestion moot: it stops at its next step. */
  cancel(): void {
    this.inFlight?.abort("typing");
    this.inFlight = undefined;
  }

  async suggest(request: NextEditRequest, signal: AbortSignal): Promise<NextEditOutcome> {
    const started = performance.now();
    let historyEdits = 0;
    const empty = (reason: NoEditReason, result?: GenerateResult, format?: NextEditFormatName): NextEditOutcome => {
      const outcome: NextEditOutcome = { edits: [], reason, ...(format ? { format } : {}), metrics: metricsOf(result, started) };
      this.logger.debug({ uri: request.uri, version: request.version, reason, format, history: historyEdits, ...outcome.metrics }, "next edit: none");
      return outcome;
    };
    const settings = this.settings;
    if (!settings.enabled) return empty("disabled");
    if (request.currentVersion() !== request.version) return empty("stale");

    this.inFlight?.abort("superseded");
    const mine = new AbortController();
    this.inFlight = mine;
    const running = AbortSignal.any([signal, mine.signal]);
    try {
      const format = chooseFormat(settings.format, this.backend.status().modelPath);
      const input = promptInput(request, request.offset, this.history, settings.historyEdits, settings.region);
      historyEdits = input.history.length;
      const prompt = FORMATS[format](input);
      const region = request.text.slice(input.region.start, input.region.end);
      const result = await this.backend.generate(
        {
          prompt: prompt.parts,
          maxTokens: settings.maxTokens,
          maxTimeMs: settings.maxTimeMs,
          temperature: 0,
          shouldStop: prompt.shouldStop,
          copySource: region,
          // A cloud provider (where the router allows one) gets the generic format as chat messages.
          chat: instructMessages(input),
          routing: { task: "nextEdit", uri: request.uri, sources: [...new Set(input.history.map((r) => r.uri).filter((u) => u !== request.uri))] },
        },
        running,
      );
      if (result.stopReason === "aborted" || running.aborted) return empty(this.abortReason(signal, mine.signal), result, format);
      if (request.currentVersion() !== request.version) return empty("stale", result, format);
      const finished = result.stopReason === "end-of-generation" || result.stopReason === "stop-token" || result.stopReason === "should-stop";
      const parsed = result.backend?.startsWith("cloud:") ? parseChatAnswer(result.text) : prompt.parse(result.text, finished);
      // A region at the end of a file ends with its final line break, which an answer's code block
      // naturally leaves out; read literally, that would rewrite everything from the first change
      // to the end of the file (dropping the break alone is whitespace, never suggested anyway).
      const rewrite = parsed !== undefined && region.endsWith("\n") && !parsed.endsWith("\n") ? `${parsed}\n` : parsed;
      if (rewrite === undefined) return empty(finished ? "unparsable" : "cut-off", result, format);
      if (rewrite.length > region.length * MAX_GROWTH + 2000) return empty("too-large", result, format);
      const useful = keepUseful(region, input.originalRegion, minimalEdits(region, rewrite));
      if (useful.dropped) return empty(useful.dropped, result, format);
      const edits = useful.edits.map((e) => ({ start: e.start + input.region.start, end: e.end + input.region.start, text: e.text }));
      if (await this.addsSyntaxErrors(request, edits)) return empty("syntax-error", result, format);
      if (request.currentVersion() !== request.version) return empty("stale", result, format);
      if (running.aborted) return empty(this.abortReason(signal, mine.signal), result, format);
      const outcome: NextEditOutcome = { edits, format, metrics: metricsOf(result, started) };
      this.logger.debug({ uri: request.uri, version: request.version, format, edits: edits.length, history: historyEdits, ...outcome.metrics }, "next edit suggested");
      return outcome;
    } finally {
      if (this.inFlight === mine) this.inFlight = undefined;
    }
  }

  /** Who stopped a request: the client ($/cancelRequest), a newer request, or typing. */
  private abortReason(client: AbortSignal, mine: AbortSignal): NoEditReason {
    if (client.aborted) return "cancelled";
    return mine.reason === "typing" ? "typing" : "superseded";
  }

  /** Whether the edits add ERROR or MISSING nodes to the document's parse (no grammar: no check). */
  private async addsSyntaxErrors(request: NextEditRequest, edits: readonly TextEdit[]): Promise<boolean> {
    const grammar = grammarFor(request.languageId, request.path);
    if (!grammar) return false;
    const before = await syntaxErrors(request.text, grammar);
    const after = await syntaxErrors(applyEdits(request.text, edits), grammar);
    return before !== undefined && after !== undefined && after > before;
  }
}

function metricsOf(result: GenerateResult | undefined, started: number): NextEditMetrics {
  return {
    totalMs: performance.now() - started,
    promptTokens: result?.promptTokens ?? 0,
    reusedTokens: result?.reusedTokens ?? 0,
    evaluatedTokens: result?.evaluatedTokens ?? 0,
    generatedTokens: result?.generatedTokens ?? 0,
    ...(result?.stopReason ? { stopReason: result.stopReason } : {}),
    ...(result?.predictions ? { predictions: result.predictions } : {}),
    ...(result?.backend ? { backend: result.backend } : {}),
  };
}
