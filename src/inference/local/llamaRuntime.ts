import os from "node:os";
import type { Llama, LlamaLogLevel } from "node-llama-cpp";
import type { Logger } from "../../util/logger.js";

export type GpuSetting = "auto" | "cpu" | "metal" | "cuda" | "vulkan";

/**
 * The thread count used when the setting is 0. llama.cpp's own default is max(4, cores), which on
 * a 2-core laptop or CI box oversubscribes the CPU and runs up to 100x slower; below that we use
 * every core on small machines and leave one for the server's other work on bigger ones.
 */
export function autoThreads(cores: number = os.availableParallelism()): number {
  if (cores <= 2) return Math.max(1, cores);
  return Math.min(8, cores - 1);
}

let runtime: { key: string; llama: Promise<Llama> } | undefined;

/**
 * Returns the process-wide llama.cpp runtime for a GPU setting and thread count. node-llama-cpp is
 * imported lazily: it costs a few hundred milliseconds, and `initialize` must answer before any
 * model is needed.
 */
export async function getLlamaRuntime(gpu: GpuSetting, threads: number, logger: Logger): Promise<Llama> {
  const key = `${gpu}:${threads}`;
  if (runtime?.key === key) return runtime.llama;
  const previous = runtime;
  runtime = { key, llama: createRuntime(gpu, threads, logger) };
  if (previous) void previous.llama.then((l) => l.dispose()).catch(() => undefined);
  try {
    return await runtime.llama;
  } catch (error) {
    runtime = undefined;
    throw error;
  }
}

async function createRuntime(gpu: GpuSetting, threads: number, logger: Logger): Promise<Llama> {
  const { getLlama, LlamaLogLevel } = await import("node-llama-cpp");
  // "part", not "component": the caller's logger already names its component, and pino repeats a key bound twice.
  const llamaLogger = logger.child({ part: "llama.cpp" });
  // node-llama-cpp logs to the console (stdout) unless it is given a logger; stdout is the protocol.
  const log = (level: LlamaLogLevel, message: string): void => {
    const text = message.trimEnd();
    if (!text) return;
    switch (level) {
      case LlamaLogLevel.fatal:
      case LlamaLogLevel.error:
        llamaLogger.error(text);
        break;
      case LlamaLogLevel.warn:
        llamaLogger.warn(text);
        break;
      default:
        llamaLogger.debug(text);
    }
  };
  const common = {
    build: "never" as const,
    maxThreads: threads,
    logger: log,
    logLevel: LlamaLogLevel.warn,
    progressLogs: false,
  };
  if (gpu === "cpu") return getLlama({ ...common, gpu: false });
  if (gpu === "auto") {
    try {
      return await getLlama({ ...common, gpu: "auto" });
    } catch (error) {
      logger.warn({ err: error }, "no GPU backend could be loaded; using the CPU");
      return getLlama({ ...common, gpu: false });
    }
  }
  return getLlama({ ...common, gpu });
}
