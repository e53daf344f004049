import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { expandHome } from "../config/paths.js";
import type { Logger } from "../util/logger.js";
import { selectContext } from "./context.js";
import type { Embedder } from "./embedding/types.js";
import { errorMessage, FolderIndex, type EmbedderDimensionError } from "./FolderIndex.js";
import { ForegroundActivity } from "./priority.js";
import { indexLocation } from "./store/location.js";
import { DEFAULT_FUSION } from "./store/fusion.js";
import { sqlString } from "./store/IndexStore.js";
import type { LeaseHolder } from "./store/WriterLease.js";
import type { BuildContextParams, ContextResult, IndexState, IndexStatus, SearchHit, SearchMode, SearchOptions } from "./types.js";
import { FolderWatcher } from "./watcher.js";
import { ChunkPool } from "./worker/ChunkPool.js";

export interface IndexSettings {
  enabled: boolean;
  /** LanceDB URI; empty: the user's cache folder. */
  uri: string;
  readOnly: boolean;
  maxFileBytes: number;
  maxFiles: number;
  /** Watch the folders (else rely on workspace/didChangeWatchedFiles). */
  watch: boolean;
  /** Embedding model folder; empty: full-text search only. */
  embeddingModelDir: string;
  /** Catalogue id of the embedding model; empty: recognised from the folder. */
  embeddingModel: string;
  /** Hybrid search: weight of the full-text ranking in the fusion. */
  lexicalWeight: number;
  /** Hybrid search: weight of the vector ranking (scaled down when it disagrees with full text). */
  vectorWeight: number;
  /** Hybrid search: candidates from each side (0: max(50, 5 × k)). */
  searchCandidates: number;
}

export const DEFAULT_INDEX_SETTINGS: IndexSettings = Object.freeze({
  enabled: true,
  uri: "",
  readOnly: false,
  maxFileBytes: 1_000_000,
  maxFiles: 200_000,
  watch: true,
  embeddingModelDir: "",
  embeddingModel: "",
  lexicalWeight: DEFAULT_FUSION.lexical,
  vectorWeight: DEFAULT_FUSION.vector,
  searchCandidates: 0,
});

export interface WorkspaceFolderRef {
  uri: string;
  name?: string;
}

export interface IndexServiceOptions {
  /** A plain logger; the service binds `component: "index"` itself and adds `folder` and `part`. */
  logger: Logger;
  /** Foreground work the index yields to (completions). */
  activity?: ForegroundActivity;
  /** Chunking worker threads (default 1: a core stays free for inference). */
  workers?: number;
  env?: NodeJS.ProcessEnv;
  /** Makes the embedder (injectable for tests); default: the ONNX embedder. */
  createEmbedder?: (options: { modelDir: string; catalogId?: string; logger: Logger }) => Promise<Embedder>;
  /** A message the user should see (window/showMessage). */
  onProblem?: (message: string) => void;
  /** What this process is, as other processes waiting for the index's writer lease see it. */
  writerLabel?: string;
  /** A folder's index is being written by another process, and this one waits for it. */
  onWaitForWriter?: (root: string, holder: LeaseHolder | undefined) => void;
  /** False: folders open their index without a pass (`ifai-lsp index`'s compaction process). Default true. */
  passOnStart?: boolean;
}

export type IndexEvent = { uri: string; type: "created" | "changed" | "deleted" };

interface FolderEntry {
  uri: string;
  root: string;
  index: FolderIndex;
  watcher?: FolderWatcher;
  started: Promise<void>;
}

/** How long an unsaved buffer must stay unchanged before it is indexed. */
const BUFFER_DEBOUNCE_MS = 1000;

/**
 * The codebase index as the rest of the server sees it: one FolderIndex per workspace folder,
 * kept current by a watcher, LSP file events and unsaved buffers; search and the context builder
 * on top. Plain types in, plain types out; cancellation by AbortSignal.
 */
