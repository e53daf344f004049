/**
 * Worker thread: reads, classifies and chunks files with tree-sitter off the LSP thread. It
 * pauses (blocks on a shared flag) whenever foreground work such as a completion runs.
 */
import fs from "node:fs";
import { parentPort, workerData } from "node:worker_threads";
import { chunkFileBytes, chunkFileText, type ChunkOptions } from "../chunking/chunkFile.js";
import { waitWhileBusy } from "../priority.js";
import type { WorkerRequest, WorkerResponse } from "./protocol.js";

const data = workerData as { flag?: Int32Array; options?: Omit<ChunkOptions, "checkpoint"> };
const flag = data.flag;
const options: ChunkOptions = { ...data.options, checkpoint: () => waitWhileBusy(flag) };

parentPort!.on("message", (request: WorkerRequest) => {
  void handle(request).then((response) => parentPort!.postMessage(response));
});

async function handle(request: WorkerRequest): Promise<WorkerResponse> {
  try {
    waitWhileBusy(flag);
    if (request.kind === "text") return { id: request.id, outcome: await chunkFileText(request.rel, request.text, options) };
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(request.abs);
    } catch (error) {
      return { id: request.id, outcome: { status: "unreadable", message: error instanceof Error ? error.message : String(error) } };
    }
    if (bytes.length > request.maxBytes) return { id: request.id, outcome: { status: "unreadable", message: `larger than ${request.maxBytes} bytes` } };
    const outcome = await chunkFileBytes(request.rel, bytes, options);
    return { id: request.id, outcome, bytes: bytes.length };
  } catch (error) {
    return { id: request.id, error: error instanceof Error ? (error.stack ?? error.message) : String(error) };
  }
}
