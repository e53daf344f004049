/**
 * `ifai-lsp models list|pull|rm|verify`: the model manager on the command line. Results go to
 * stdout, the progress bar and errors to stderr. The editor settings are not visible here, so
 * the environment stands in for them: IFAI_CACHE_DIR, IFAI_MODEL_MIRRORS (= models.mirrors),
 * IFAI_LOCAL_ONLY=1 (= privacy.localOnly) and IFAI_MODEL (= model.path).
 */
import path from "node:path";
import { cliCommand } from "./cliCommand.js";
import { cacheDir, resolveModelPath } from "../config/paths.js";
import { UnknownModelError } from "../inference/models/catalogue.js";
import { DownloadError } from "../inference/models/download.js";
import { downloadRefusal, localOnlyMode } from "../privacy/localOnly.js";
import { ModelManager, ModelManagerError, type ModelListEntry, type PullProgress } from "../inference/models/ModelManager.js";

export const MODELS_HELP = `Usage:
  ifai-lsp models list [--json]                  catalogue and installed models
  ifai-lsp models pull <id|URL> [options]        download a model (resumes an interrupted one)
      --sha256 HEX          expected SHA-256 of a model pulled by URL
      --name FILE           file name for a model pulled by URL
      --mirror URL          a Hugging Face-compatible mirror tried first (repeatable)
      --no-public-mirrors   do not try huggingface.co, hf-mirror.com, modelscope.cn
  ifai-lsp models rm <id>                        delete a downloaded model
  ifai-lsp models verify <id|FILE>               re-hash a model; says what it was compared with

Environment: IFAI_CACHE_DIR (models go to <cache>/models), IFAI_MODEL_MIRRORS (comma-separated
mirrors), IFAI_LOCAL_ONLY=1 (refuse downloads), IFAI_MODEL (the model file in use).
`;

interface Parsed {
  positional: string[];
  flags: Map<string, string[]>;
  bools: Set<string>;
}

const VALUE_FLAGS = new Set(["--sha256", "--name", "--mirror"]);

function parseArgs(args: string[]): Parsed {
  const parsed: Parsed = { positional: [], flags: new Map(), bools: new Set() };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const eq = arg.indexOf("=");
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    if (VALUE_FLAGS.has(name)) {
      const value = eq > 0 ? arg.slice(eq + 1) : args[++i];
      if (value === undefined) throw new UsageError(`${name} needs a value`);
      parsed.flags.set(name, [...(parsed.flags.get(name) ?? []), value]);
    } else if (arg.startsWith("--")) {
      parsed.bools.add(arg);
    } else {
      parsed.positional.push(arg);
    }
  }
  return parsed;
}

class UsageError extends Error {}

const truthy = (v: string | undefined): boolean => v !== undefined && /^(1|true|yes|on)$/i.test(v.trim());

export function managerFromEnvironment(env: NodeJS.ProcessEnv, extraMirrors: string[] = [], publicMirrors = true): ModelManager {
  const mirrors = [...extraMirrors, ...(env.IFAI_MODEL_MIRRORS ?? "").split(",")].map((m) => m.trim()).filter(Boolean);
  return new ModelManager({
    modelsDir: path.join(cacheDir(env), "models"),
    mirrors: { mirrors, publicMirrors },
    localOnly: truthy(env.IFAI_LOCAL_ONLY),
    configuredModelPath: resolveModelPath(env.IFAI_MODEL ?? "", env),
  });
}