export class IndexService {
  private settings: IndexSettings = { ...DEFAULT_INDEX_SETTINGS };
  private folderRefs: WorkspaceFolderRef[] = [];
  private folders: FolderEntry[] = [];
  private embedder: Embedder | undefined;
  private pool: ChunkPool | undefined;
  readonly activity: ForegroundActivity;
  private readonly listeners = new Set<() => void>();
  private readonly bufferTimers = new Map<string, NodeJS.Timeout>();
  private restarting: Promise<void> = Promise.resolve();
  private generation = 0;
  private message: string | undefined;
  private disposed = false;
  /** The index's own logger: the one place that binds `component: "index"` (callers pass their plain logger). */
  private readonly logger: Logger;

  constructor(private readonly options: IndexServiceOptions) {
    this.activity = options.activity ?? new ForegroundActivity();
    this.logger = options.logger.child({ component: "index" });
  }

  /** Applies settings; restarts the index when a setting it depends on changed. */
  async configure(settings: IndexSettings): Promise<void> {
    const previous = this.settings;
    this.settings = { ...settings };
    const restartKeys: Array<keyof IndexSettings> = ["enabled", "uri", "readOnly", "maxFileBytes", "maxFiles", "watch", "embeddingModelDir", "embeddingModel"];
    if (restartKeys.some((k) => previous[k] !== settings[k]) || this.folders.length === 0) await this.restart();
  }

  /** Sets the workspace folders (initialize, workspace/didChangeWorkspaceFolders). */
  async setFolders(folders: readonly WorkspaceFolderRef[]): Promise<void> {
    const before = this.folderRefs.map((f) => f.uri).join("\n");
    this.folderRefs = folders.filter((f) => f.uri.startsWith("file:"));
    if (this.folderRefs.map((f) => f.uri).join("\n") !== before) await this.restart();
  }

  /** Starts over: closes every folder index and opens the configured ones. */
  restart(): Promise<void> {
    const generation = ++this.generation;
    this.restarting = this.restarting.then(() => this.doRestart(generation)).catch((error: unknown) => {
      this.logger.error({ err: error }, "index restart failed");
    });
    return this.restarting;
  }

  private async doRestart(generation: number): Promise<void> {
    await this.closeFolders();
    if (generation !== this.generation || this.disposed) return;
    this.message = undefined;
    if (!this.settings.enabled || this.folderRefs.length === 0) {
      this.emit();
      return;
    }
    await this.ensureEmbedder();
    this.pool ??= new ChunkPool({
      size: this.options.workers ?? 1,
      flag: this.activity.flag,
      // The caller's logger names the component ("index"); pino would repeat a key bound twice, so parts use their own key.
      logger: this.logger.child({ part: "chunker" }),
    });
    const count = this.folderRefs.length;
    const roots = this.folderRefs.flatMap((ref) => {
      try {
        return [fileURLToPath(ref.uri)];
      } catch {
        return [];
      }
    });
    for (const ref of this.folderRefs) {
      let root: string;
      try {
        root = fileURLToPath(ref.uri);
      } catch {
        continue;
      }
      const folderLogger = this.logger.child({ folder: root });
      const index = new FolderIndex({
        uri: ref.uri,
        root,
        location: indexLocation(root, { uri: this.settings.uri ? expandHome(this.settings.uri) : "", folderCount: count, folders: roots, ...(this.options.env ? { env: this.options.env } : {}) }),
        readOnly: this.settings.readOnly,
        ...(this.options.passOnStart === false ? { passOnStart: false } : {}),
        maxFileBytes: this.settings.maxFileBytes,
        maxFiles: this.settings.maxFiles,
        logger: folderLogger,
        pool: this.pool,
        activity: this.activity,
        ...(this.embedder ? { embedder: this.embedder } : {}),
        onChange: () => this.emit(),
        onProblem: (message) => this.options.onProblem?.(message),
        onEmbedderMismatch: (error) => this.embedderChanged(error),
        ...(this.options.writerLabel ? { writerLabel: this.options.writerLabel } : {}),
        onWaitForWriter: (holder) => this.options.onWaitForWriter?.(root, holder),
      });
      const entry: FolderEntry = { uri: ref.uri, root, index, started: Promise.resolve() };
      if (this.settings.watch && !this.settings.readOnly) {
        try {
          entry.watcher = new FolderWatcher(index.rules, (rels) => index.enqueue(rels), folderLogger, {
            onLimit: (unwatched) =>
              this.options.onProblem?.(
                `ifai: the system's limit on watched folders is reached (fs.inotify.max_user_watches on Linux); ${unwatched} folders of ${root} are not watched, so changes there reach the index only through the editor's file events. Raise the limit (sysctl fs.inotify.max_user_watches=524288) or exclude folders in .ifaiignore.`,
              ),
          });
        } catch (error) {
          folderLogger.warn({ err: error }, "cannot watch the folder; relying on editor file events");
        }
      }
      this.folders.push(entry);
    }
    this.emit();
    // Folders are indexed one after the other, each in the background.
    let chain = Promise.resolve();
    for (const entry of this.folders) {
      chain = chain.then(async () => {
        if (generation !== this.generation) return;
        // The pass starts once the folder is watched, so a change made while it runs is seen
        // (the scan may already have passed that file) and indexed after it.
        await entry.watcher?.ready;
        await entry.index.start().then(
          () => undefined,
          (error: unknown) => {
            entry.index.options.logger.error({ err: error }, "index could not start");
            this.options.onProblem?.(`ifai: the code index of ${entry.root} is unavailable: ${errorMessage(error)}`);
          },
        );
      });
      entry.started = chain;
    }
  }

