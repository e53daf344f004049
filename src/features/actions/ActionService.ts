import path from "node:path";
import { pathToFileURL } from "node:url";
import type { Logger } from "../../util/logger.js";
import type { TaskType } from "../../config/tasks.js";
import type { ContextChunk } from "../../index/types.js";
import { extractCode } from "./extractCode.js";
import { actionPrompt } from "./prompts.js";
import { grammarFor, syntaxErrors } from "./syntax.js";
import { findRegion, type Region } from "./regions.js";
import { looksLikeTests, planTests, type TestPlan } from "./testFramework.js";
import { indentUnit, lineEnding, minimalChange, reindent, TextSnapshot } from "./textEdits.js";
import type { ActionKind, ActionOutcome, ActionSettings, ActionTarget, ContextBuilder, FileChange, ProjectFiles, RoutedChat, RoutedChatAnswer } from "./types.js";

export interface ActionDeps {
  chat: RoutedChat;
  /** Whether the router would let this task, with these context sources, go to the cloud (for the retry of a broken reply). */
  cloudAllowed: (task: TaskType, uri: string, sources: readonly string[]) => boolean;
  context?: ContextBuilder;
  files: ProjectFiles;
  settings: () => ActionSettings;
  logger: Logger;
}

/** Regions larger than this are a deep refactor for the router rather than a simple one. */
const DEEP_REFACTOR_LINES = 60;

export type ProgressReport = (message: string) => void;

/**
 * Computes what an AI code action does: finds the code it works on, asks the routed model with
 * related code from the index, takes the code out of the reply and turns it into a minimal edit
 * in the file's indentation and line endings. An edit that adds syntax errors (tree-sitter, error
 * nodes before vs after) is never offered; the cloud may be tried once instead where allowed.
 */
export class ActionService {
  constructor(private readonly deps: ActionDeps) {}

  /** `onText` sees the reply as it streams (explain's answer is shown while it is written). */
  async run(kind: ActionKind, target: ActionTarget, signal: AbortSignal, progress: ProgressReport = () => undefined, onText?: (textSoFar: string) => void): Promise<ActionOutcome> {
    const notes: string[] = [];
    const outcome = await this.compute(kind, target, signal, progress, notes, onText);
    if (notes.length > 0 && outcome.message !== "cancelled") outcome.message = [...notes, ...(outcome.message ? [outcome.message] : [])].join("; ");
    return outcome;
  }

