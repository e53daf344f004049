import path from "node:path";
import type { Settings } from "../config/schema.js";
import { cacheDir, resolveModelPath } from "../config/paths.js";
import { ModelManager, type PullProgress } from "../inference/models/ModelManager.js";
import { downloadRefusal, localOnlyMode } from "../privacy/localOnly.js";
import type { Logger } from "../util/logger.js";
import type { CommandHandler, CommandsApi } from "./commands.js";
import { ModelCommands, type ModelsListResult, type ModelsPullArgs, type ModelsPullResult, type ModelsRemoveResult, type ModelsVerifyResult } from "./protocol.js";
import { InvalidParamsError, RequestFailedError } from "./guard.js";
import { ModelManagerError } from "../inference/models/errors.js";
import { DownloadError } from "../inference/models/downloadErrors.js";
import { UnknownModelError } from "../inference/models/catalogue.js";

export interface ModelHandlersOptions {
  commands: CommandsApi;
  logger: Logger;
  settings: () => Settings;
  /** Unloads the local model before its file is removed. */
  unloadModel: () => Promise<void>;
  env?: NodeJS.ProcessEnv;
}

/** A model manager for the current settings (mirrors, local-only mode, the configured model). */
export function managerFor(settings: Settings, logger: Logger, env: NodeJS.ProcessEnv = process.env): ModelManager {
  return new ModelManager({
    modelsDir: path.join(cacheDir(env), "models"),
    mirrors: {
      mirrors: settings["models.mirrors"].split(",").map((m) => m.trim()).filter(Boolean),
      publicMirrors: settings["models.publicMirrors"],
    },
    // The setting or IFAI_LOCAL_ONLY: every way of turning local-only on refuses downloads.
    localOnly: localOnlyMode(settings["privacy.localOnly"], env).on,
    configuredModelPath: resolveModelPath(settings["model.path"], env),
    logger,
  });
}

function idArgument(args: unknown[], command: string): ModelsPullArgs {
  const first = args[0];
  if (typeof first === "string" && first.trim() !== "") return { id: first };
  if (first && typeof first === "object" && typeof (first as ModelsPullArgs).id === "string") return first as ModelsPullArgs;
  throw new InvalidParamsError(`${command} needs a model id as its first argument (see ${ModelCommands.list})`);
}

/**
 * The model manager's refusals (an unknown id, a path outside the model folder, local-only
 * mode, a failed download) are answers the user acts on: RequestFailed with the message that
 * names the fix. Anything else stays an internal error.
 */
async function refusalsAsFailures<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof ModelManagerError || error instanceof UnknownModelError || error instanceof DownloadError) {
      throw new RequestFailedError(error.message, { cause: error });
    }
    throw error;
  }
}

const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(bytes < 10e6 ? 1 : 0)} MB`;

/** The model manager as LSP commands: list, pull (with $/progress), remove, verify. Returns the pull handler for ifai.downloadModel. */
export function registerModelHandlers(options: ModelHandlersOptions): { pull: CommandHandler } {
  const { commands, logger, env } = options;
  const manager = (): ModelManager => managerFor(options.settings(), logger.child({ component: "models" }), env);

  commands.add(ModelCommands.list, async (): Promise<ModelsListResult> => {
    const m = manager();
    return { modelsDir: m.modelsDir, models: await refusalsAsFailures(() => m.list()) };
  });

  const pull: CommandHandler = async (args, signal, progress): Promise<ModelsPullResult> => {
    const { id, sha256, name } = idArgument(args, ModelCommands.pull);
    const m = manager();
    // Refusals (local-only mode, unknown ids, bad URLs) come before any progress is shown.
    const localOnly = localOnlyMode(options.settings()["privacy.localOnly"], env);
    if (localOnly.on) throw new RequestFailedError(downloadRefusal(localOnly, m.modelsDir));
    const reporter = await progress();
    reporter.begin(`Downloading ${id}`, 0, undefined, false);
    let lastPercent = -1;
    const onProgress = (p: PullProgress): void => {
      const percent = p.totalBytes > 0 ? Math.floor((p.receivedBytes * 100) / p.totalBytes) : 0;
      if (percent === lastPercent) return;
      lastPercent = percent;
      reporter.report(percent, `${mb(p.receivedBytes)} of ${mb(p.totalBytes)} from ${p.host}`);
    };
    try {
      return await refusalsAsFailures(() => m.pull(id, { signal, onProgress, ...(sha256 ? { sha256 } : {}), ...(name ? { name } : {}) }));
    } finally {
      reporter.done();
    }
  };
  commands.add(ModelCommands.pull, pull);

  commands.add(ModelCommands.remove, async (args): Promise<ModelsRemoveResult> => {
    const { id } = idArgument(args, ModelCommands.remove);
    const m = manager();
    return refusalsAsFailures(async () => {
      const entry = (await m.list()).find((e) => e.id.toLowerCase() === id.trim().toLowerCase());
      if (entry?.inUse) await options.unloadModel();
      return m.remove(id);
    });
  });

  commands.add(ModelCommands.verify, async (args, signal): Promise<ModelsVerifyResult> => {
    const { id } = idArgument(args, ModelCommands.verify);
    // A path argument comes from the client, not from the user's own configuration: only files in
    // the model folder and the configured model.path are read (symlinks resolved first).
    return refusalsAsFailures(() => manager().verify(id, { signal, paths: "models" }));
  });
  return { pull };
}
