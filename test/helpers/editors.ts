import { execFileSync } from "node:child_process";
import { describe, it } from "vitest";

/**
 * Real-editor tests need editors installed from Debian (`.ci/editors.sh`, which `.ci/run` calls).
 * In CI (CI set) a missing editor fails the suite, so those tests can never vanish silently; on a
 * developer's machine without the editor the block is skipped and the reason is printed.
 */
export interface EditorCheck {
  /** Absolute path of the binary, when it runs. */
  path?: string;
  /** First line of `--version`. */
  version?: string;
  reason?: string;
}

export function findEditor(binary: string, versionArgs: string[] = ["--version"]): EditorCheck {
  let resolved: string;
  try {
    resolved = execFileSync("sh", ["-c", `command -v ${binary}`], { encoding: "utf8" }).trim();
  } catch {
    return { reason: `${binary} is not installed (run .ci/editors.sh as root to install it)` };
  }
  try {
    const out = execFileSync(resolved, versionArgs, { encoding: "utf8", timeout: 30_000, stdio: ["ignore", "pipe", "pipe"] });
    return { path: resolved, version: out.split("\n")[0]?.trim() };
  } catch (error) {
    return { reason: `${resolved} ${versionArgs.join(" ")} failed: ${(error as Error).message}` };
  }
}

/**
 * `describe` for a block that needs `check` to have found an editor: runs it when found, fails in
 * CI when not, and otherwise skips it with the reason on stderr.
 */
export function describeWithEditor(name: string, check: EditorCheck, body: (editorPath: string) => void): void {
  if (check.path) {
    describe(`${name} (${check.version ?? check.path})`, () => body(check.path!));
    return;
  }
  if (process.env.CI) {
    describe(name, () => {
      it("has its editor installed in CI", () => {
        throw new Error(`${name}: ${check.reason}`);
      });
    });
    return;
  }
  process.stderr.write(`\n[skipped] ${name}: ${check.reason}\n`);
  describe.skip(`${name} — skipped: ${check.reason}`, () => body(""));
}