export async function runModels(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [sub, ...rest] = args;
  let parsed: Parsed;
  try {
    parsed = parseArgs(rest);
  } catch (error) {
    process.stderr.write(`ifai-lsp models: ${(error as Error).message}\n\n${MODELS_HELP}`);
    return 2;
  }
  const manager = managerFromEnvironment(env, parsed.flags.get("--mirror") ?? [], !parsed.bools.has("--no-public-mirrors"));
  const target = parsed.positional[0];
  try {
    switch (sub) {
      case "list":
      case "ls":
        return await list(manager, parsed.bools.has("--json"));
      case "pull": {
        if (!target) break;
        // The same refusal as the server's: it names the switch that is on and how to turn it off.
        const localOnly = localOnlyMode(false, env);
        if (localOnly.on) {
          process.stderr.write(`ifai-lsp models: ${downloadRefusal(localOnly, manager.modelsDir)}\n`);
          return 1;
        }
        return await pull(manager, target, parsed);
      }
      case "rm":
      case "remove": {
        if (!target) break;
        const result = await manager.remove(target);
        if (result.removed.length === 0) process.stdout.write(`${result.id} is not downloaded; nothing to remove.\n`);
        else process.stdout.write(`Removed ${result.id}: ${result.removed.length} file(s), ${mb(result.freedBytes)} freed.\n`);
        return 0;
      }
      case "verify": {
        if (!target) break;
        // The command line is the user's own shell: any file they name can be checked.
        const result = await manager.verify(target, { paths: "any" });
        for (const f of result.files) process.stdout.write(`${f.status.padEnd(10)} ${f.path}${f.sha256 ? `\n           sha256 ${f.sha256}` : ""}\n           ${f.detail}\n`);
        process.stdout.write(`${result.ok ? "OK" : "FAILED"}: ${result.id} (${result.ms} ms)\n`);
        return result.ok ? 0 : 1;
      }
      default:
        process.stderr.write(sub ? `ifai-lsp models: unknown command "${sub}"\n\n${MODELS_HELP}` : MODELS_HELP);
        return 2;
    }
    process.stderr.write(`ifai-lsp models ${sub}: which model? Give an id (ifai-lsp models list).\n\n${MODELS_HELP}`);
    return 2;
  } catch (error) {
    if (error instanceof UnknownModelError || error instanceof ModelManagerError || error instanceof DownloadError) {
      process.stderr.write(`ifai-lsp models: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}

async function list(manager: ModelManager, json: boolean): Promise<number> {
  const entries = await manager.list();
  if (json) {
    process.stdout.write(`${JSON.stringify(entries, null, 2)}\n`);
    return 0;
  }
  process.stdout.write(`Models in ${manager.modelsDir}\n\n`);
  const rows = entries.map((e: ModelListEntry) => [
    e.installed ? (e.inUse ? "* installed" : "  installed") : e.partialBytes > 0 ? `  partial ${mb(e.partialBytes)}` : e.inUse ? "* missing" : "  -",
    e.id,
    e.source === "catalogue" ? `${e.format} ${e.quantization} ${e.roles.join("+")}` : `${e.format} custom`,
    e.installed ? mb(e.installedBytes) : `~${mb(e.approxBytes)}`,
    e.licence ?? "",
    e.integrity === "none" && !e.installed && e.source === "catalogue" ? "unpinned" : INTEGRITY_LABEL[e.integrity],
  ]);
  const widths = [0, 1, 2, 3, 4].map((i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) process.stdout.write(`${r.map((c, i) => (i < 5 ? c.padEnd(widths[i]!) : c)).join("  ")}\n`);
  process.stdout.write(
    `\n* = the model in use (model.path). Pull one with: ${cliCommand()} models pull <id>\n` +
      `Last column: what the files' integrity rests on. "unpinned": the catalogue pins no SHA-256 for it; a download is then\n` +
      `checked against the hash its source publishes, where it sends one ("checked at download"), else only recorded.\n`,
  );
  return 0;
}

async function pull(manager: ModelManager, target: string, parsed: Parsed): Promise<number> {
  const bar = progressBar();
  const sha256 = parsed.flags.get("--sha256")?.[0];
  const name = parsed.flags.get("--name")?.[0];
  const controller = new AbortController();
  const onSignal = (): void => controller.abort(new Error("interrupted"));
  process.once("SIGINT", onSignal);
  try {
    const result = await manager.pull(target, { signal: controller.signal, onProgress: bar.update, ...(sha256 ? { sha256 } : {}), ...(name ? { name } : {}) });
    bar.done();
    for (const f of result.files) {
      if (f.alreadyPresent) {
        process.stdout.write(`already present  ${f.path}\n`);
        continue;
      }
      const speed = f.ms > 0 ? ` at ${mb(((f.bytes - f.resumedFromBytes) * 1000) / f.ms)}/s` : "";
      const check = CHECKED[f.verifiedBy];
      for (const reason of f.restarts) process.stdout.write(`started over  ${reason}\n`);
      process.stdout.write(`downloaded  ${f.path}\n  ${mb(f.bytes)}${f.resumedFromBytes > 0 ? ` (resumed after ${mb(f.resumedFromBytes)})` : ""} in ${(f.ms / 1000).toFixed(1)} s${speed} from ${f.url}\n  sha256 ${f.sha256}: ${check}\n`);
    }
    process.stdout.write(`Pulled ${result.id}: ${result.path}\n`);
    return 0;
  } catch (error) {
    bar.done();
    throw error;
  } finally {
    process.removeListener("SIGINT", onSignal);
  }
}

/** A progress bar on stderr: redrawn in place on a terminal, one line per 10% otherwise (logs, CI). */
function progressBar(): { update: (p: PullProgress) => void; done: () => void } {
  const tty = process.stderr.isTTY === true;
  const started = performance.now();
  let lastTenth = -1;
  let drawn = false;
  return {
    update(p) {
      const fraction = p.totalBytes > 0 ? Math.min(1, p.receivedBytes / p.totalBytes) : 0;
      const seconds = (performance.now() - started) / 1000;
      const speed = seconds > 0.5 ? ` ${mb(p.receivedBytes / seconds)}/s` : "";
      const width = 24;
      const filled = Math.round(fraction * width);
      const line = `${p.id} [${"#".repeat(filled)}${".".repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}% ${mb(p.receivedBytes)}/${mb(p.totalBytes)}${speed} from ${p.host}${p.fileCount > 1 ? ` (file ${p.fileIndex + 1}/${p.fileCount})` : ""}`;
      if (tty) {
        process.stderr.write(`\r${line}\u001b[K`);
        drawn = true;
      } else {
        const tenth = Math.floor(fraction * 10);
        if (tenth !== lastTenth) {
          lastTenth = tenth;
          process.stderr.write(`${line}\n`);
        }
      }
    },
    done() {
      if (tty && drawn) process.stderr.write("\n");
      drawn = false;
    },
  };
}

/** What a download's hash was checked against, in words. */
const CHECKED: Record<"pinned" | "x-linked-etag" | "none", string> = {
  pinned: "matches the pinned SHA-256",
  "x-linked-etag": "matches the hash the source published (X-Linked-Etag); the catalogue pins none",
  none: "NOT verified: no reference hash was available; recorded for later `verify`",
};

const INTEGRITY_LABEL: Record<ModelListEntry["integrity"], string> = {
  pinned: "sha256 pinned",
  "checked-at-download": "checked at download",
  recorded: "recorded only",
  none: "no hash",
};

function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(bytes < 10e6 ? 1 : 0)} MB`;
}
