import fs from "node:fs";
import { defaultSettings } from "../config/schema.js";
import { applySettings } from "../config/validate.js";
import { CloudRegistry } from "../inference/cloud/CloudRegistry.js";
import { routerConfig } from "../inference/router/config.js";
import { Router } from "../inference/router/Router.js";
import { routerSummary } from "../inference/router/summary.js";
import { isTaskType, TASK_TYPES } from "../config/tasks.js";
import type { ModelStatus } from "../inference/types.js";
import { silentLogger } from "../util/logger.js";

export const ROUTE_HELP = `ifai-lsp route — show where the router would send a task, and why

Usage:
  ifai-lsp route --task TASK --tokens N [options]

Options:
  --task TASK          ${TASK_TYPES.join(" | ")} (default completion)
  --tokens N           tokens of context (default 0)
  --override local|cloud   an explicit per-request choice
  --file PATH          the document (sensitive files never go to the cloud)
  --settings FILE      a JSON file of ifai settings (as an editor would send them)
  --set KEY=VALUE      one setting (repeatable), e.g. --set router.preference=cloud
  --local-tps N        assume the local model measured N tokens/s
  --local-missing      assume the local model cannot be loaded
  --json               print the decision as JSON

This evaluates the current settings once, offline; nothing is sent anywhere. The live log of a
running server (the last decisions, with counts per backend and reason) is the LSP request
ifai/routeLog.
`;

/** `ifai-lsp route`: the router's decision and its reasons for the given settings. */
export function runRoute(args: string[], env: NodeJS.ProcessEnv = process.env, out: (s: string) => void = (s) => void process.stdout.write(s)): number {
  const value = (flag: string): string | undefined => {
    const i = args.indexOf(flag);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const fail = (message: string): number => {
    process.stderr.write(`ifai-lsp route: ${message}\n`);
    return 2;
  };
  const task = value("--task") ?? "completion";
  if (!isTaskType(task)) return fail(`unknown task "${task}"; tasks: ${TASK_TYPES.join(", ")}`);
  const tokens = Number(value("--tokens") ?? "0");
  if (!Number.isFinite(tokens) || tokens < 0) return fail(`--tokens must be a number of tokens, got "${value("--tokens")}"`);
  const override = value("--override");
  if (override !== undefined && override !== "local" && override !== "cloud") return fail(`--override must be local or cloud, got "${override}"`);

  let settings = defaultSettings();
  const problems: string[] = [];
  const settingsFile = value("--settings");
  if (settingsFile) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(fs.readFileSync(settingsFile, "utf8"));
    } catch (error) {
      return fail(`cannot read settings from ${settingsFile}: ${error instanceof Error ? error.message : String(error)}`);
    }
    const r = applySettings(parsed, settings);
    settings = r.settings;
    problems.push(...r.problems);
  }
  for (let i = 0; i < args.length; i++) {
    if (args[i] !== "--set") continue;
    const pair = args[i + 1] ?? "";
    const eq = pair.indexOf("=");
    if (eq <= 0) return fail(`--set needs KEY=VALUE, got "${pair}"`);
    const key = pair.slice(0, eq);
    const raw = pair.slice(eq + 1);
    let v: unknown = raw;
    try {
      v = JSON.parse(raw);
    } catch {
      // A bare word is a string value.
    }
    const r = applySettings({ [key]: v }, settings);
    settings = r.settings;
    problems.push(...r.problems);
  }

  const tps = value("--local-tps");
  const local: ModelStatus = args.includes("--local-missing")
    ? { state: "error", modelPath: settings["model.path"], message: "assumed missing (--local-missing)" }
    : { state: "ready", modelPath: settings["model.path"], ...(tps !== undefined ? { lastTokensPerSecond: Number(tps) } : {}) };
  const cloud = new CloudRegistry(silentLogger(), env);
  cloud.configure(settings);
  const config = routerConfig(settings, env);
  const router = new Router(config, { localStatus: () => local, cloudProvider: (t) => cloud.providerFor(t) }, silentLogger());
  const file = value("--file");
  const decision = router.decide({
    task,
    contextTokens: tokens,
    ...(override ? { override } : {}),
    ...(file ? { uri: file } : {}),
  });

  if (args.includes("--json")) {
    out(`${JSON.stringify({ decision, problems })}\n`);
    return 0;
  }
  for (const p of problems) out(`warning: ${p}\n`);
  out(`${decision.backend}${decision.backend === "cloud" && decision.provider ? ` (${decision.provider})` : ""}\n`);
  for (const reason of decision.reasons) out(`  because: ${reason}\n`);
  if (decision.fallback) out(`  on failure: fall back to ${decision.fallback}\n`);
  out("\nsettings:\n");
  for (const line of routerSummary(config, cloud)) out(`  ${line}\n`);
  return 0;
}