  private async ensureEmbedder(): Promise<void> {
    const dir = this.settings.embeddingModelDir.trim();
    if (!dir) {
      await this.disposeEmbedder();
      return;
    }
    if (this.embedder) return;
    try {
      const create = this.options.createEmbedder ?? (await import("./embedding/createEmbedder.js")).createEmbedder;
      this.embedder = await create({
        modelDir: path.resolve(expandHome(dir)),
        ...(this.settings.embeddingModel ? { catalogId: this.settings.embeddingModel } : {}),
        logger: this.logger.child({ part: "embedder" }),
      });
      this.logger.info({ model: this.embedder.modelId, dimensions: this.embedder.dimensions }, "embedding model loaded; search is hybrid");
    } catch (error) {
      this.embedder = undefined;
      this.message = `embedding model unavailable (${errorMessage(error)}); full-text search only`;
      this.logger.warn({ err: error, dir }, "embedding model unavailable; the index uses full-text search only");
      this.options.onProblem?.(`ifai: the embedding model in ${dir} cannot be used (${errorMessage(error)}); the code index uses full-text search only.`);
    }
  }

  private embedderChanged(error: EmbedderDimensionError): void {
    this.logger.warn({ err: error }, "embedder output size changed; re-embedding into a new table");
    this.options.onProblem?.(`ifai: the embedding model's output size changed (${error.expected} → ${error.actual}); the code index is rebuilt for it.`);
    void this.disposeEmbedder().then(() => this.restart());
  }

  private async disposeEmbedder(): Promise<void> {
    const embedder = this.embedder;
    this.embedder = undefined;
    await embedder?.dispose().catch(() => undefined);
  }

  private async closeFolders(): Promise<void> {
    const folders = this.folders;
    this.folders = [];
    await Promise.all(
      folders.map(async (f) => {
        await f.watcher?.close().catch(() => undefined);
        await f.index.dispose();
      }),
    );
  }

  get mode(): SearchMode {
    return this.embedder ? "hybrid" : "lexical";
  }

