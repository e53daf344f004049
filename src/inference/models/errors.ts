/** Errors the user can act on (local-only mode, bad input, a path outside the model folder); the message names the fix. */
export class ModelManagerError extends Error {
  override readonly name = "ModelManagerError";
}
