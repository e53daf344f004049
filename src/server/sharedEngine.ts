/**
 * The shared engine as the server uses it (engine.mode "shared", or "auto" on Linux and macOS),
 * with the one fallback a user should never have to think about: when the engine cannot be
 * started here (no private folder for its socket, a sandbox that forbids it, a spawn failure),
 * this server runs the model in process for the rest of the session, logs why, and shows it in
 * ifai.modelStatus. The request that found out is served in process too.
 */
import path from "node:path";
import type { Settings } from "../config/schema.js";
import { EngineClient } from "../engine/EngineClient.js";
import { engineSocketPath, ensurePrivateFolder } from "../engine/socketPath.js";
import { startEngineProcess } from "../engine/startEngine.js";
import type { ModelStatus } from "../inference/types.js";
import type { Logger } from "../util/logger.js";
import { engineKey, inProcessEngine, type EngineApi } from "./engine.js";

export function sharedEngine(logger: Logger, settings: Settings, label: string): EngineApi {
  const socketPath = engineSocketPath();
  let latest = settings;
  let fallback: { api: EngineApi; reason: string } | undefined;
  const listeners = new Set<(status: ModelStatus) => void>();
  const emit = (status: ModelStatus): void => listeners.forEach((listener) => listener(status));

  const client = new EngineClient({
    socketPath,
    key: engineKey(settings),
    logger: logger.child({ component: "engine-client" }),
    label,
    start: async () => {
      try {
        if (process.platform !== "win32") ensurePrivateFolder(path.dirname(socketPath));
        await startEngineProcess();
      } catch (error) {
        if (!fallback) {
          const reason = `the shared engine could not be started (${(error as Error).message}); this window runs the model in process`;
          logger.warn({ socket: socketPath }, reason);
          const api = inProcessEngine(logger, latest);
          api.model.onStatus(emit);
          fallback = { api, reason };
        }
        throw error;
      }
    },
  });
  client.model.onStatus((status) => {
    if (!fallback) emit(status);
  });

  const current = (): EngineApi | undefined => fallback?.api;
  /** Runs on the shared engine; when that could not start, on the in-process fallback. */
  const run = async <T>(shared: () => Promise<T>, local: (api: EngineApi) => Promise<T>): Promise<T> => {
    const inProcess = current();
    if (inProcess) return local(inProcess);
    try {
      return await shared();
    } catch (error) {
      const now = current();
      if (now) return local(now);
      throw error;
    }
  };

  return {
    model: {
      status: () => current()?.model.status() ?? client.model.status(),
      onStatus: (listener) => {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
      load: (signal) => run(() => client.model.load(signal), (api) => api.model.load(signal)),
      unload: () => run(() => client.model.unload(), (api) => api.model.unload()),
    },
    backend: {
      status: () => current()?.backend.status() ?? client.status(),
      tokenizer: (signal) => run(() => client.tokenizer(signal), (api) => api.backend.tokenizer(signal)),
      generate: (request, signal) => run(() => client.generate(request, signal), (api) => api.backend.generate(request, signal)),
      prefill: (request, signal) =>
        run(
          () => client.prefill(request, signal),
          (api) => api.backend.prefill?.(request, signal) ?? Promise.resolve({ state: "skipped", promptTokens: 0, reusedTokens: 0, evaluatedTokens: 0, totalMs: 0 }),
        ),
      warmSlots: () => current()?.warmSlots() ?? client.warmSlots(),
    },
    chat: { chat: (request, signal) => run(() => client.chat(request, signal), (api) => api.chat.chat(request, signal)) },
    nextEdit: {
      status: () => current()?.nextEdit.status() ?? client.status(),
      tokenizer: (signal) => run(() => client.nextEdit.tokenizer(signal), (api) => api.nextEdit.tokenizer(signal)),
      generate: (request, signal) => run(() => client.nextEdit.generate(request, signal), (api) => api.nextEdit.generate(request, signal)),
    },
    warmSlots: () => current()?.warmSlots() ?? client.warmSlots(),
    focus: () => {
      if (!current()) client.focus();
    },
    info: () => (fallback ? { mode: "in-process", fallback: fallback.reason } : { mode: "shared", ...client.info() }),
    configure: async (next) => {
      latest = next;
      client.configure(engineKey(next));
      await current()?.configure(next);
    },
    dispose: async () => {
      await client.dispose();
      await current()?.dispose();
    },
  };
}
