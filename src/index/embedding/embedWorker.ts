/**
 * The embedding worker thread: owns the onnxruntime session and the tokenizer, so inference (which
 * onnxruntime-node runs synchronously on the calling thread) never blocks the LSP thread. Requests
 * are split into batches; query batches go before queued document batches, and a cancelled
 * request's remaining batches are dropped. Between batches the loop yields so cancel messages are
 * seen.
 */
import { readFileSync } from "node:fs";
import { parentPort, workerData } from "node:worker_threads";
import type * as Ort from "onnxruntime-node";
import { normalizeRows, padBatch, planBatches, poolTokenStates } from "./batching.js";
import { ModelTokenizer } from "./ModelTokenizer.js";
import type { FromWorker, ToWorker, WorkerInit } from "./workerProtocol.js";

const SUPPORTED_INPUTS = ["input_ids", "attention_mask", "token_type_ids", "position_ids"];

interface Job {
  id: number;
  kind: "query" | "document";
  /** Prefixed texts; each batch is tokenized just before it runs, so a big request never holds up a query. */
  texts: string[];
  batches: number[][];
  next: number;
}

const port = parentPort!;
const init = workerData as WorkerInit;

function post(message: FromWorker, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}

function loadTokenizer(): ModelTokenizer {
  let json: object;
  let config: object = {};
  try {
    json = JSON.parse(readFileSync(init.tokenizerPath, "utf8")) as object;
    if (init.tokenizerConfigPath !== undefined) config = JSON.parse(readFileSync(init.tokenizerConfigPath, "utf8")) as object;
  } catch (error) {
    throw new Error(`could not read ${init.tokenizerPath}: ${(error as Error).message}`);
  }
  try {
    return new ModelTokenizer(json, config, init.maxTokens);
  } catch (error) {
    throw new Error(`${init.tokenizerPath} is not a tokenizer @huggingface/tokenizers can load: ${(error as Error).message}`);
  }
}

/**
 * onnxruntime-node is not a dependency of the published package (only a devDependency): it weighs
 * ~300 MB (binaries for every platform) and only embedding models need it, so the first use of an
 * embedding model says how to add it. Not an optional peer either: npm 11 installs optional peers
 * anyway (as "extraneous") in project installs such as npx's, mason's and Zed's.
 */
async function loadRuntime(): Promise<typeof Ort> {
  try {
    const loaded = (await import("onnxruntime-node")) as typeof Ort & { default?: typeof Ort };
    return loaded.default ?? loaded;
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") {
      throw new Error(
        "embedding models need onnxruntime-node, which is not installed with ifai-lsp (about 300 MB): " +
          "install it with `npm install -g onnxruntime-node@^1.30` (beside a global ifai-lsp; in a project, `npm install onnxruntime-node`) " +
          "and restart the server. Full-text search works without it.",
      );
    }
    throw error;
  }
}

let ort: typeof Ort;

async function loadSession(): Promise<Ort.InferenceSession> {
  try {
    return await ort.InferenceSession.create(init.modelPath, {
      intraOpNumThreads: init.threads,
      interOpNumThreads: 1,
      executionMode: "sequential",
      graphOptimizationLevel: "all",
      // Warnings only: onnxruntime's native log must stay quiet (stdout is the LSP channel).
      logSeverityLevel: 3,
    });
  } catch (error) {
    throw new Error(`could not load the ONNX model ${init.modelPath}: ${(error as Error).message}`);
  }
}

function pickOutput(session: Ort.InferenceSession): string {
  if (session.outputNames.includes("sentence_embedding")) return "sentence_embedding";
  if (session.outputNames.includes("last_hidden_state")) return "last_hidden_state";
  if (session.outputNames.length === 1) return session.outputNames[0]!;
  throw new Error(`the ONNX model ${init.modelPath} has neither a last_hidden_state nor a sentence_embedding output (it has ${session.outputNames.join(", ")})`);
}

