import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { resolveModelPath } from "../config/paths.js";
import { defaultSettings, type Settings } from "../config/schema.js";
import { applySettings } from "../config/validate.js";
import { ChatInputError, ChatService } from "../features/chat/ChatService.js";
import { TextDeltas } from "../features/chat/TextDeltas.js";
import { indexChatContext } from "../features/chat/indexContext.js";
import { DEFAULT_INDEX_SETTINGS, IndexService } from "../index/IndexService.js";
import { CloudRegistry } from "../inference/cloud/CloudRegistry.js";
import { LocalChatBackend } from "../inference/local/LocalChatBackend.js";
import { LocalModel } from "../inference/local/LocalModel.js";
import { routerConfig } from "../inference/router/config.js";
import { Router } from "../inference/router/Router.js";
import { ContextGate } from "../privacy/context.js";
import { configureEgress } from "../privacy/egress.js";
import { chatSettings } from "../server/chatHandlers.js";
import { modelOptions } from "../server/engine.js";
import { createLogger } from "../util/logger.js";

export const CHAT_HELP = `ifai-lsp chat "QUESTION" — ask the model, the answer streams to the terminal

Options:
  --codebase             add context from the code index of --dir (opened read-only; build it
                         with \`ifai-lsp index\`); "@codebase" in the question does the same
  --dir DIR              the indexed folder (default: the current folder)
  --backend local|cloud  where to run it (default: the router decides from the settings)
  --task TASK            router task type (default chat; e.g. explain, architecture)
  --max-tokens N         most tokens of the answer (default: chat.maxTokens)
  --settings FILE        a JSON file of ifai settings (as an editor would send them)
  --set KEY=VALUE        one setting (repeatable), e.g. --set model.threads=2
  --json                 print the whole result as one JSON line at the end instead of streaming

Environment: IFAI_MODEL (model file), IFAI_CACHE_DIR, IFAI_LOG_LEVEL (default warn here).
The route, model, sources and usage are printed to stderr after the answer.
`;

interface Parsed {
  question: string[];
  flags: Map<string, string | true>;
  sets: string[];
}

const VALUED = new Set(["dir", "backend", "task", "max-tokens", "settings", "set"]);

function parse(args: readonly string[]): Parsed {
  const out: Parsed = { question: [], flags: new Map(), sets: [] };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (!a.startsWith("--")) {
      out.question.push(a);
      continue;
    }
    const eq = a.indexOf("=");
    const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
    const value = eq > 0 ? a.slice(eq + 1) : VALUED.has(name) ? args[++i] : true;
    if (value === undefined) throw new Error(`--${name} needs a value`);
    if (name === "set") out.sets.push(String(value));
    else out.flags.set(name, value);
  }
  return out;
}

/** Settings for the command line: defaults, then --settings FILE, --set pairs, and IFAI_MODEL. */
function loadSettings(parsed: Parsed, env: NodeJS.ProcessEnv): { settings: Settings; problems: string[] } {
  let settings = defaultSettings();
  const problems: string[] = [];
  const apply = (input: unknown): void => {
    const r = applySettings(input, settings);
    settings = r.settings;
    problems.push(...r.problems);
  };
  const file = parsed.flags.get("settings");
  if (typeof file === "string") apply(JSON.parse(fs.readFileSync(file, "utf8")));
  for (const pair of parsed.sets) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new Error(`--set needs KEY=VALUE, got "${pair}"`);
    let v: unknown = pair.slice(eq + 1);
    try {
      v = JSON.parse(v as string);
    } catch {
      // A bare word is a string value.
    }
    apply({ [pair.slice(0, eq)]: v });
  }
  if (env.IFAI_MODEL && !parsed.sets.some((s) => s.startsWith("model.path="))) apply({ "model.path": env.IFAI_MODEL });
  return { settings, problems };
}