  status(): IndexStatus {
    const folders = this.folders.map((f) => f.index.status());
    let state: IndexState;
    if (!this.settings.enabled) state = "disabled";
    else if (folders.length === 0) state = this.folderRefs.length === 0 ? "ready" : "starting";
    else if (folders.some((f) => f.state === "scanning")) state = "scanning";
    else if (folders.some((f) => f.state === "indexing")) state = "indexing";
    else if (folders.some((f) => f.state === "starting")) state = "starting";
    else if (folders.every((f) => f.state === "error")) state = "error";
    else state = "ready";
    return {
      state,
      mode: this.mode,
      ...(this.embedder ? { model: this.embedder.modelId } : {}),
      folders,
      ...(this.message ? { message: this.message } : {}),
    };
  }

  /** Re-reads every folder's counts from its tables (other processes write them too), then gives the status. */
  async freshStatus(): Promise<IndexStatus> {
    await Promise.all(this.folders.map((f) => f.index.refreshCounts()));
    return this.status();
  }

  /** Listens for status changes (state, progress); returns the unsubscribe function. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(): void {
    for (const l of this.listeners) {
      try {
        l();
      } catch (error) {
        this.logger.warn({ err: error }, "index status listener failed");
      }
    }
  }

  /** Resolves once every folder has finished its first pass and queued changes are written. */
  async whenIdle(): Promise<void> {
    await this.restarting;
    for (const f of this.folders) {
      await f.started;
      await f.index.settled();
    }
  }

  /** Resolves when every watcher has finished its initial scan (tests). */
  async watchersReady(): Promise<void> {
    await this.restarting;
    await Promise.all(this.folders.map((f) => f.watcher?.ready));
  }

  /** File events from the editor (workspace/didChangeWatchedFiles) or any other source. */
  fileEvents(events: readonly IndexEvent[]): void {
    const byFolder = new Map<FolderEntry, string[]>();
    for (const event of events) {
      const located = this.locate(event.uri);
      if (!located) continue;
      const list = byFolder.get(located.folder) ?? [];
      list.push(located.rel);
      byFolder.set(located.folder, list);
    }
    for (const [folder, rels] of byFolder) folder.index.enqueue(rels);
  }

  /** An open buffer changed: its unsaved text is indexed once it has been still for a moment. */
  bufferChanged(uri: string, text: string): void {
    const located = this.locate(uri);
    if (!located) return;
    const timer = this.bufferTimers.get(uri);
    if (timer) clearTimeout(timer);
    this.bufferTimers.set(
      uri,
      setTimeout(() => {
        this.bufferTimers.delete(uri);
        void located.folder.index.indexBuffer(located.rel, text);
      }, BUFFER_DEBOUNCE_MS),
    );
  }

  /** A buffer closed: the file on disk is what counts again. */
  bufferClosed(uri: string): void {
    const timer = this.bufferTimers.get(uri);
    if (timer) clearTimeout(timer);
    this.bufferTimers.delete(uri);
    const located = this.locate(uri);
    if (located) located.folder.index.enqueue([located.rel]);
  }

  private locate(uri: string): { folder: FolderEntry; rel: string } | undefined {
    let file: string;
    try {
      file = fileURLToPath(uri);
    } catch {
      return undefined;
    }
    let best: FolderEntry | undefined;
    for (const f of this.folders) {
      const rel = path.relative(f.root, file);
      if (rel.startsWith("..") || path.isAbsolute(rel)) continue;
      if (!best || f.root.length > best.root.length) best = f;
    }
    if (!best) return undefined;
    const rel = path.relative(best.root, file).split(path.sep).join("/");
    return rel ? { folder: best, rel } : undefined;
  }

