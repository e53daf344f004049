import { ModelUnavailableError } from "../types.js";
import type { Mutex } from "../../util/Mutex.js";
import type { LoadedModel, LocalModel } from "./LocalModel.js";

/**
 * Runs `work` with the loaded model while holding `lock`, the pattern every local backend shares:
 * a request cancelled before or while it waits for its turn gets `aborted()` at once, and one
 * cancelled while it runs gets it too unless the model itself is unavailable (that error is the
 * user's to see). Work cut short by an unload rejects with ModelUnloadedError (see LocalModel.use).
 */
export async function runExclusive<T>(
  lock: Mutex,
  model: LocalModel,
  signal: AbortSignal,
  aborted: () => T,
  /** `signal` here is the caller's, also aborted when the model is unloaded under the work. */
  work: (loaded: LoadedModel, signal: AbortSignal) => Promise<T>,
): Promise<T> {
  if (signal.aborted) return aborted();
  let release: () => void;
  try {
    release = await lock.acquire(signal);
  } catch {
    return aborted();
  }
  try {
    return await model.use(signal, work);
  } catch (error) {
    if (signal.aborted && !(error instanceof ModelUnavailableError)) return aborted();
    throw error;
  } finally {
    release();
  }
}