/** `ifai-lsp chat "QUESTION"`: the same chat pieces the server uses, in this process. */
export async function runChat(args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let parsed: Parsed;
  let loaded: { settings: Settings; problems: string[] };
  try {
    parsed = parse(args);
    loaded = loadSettings(parsed, env);
  } catch (error) {
    process.stderr.write(`ifai-lsp chat: ${error instanceof Error ? error.message : String(error)}\n`);
    return 2;
  }
  const { settings, problems } = loaded;
  for (const p of problems) process.stderr.write(`ifai-lsp chat: setting ignored: ${p}\n`);
  const question = parsed.question.join(" ").trim();
  if (!question) {
    process.stderr.write(`ifai-lsp chat: no question given.\n\n${CHAT_HELP}`);
    return 2;
  }
  const backend = parsed.flags.get("backend");
  if (backend !== undefined && backend !== "local" && backend !== "cloud") {
    process.stderr.write(`ifai-lsp chat: --backend must be local or cloud, got "${String(backend)}"\n`);
    return 2;
  }
  const maxTokens = Number(parsed.flags.get("max-tokens") ?? 0);
  const json = parsed.flags.has("json");
  // Logs go to stderr (warnings only unless IFAI_LOG_LEVEL says otherwise); stdout is the answer.
  const logger = createLogger({ level: "warn", file: "" }, env);

  const model = new LocalModel({ ...modelOptions(settings), modelPath: resolveModelPath(settings["model.path"], env), idleUnloadMs: 0 }, logger.child({ component: "local-model" }));
  const cloud = new CloudRegistry(logger.child({ component: "cloud" }), env);
  cloud.configure(settings);
  // The same privacy gate as the server: egress by local-only mode, context confined to --dir.
  configureEgress({ localOnly: settings["privacy.localOnly"], env });
  const gate = new ContextGate(() => [{ fsPath: path.resolve(String(parsed.flags.get("dir") ?? ".")) }]);
  const router = new Router(
    routerConfig(settings, env),
    { localStatus: () => model.status(), cloudProvider: (t) => cloud.providerFor(t), excluded: (uri) => gate.documentRefusal(uri), contextExcluded: (source) => gate.contextRefusal(source) },
    logger.child({ component: "router" }),
  );
  const local = new LocalChatBackend(model, logger.child({ component: "chat" }), () => ({ contextSize: settings["chat.contextSize"], ...(settings["chat.threads"] > 0 ? { threads: settings["chat.threads"] } : {}) }));

  let index: IndexService | undefined;
  const codebase = parsed.flags.has("codebase") || /(^|\s)@codebase\b/i.test(question);
  if (codebase) {
    const dir = path.resolve(String(parsed.flags.get("dir") ?? "."));
    index = new IndexService({ logger, workers: 0, env, onProblem: (m) => process.stderr.write(`ifai-lsp chat: ${m}\n`) });
    await index.configure({
      ...DEFAULT_INDEX_SETTINGS,
      uri: settings["index.uri"],
      readOnly: true,
      watch: false,
      embeddingModelDir: settings["index.embeddingModelDir"],
      embeddingModel: settings["index.embeddingModel"],
      lexicalWeight: settings["index.search.lexicalWeight"],
      vectorWeight: settings["index.search.vectorWeight"],
      searchCandidates: settings["index.search.candidates"],
    });
    await index.setFolders([{ uri: pathToFileURL(dir).href }]);
    await index.whenIdle();
  }

  const service = new ChatService({ router, local, cloud }, index ? indexChatContext(index) : undefined, () => chatSettings(settings), logger.child({ component: "chat" }));
  const controller = new AbortController();
  const onSigint = (): void => controller.abort();
  process.once("SIGINT", onSigint);
  const deltas = new TextDeltas((delta) => {
    if (!json) process.stdout.write(delta);
  });
  try {
    const out = await service.chat(
      {
        messages: [{ role: "user", content: question }],
        ...(codebase ? { codebase: true } : {}),
        ...(backend ? { override: backend } : {}),
        ...(typeof parsed.flags.get("task") === "string" ? { task: parsed.flags.get("task") as string } : {}),
        ...(maxTokens > 0 ? { maxTokens } : {}),
      },
      (text) => deltas.update(text),
      controller.signal,
    );
    deltas.finish(out.content);
    if (json) {
      process.stdout.write(`${JSON.stringify(out)}\n`);
    } else {
      process.stdout.write("\n");
      const usage = out.usage;
      process.stderr.write(`\n— ${out.servedBy} (${out.model}) · ${out.reasons.join("; ")}\n`);
      process.stderr.write(
        `— ${usage.promptTokens} prompt + ${usage.completionTokens} answer tokens${usage.timeToFirstTokenMs !== undefined ? ` · first token ${usage.timeToFirstTokenMs} ms` : ""}${usage.tokensPerSecond !== undefined ? ` · ${usage.tokensPerSecond} tokens/s` : ""} · ${out.stopReason}\n`,
      );
      for (const s of out.sources) process.stderr.write(`— source: ${s.path}:${s.range.start.line + 1}-${s.range.end.line + 1} (score ${s.score.toFixed(3)})\n`);
      for (const n of out.notices) process.stderr.write(`— note: ${n}\n`);
    }
    return out.stopReason === "aborted" ? 130 : 0;
  } catch (error) {
    if (error instanceof ChatInputError) {
      process.stderr.write(`ifai-lsp chat: ${error.message}\n`);
      return 2;
    }
    process.stderr.write(`ifai-lsp chat: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  } finally {
    process.off("SIGINT", onSigint);
    await index?.dispose();
    await model.dispose();
  }
}