async function main(): Promise<void> {
  const tokenizer = loadTokenizer();
  ort = await loadRuntime();
  const session = await loadSession();
  const unsupported = session.inputNames.filter((n) => !SUPPORTED_INPUTS.includes(n));
  if (unsupported.length > 0 || !session.inputNames.includes("input_ids")) {
    throw new Error(
      `the ONNX model ${init.modelPath} takes inputs ${session.inputNames.join(", ")}; ifai-lsp feeds only ${SUPPORTED_INPUTS.join(", ")} (is this a sentence-embedding export?)`,
    );
  }
  const int32Inputs = new Set(
    session.inputMetadata.filter((m) => m.isTensor && m.type === "int32").map((m) => m.name),
  );
  const outputName = pickOutput(session);

  /** Runs one batch and returns its pooled, normalised vectors. */
  async function runBatch(rows: number[][]): Promise<{ data: Float32Array; dims: number }> {
    const padded = padBatch(rows, tokenizer.padId);
    const shape = [padded.batch, padded.sequence];
    const sources: Record<string, BigInt64Array> = {
      input_ids: padded.inputIds,
      attention_mask: padded.attentionMask,
      token_type_ids: padded.tokenTypeIds,
      position_ids: padded.positionIds,
    };
    const feeds: Record<string, Ort.Tensor> = {};
    for (const name of session.inputNames) {
      const data = sources[name]!;
      feeds[name] = int32Inputs.has(name) ? new ort.Tensor("int32", Int32Array.from(data, Number), shape) : new ort.Tensor("int64", data, shape);
    }
    const result = await session.run(feeds, [outputName]);
    const output = result[outputName]!;
    const states = output.data as Float32Array;
    let pooled: Float32Array;
    let dims: number;
    if (output.dims.length === 2) {
      dims = output.dims[1]!;
      pooled = Float32Array.from(states);
    } else if (output.dims.length === 3) {
      dims = output.dims[2]!;
      pooled = poolTokenStates(states, padded.batch, padded.sequence, dims, padded.attentionMask, init.pooling);
    } else {
      throw new Error(`output ${outputName} has shape [${output.dims.join(", ")}]; expected [batch, sequence, hidden] or [batch, dimensions]`);
    }
    output.dispose();
    return { data: normalizeRows(pooled, dims), dims };
  }

  const probe = await runBatch([tokenizer.encode("ifai-lsp")]);
  post({ type: "ready", dimensions: probe.dims, inputNames: [...session.inputNames], outputName });

  const jobs: Job[] = [];
  const cancelled = new Set<number>();
  let pumping = false;

  const nextJob = (): Job | undefined => jobs.find((j) => j.kind === "query") ?? jobs[0];

  async function pump(): Promise<void> {
    if (pumping) return;
    pumping = true;
    try {
      for (let job = nextJob(); job !== undefined; job = nextJob()) {
        // Yield first, so cancel and query messages that arrived during the last batch are seen.
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (cancelled.has(job.id)) {
          jobs.splice(jobs.indexOf(job), 1);
          cancelled.delete(job.id);
          continue;
        }
        if (nextJob() !== job) continue;
        const indices = job.batches[job.next++]!;
        if (job.next >= job.batches.length) jobs.splice(jobs.indexOf(job), 1);
        try {
          const rows = indices.map((i) => tokenizer.encode(job.texts[i]!));
          const { data } = await runBatch(rows);
          const tokens = rows.reduce((sum, r) => sum + r.length, 0);
          post({ type: "vectors", id: job.id, indices, data, tokens }, [data.buffer as ArrayBuffer]);
        } catch (error) {
          const at = jobs.indexOf(job);
          if (at >= 0) jobs.splice(at, 1);
          post({ type: "failed", id: job.id, message: `embedding failed: ${(error as Error).message}` });
        }
      }
    } finally {
      pumping = false;
    }
  }

  port.on("message", (message: ToWorker) => {
    if (message.type === "cancel") {
      if (jobs.some((j) => j.id === message.id)) cancelled.add(message.id);
      return;
    }
    if (message.type === "dispose") {
      void session.release().finally(() => port.close());
      return;
    }
    const prefix = message.kind === "query" ? init.queryPrefix : init.documentPrefix;
    const texts = message.texts.map((text) => prefix + text);
    // Batches are planned on estimated token counts (about three characters per token for code)
    // so that tokenization can wait until each batch runs.
    const estimates = texts.map((text) => Math.min(init.maxTokens, Math.ceil(text.length / 3) + 2));
    const batches = planBatches(estimates, { batchSize: init.batchSize, maxBatchTokens: init.maxBatchTokens });
    jobs.push({ id: message.id, kind: message.kind, texts, batches, next: 0 });
    void pump();
  });
}

main().catch((error: unknown) => {
  post({ type: "initError", message: error instanceof Error ? error.message : String(error) });
  port.close();
});