  private async compute(kind: ActionKind, target: ActionTarget, signal: AbortSignal, progress: ProgressReport, notes: string[], onText?: (textSoFar: string) => void): Promise<ActionOutcome> {
    const snapshot = new TextSnapshot(target.text);
    if (snapshot.outside(target.range)) notes.push("the selection reached past the end of the document; the part inside it was used");
    const range = snapshot.clamp(target.range);
    const grammar = grammarFor(target.languageId, target.filePath);
    const region = await findRegion(kind, snapshot, range, grammar, target.diagnostic);
    if ("problem" in region) return { refused: true, message: region.problem };
    const code = snapshot.text.slice(region.start, region.end);
    const task = taskFor(kind, region);
    progress("collecting related code");
    const context = await this.relatedCode(target, code, region, signal);
    signal.throwIfAborted();

    let plan: TestPlan | undefined;
    let existingTests: string | undefined;
    if (kind === "tests") {
      if (!target.filePath) return { refused: true, message: "unit tests can only be generated for a file on disk" };
      plan = await planTests(target.filePath, target.languageId, this.deps.files);
      if (plan.assumed) notes.push(plan.assumed);
      if (plan.exists) existingTests = plan.testPath === target.filePath ? target.text : ((await this.deps.files.read(plan.testPath)) ?? "");
    }
    const messages = actionPrompt({
      kind,
      languageId: target.languageId,
      path: displayPath(target),
      code,
      ...(kind === "extract" ? { selection: snapshot.text.slice(snapshot.offsetAt(range.start), snapshot.offsetAt(range.end)) } : {}),
      ...(target.diagnostic ? { diagnostic: target.diagnostic.message } : {}),
      ...(plan ? { plan, planPath: path.basename(plan.testPath) } : {}),
      ...(existingTests !== undefined ? { existingTests } : {}),
      context,
    });
    const sources = context.map((c) => ({ uri: c.uri, range: c.range, score: c.score }));
    // Every file other than the document whose content is in the prompt: the router's privacy gate
    // refuses the cloud for the whole request when one of them must stay local (an ignored test
    // file, a file outside the workspace). Local models may use them: nothing leaves the machine.
    const contextFiles = [...new Set([...context.map((c) => c.uri), ...(plan && existingTests !== undefined && plan.testPath !== target.filePath ? [plan.testPath] : [])])];

    const attempt = async (override?: "cloud"): Promise<{ answer?: RoutedChatAnswer; outcome: ActionOutcome }> => {
      const s = this.deps.settings();
      let last = 0;
      progress(override ? "asking the cloud model again" : "generating");
      const answer = await this.deps.chat(
        {
          task,
          messages,
          maxTokens: s.maxTokens,
          maxTimeMs: s.maxTimeMs,
          temperature: s.temperature,
          uri: target.uri,
          sources: contextFiles,
          ...(override ? { override } : {}),
          onText: (soFar) => {
            onText?.(soFar);
            if (soFar.length - last < 80) return;
            last = soFar.length;
            progress(`generating (${soFar.length} characters)`);
          },
        },
        signal,
      );
      if (!answer) return { outcome: { refused: true, message: "cancelled" } };
      const meta = { servedBy: answer.servedBy, reason: answer.reason, ...(answer.model ? { model: answer.model } : {}), sources };
      if (kind === "explain") {
        const text = answer.text.replace(/<\|(im_end|endoftext)\|>[\s\S]*$/, "").trim();
        return { answer, outcome: text ? { explanation: text, ...meta } : { refused: true, message: "the model's reply was empty", ...meta } };
      }
      const extracted = extractCode(answer.text, answer.stopReason);
      if (!extracted.ok) return { answer, outcome: { refused: true, message: `nothing was changed: ${extracted.problem}`, ...meta } };
      progress("checking the syntax of the edit");
      const built = kind === "tests" ? await this.testEdit(target, plan!, existingTests, extracted.code) : await this.regionEdit(kind, target, snapshot, region, grammar, extracted.code);
      if ("problem" in built) return { answer, outcome: { refused: true, message: `nothing was changed: ${built.problem}`, ...meta } };
      return { answer, outcome: { edit: built.edit, ...meta } };
    };

    let { answer, outcome } = await attempt();
    // A local reply that could not be used (broken syntax, cut off, not the code asked for) may be worth one cloud attempt.
    const unusable = outcome.refused === true && answer !== undefined && kind !== "explain";
    if (unusable && answer?.servedBy === "local" && this.deps.settings().cloudRetry && this.deps.cloudAllowed(task, target.uri, contextFiles) && !signal.aborted) {
      this.deps.logger.info({ kind, task, problem: outcome.message }, "local reply unusable; retrying in the cloud");
      const retry = await attempt("cloud");
      outcome = retry.outcome.refused ? { ...retry.outcome, message: `${outcome.message}; the cloud retry failed too: ${retry.outcome.message}` } : { ...retry.outcome, reason: `${retry.outcome.reason ?? ""}; retried in the cloud because the local reply was unusable (${outcome.message})` };
    }
    return outcome;
  }

  private async relatedCode(target: ActionTarget, code: string, region: Region, signal: AbortSignal): Promise<ContextChunk[]> {
    const budget = this.deps.settings().contextTokens;
    if (!this.deps.context || budget <= 0) return [];
    try {
      const result = await this.deps.context({ query: code.slice(0, 2000), uri: target.uri, cursor: { line: region.startLine, character: 0 }, tokenBudget: budget, k: 4, signal });
      // Code in other languages rarely helps an edit and costs the small model's attention.
      const family = languageFamily(target.languageId);
      return result.chunks.filter(
        (c) => languageFamily(c.language) === family && (c.uri !== target.uri || c.range.end.line < region.startLine || c.range.start.line > region.endLine),
      );
    } catch (error) {
      if (signal.aborted) throw error;
      this.deps.logger.debug({ err: error }, "no related code from the index");
      return [];
    }
  }

  /** The reply replaces the region; the edit is the part that actually changed. */
  private async regionEdit(
    kind: ActionKind,
    target: ActionTarget,
    snapshot: TextSnapshot,
    region: Region,
    grammar: ReturnType<typeof grammarFor>,
    code: string,
  ): Promise<{ edit: FileChange[] } | { problem: string }> {
    const old = snapshot.text.slice(region.start, region.end);
    const eol = lineEnding(snapshot.text);
    const base = region.wholeLines ? (/^[ \t]*/.exec(old)![0] ?? "") : "";
    // Blank lines around the block would become stray lines in the file.
    let replacement = reindent(code.replace(/^(\s*\n)+/, "").replace(/\s+$/, ""), base, indentUnit(snapshot.text), eol, region.wholeLines);
    if (kind === "docs") {
      // A reply that is only the comment (no code) goes in front of the definition.
      const firstCode = old.split(/\r?\n/).find((l) => l.trim())?.trim() ?? "";
      if (firstCode && !replacement.includes(firstCode)) replacement = `${replacement}${eol}${old}`;
    }
    const name = region.wholeLines ? definedName(old) : undefined;
    if (name && !new RegExp(`\\b${name.replace(/\$/g, "\\$")}\\b`).test(replacement)) return { problem: `the model's code no longer defines ${name}` };
    const change = minimalChange(snapshot, region.start, old, replacement);
    if (!change) return { problem: "the model proposed no change" };
    const after = snapshot.text.slice(0, region.start) + replacement + snapshot.text.slice(region.end);
    const problem = await syntaxProblem(snapshot.text, after, grammar);
    if (problem) return { problem };
    return { edit: [{ uri: target.uri, changes: [change] }] };
  }