  /** Search across folders: full-text, or hybrid when an embedder is configured. */
  async search(query: string, options: SearchOptions = {}): Promise<SearchHit[]> {
    const k = options.k ?? 10;
    let vector: Float32Array | undefined;
    // A vector weight of 0 makes the ranking full text's alone: the query is not embedded.
    const vectorWeight = options.fusion?.vector ?? this.settings.vectorWeight;
    if (this.embedder && query.trim() && vectorWeight > 0) {
      try {
        [vector] = await this.embedder.embed([query], "query", options.signal);
      } catch (error) {
        if (options.signal?.aborted) throw error;
        this.logger.warn({ err: error }, "query embedding failed; full-text search only");
      }
    }
    const hits: SearchHit[] = [];
    for (const folder of this.folders) {
      if (!folder.index.ready) continue;
      const filters: string[] = [];
      const excluded = (options.excludeUris ?? []).map((u) => this.locate(u)).filter((l) => l && l.folder === folder).map((l) => l!.rel);
      if (excluded.length > 0) filters.push(`path NOT IN (${excluded.map(sqlString).join(", ")})`);
      if (options.paths && options.paths.length > 0) {
        filters.push(`(${options.paths.map((p) => (p.endsWith("/") ? `starts_with(path, ${sqlString(p)})` : `path = ${sqlString(p)}`)).join(" OR ")})`);
      }
      const { candidates, ...override } = options.fusion ?? {};
      const fusion = { ...DEFAULT_FUSION, lexical: this.settings.lexicalWeight, vector: this.settings.vectorWeight, ...override };
      const rows = await folder.index.search(query, {
        k,
        candidates: candidates ?? this.settings.searchCandidates,
        fusion,
        ...(vector && folder.index.hybrid ? { vector } : {}),
        ...(filters.length > 0 ? { where: filters.join(" AND ") } : {}),
      });
      for (const row of rows) {
        hits.push({
          uri: pathToFileURL(path.join(folder.root, ...row.path.split("/"))).href,
          path: row.path,
          startLine: row.start_line,
          startCol: row.start_col,
          endLine: row.end_line,
          endCol: row.end_col,
          language: row.language,
          symbol: row.symbol,
          kind: row.kind,
          text: row.text,
          score: row.score,
          hash: row.hash,
        });
      }
      options.signal?.throwIfAborted();
    }
    hits.sort((a, b) => b.score - a.score);
    return hits.slice(0, k);
  }

  /**
   * The context for a prompt: the top chunks for the query (plus the code at the cursor, when a
   * file and cursor are given) that fit the token budget, deduplicated, each with its source.
   */
  async buildContext(params: BuildContextParams): Promise<ContextResult> {
    let query = params.query;
    let exclude: { uri: string; startLine: number; endLine: number } | undefined;
    if (params.uri && params.cursor) {
      const located = this.locate(params.uri);
      if (located) {
        const chunks = await located.folder.index.chunksOf(located.rel);
        const here = chunks.find((c) => c.start_line <= params.cursor!.line && c.end_line >= params.cursor!.line);
        if (here) {
          exclude = { uri: params.uri, startLine: here.start_line, endLine: here.end_line };
          if (here.symbol) query = `${query} ${here.symbol}`;
        }
      }
    }
    const hits = await this.search(query, { k: Math.max(params.k * 3, 12), ...(params.signal ? { signal: params.signal } : {}) });
    const selected = selectContext(hits, { tokenBudget: params.tokenBudget, k: params.k, ...(exclude ? { exclude } : {}) });
    return { ...selected, mode: this.mode };
  }

  /** True when some folder can answer searches. */
  get searchable(): boolean {
    return this.folders.some((f) => f.index.ready);
  }

  /** The folder indexes (benchmarks, tests). */
  folderIndexes(): FolderIndex[] {
    return this.folders.map((f) => f.index);
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    this.generation++;
    for (const t of this.bufferTimers.values()) clearTimeout(t);
    this.bufferTimers.clear();
    await this.restarting.catch(() => undefined);
    await this.closeFolders();
    await this.pool?.dispose();
    this.pool = undefined;
    await this.disposeEmbedder();
    this.activity.dispose();
    this.listeners.clear();
  }
}

/** Worker threads for the command line: $IFAI_INDEX_WORKERS, else all cores but one (at least one, at most 4). */
export function cliWorkers(env: NodeJS.ProcessEnv = process.env): number {
  const configured = Number(env.IFAI_INDEX_WORKERS);
  if (Number.isInteger(configured) && configured >= 0 && configured <= 64) return configured;
  return Math.max(1, Math.min(4, os.availableParallelism() - 1));
}
