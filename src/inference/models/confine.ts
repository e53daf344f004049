/** Keeps the file paths a client may name to the model folder (and the configured model file). */
import fs from "node:fs/promises";
import path from "node:path";
import { ModelManagerError } from "./errors.js";

/**
 * Refuses a path that resolves (symlinks followed, `..` collapsed) outside the model folder,
 * unless it is the configured model file itself: editors may ask about their own model, not
 * about any file the server can read.
 */
export async function confineToModels(abs: string, asGiven: string, modelsDir: string, configuredModelPath: string | undefined): Promise<"inside" | "configured"> {
  const real = await realpathOrSelf(abs);
  const root = await realpathOrSelf(modelsDir);
  const rel = path.relative(root, real);
  if (rel !== "" && !rel.startsWith("..") && !path.isAbsolute(rel)) return "inside";
  if (configuredModelPath && real === (await realpathOrSelf(path.resolve(configuredModelPath)))) return "configured";
  throw new ModelManagerError(
    `${asGiven} is outside the model folder ${modelsDir}${configuredModelPath ? " and is not the configured model file (model.path)" : ""}; only those can be verified from the editor. Use \`ifai-lsp models verify FILE\` in a terminal for any other file.`,
  );
}

async function realpathOrSelf(file: string): Promise<string> {
  try {
    return await fs.realpath(file);
  } catch {
    // A missing file: resolve its folder, so a symlinked folder still counts where it points.
    try {
      return path.join(await fs.realpath(path.dirname(file)), path.basename(file));
    } catch {
      return path.resolve(file);
    }
  }
}