  /** A new test file, or the tests appended to the end of the existing one. */
  private async testEdit(target: ActionTarget, plan: TestPlan, existing: string | undefined, code: string): Promise<{ edit: FileChange[] } | { problem: string }> {
    const uri = plan.testPath === target.filePath ? target.uri : pathToFileURL(plan.testPath).href;
    const grammar = grammarFor(target.languageId, plan.testPath);
    if (!looksLikeTests(code, plan.framework)) return { problem: `the model's reply holds no ${plan.framework} test` };
    if (existing === undefined) {
      const text = `${code.replace(/\r\n/g, "\n").replace(/\s+$/, "")}\n`.replace(/\n/g, lineEnding(target.text));
      const problem = await syntaxProblem("", text, grammar);
      if (problem) return { problem };
      return { edit: [{ uri, create: true, changes: [{ range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, newText: text }] }] };
    }
    const eol = lineEnding(existing || target.text);
    const snapshot = new TextSnapshot(existing);
    const end = snapshot.positionAt(existing.length);
    const separator = existing.length === 0 ? "" : existing.endsWith("\n") ? eol : `${eol}${eol}`;
    const added = `${separator}${code.replace(/\r\n/g, "\n").replace(/\s+$/, "").replace(/\n/g, eol)}${eol}`;
    const problem = await syntaxProblem(existing, existing + added, grammar);
    if (problem) return { problem };
    return { edit: [{ uri, changes: [{ range: { start: end, end }, newText: added }] }] };
  }
}

async function syntaxProblem(before: string, after: string, grammar: ReturnType<typeof grammarFor>): Promise<string | undefined> {
  const was = await syntaxErrors(before, grammar);
  const now = await syntaxErrors(after, grammar);
  if (was === undefined || now === undefined || now <= was) return undefined;
  return `the model's code would add ${now - was} syntax error${now - was === 1 ? "" : "s"} (tree-sitter found ${now} instead of ${was})`;
}

function taskFor(kind: ActionKind, region: Region): TaskType {
  switch (kind) {
    case "rewrite":
    case "extract":
      return region.endLine - region.startLine + 1 > DEEP_REFACTOR_LINES ? "deepRefactor" : "simpleRefactor";
    case "docs":
      return "docs";
    case "tests":
      return "unitTests";
    case "fix":
      return "fix";
    case "explain":
      return "explain";
  }
}

/**
 * The name a region defines (function, class, method…), which an edit of it must keep: a reply
 * that drops it is not a rewrite of this code, whatever it parses as.
 */
export function definedName(code: string): string | undefined {
  const head = code.split(/\r?\n/).filter((l) => l.trim() && !/^\s*(\/\/|#|\*|\/\*|@|"""|\/\/\/)/.test(l)).slice(0, 3).join("\n");
  const keyword = /\b(?:function\*?|def|func|fn|class|interface|struct|enum|trait|type|impl)\s+(?:\([^)]*\)\s*)?([A-Za-z_$][\w$]*)/.exec(head);
  if (keyword) return keyword[1];
  // A method without a keyword (TypeScript, Java, C#): a name and parameters on a line that opens a body.
  const first = head.split("\n")[0] ?? "";
  if (!/[{]\s*$/.test(first)) return undefined;
  const method = /^\s*(?:(?:public|private|protected|static|async|override|readonly|export|final|abstract|synchronized)\s+)*(?:[\w<>[\],.?]+\s+)?([A-Za-z_$][\w$]*)\s*\(/.exec(first);
  const name = method?.[1];
  return name && !/^(if|for|while|switch|return|catch|with|function|else|do|try)$/.test(name) ? name : undefined;
}

function languageFamily(languageId: string): string {
  return /^(typescript|typescriptreact|javascript|javascriptreact)$/.test(languageId) ? "js" : /^(c|cpp|cuda-cpp)$/.test(languageId) ? "c" : languageId;
}

function displayPath(target: ActionTarget): string {
  if (!target.filePath) return target.uri;
  return path.basename(target.filePath);
}
