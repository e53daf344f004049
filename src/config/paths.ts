import os from "node:os";
import path from "node:path";

/** The default completion model's file name inside <cache>/models. */
export const DEFAULT_MODEL_FILE = "qwen2.5-coder-0.5b-q4_k_m.gguf";

/** The per-user cache folder: $IFAI_CACHE_DIR, else $XDG_CACHE_HOME/ifai-lsp, else ~/.cache/ifai-lsp. */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.IFAI_CACHE_DIR) return path.resolve(expandHome(env.IFAI_CACHE_DIR));
  if (env.XDG_CACHE_HOME) return path.join(path.resolve(expandHome(env.XDG_CACHE_HOME)), "ifai-lsp");
  if (process.platform === "win32" && env.LOCALAPPDATA) return path.join(env.LOCALAPPDATA, "ifai-lsp", "cache");
  if (process.platform === "darwin") return path.join(os.homedir(), "Library", "Caches", "ifai-lsp");
  return path.join(os.homedir(), ".cache", "ifai-lsp");
}

export function expandHome(p: string): string {
  if (p === "~") return os.homedir();
  if (p.startsWith("~/") || p.startsWith("~\\")) return path.join(os.homedir(), p.slice(2));
  return p;
}

/** Resolves the configured model path; an empty setting means the default file in the cache folder. */
export function resolveModelPath(configured: string, env: NodeJS.ProcessEnv = process.env): string {
  if (configured.trim() !== "") return path.resolve(expandHome(configured.trim()));
  return path.join(cacheDir(env), "models", DEFAULT_MODEL_FILE);
}
