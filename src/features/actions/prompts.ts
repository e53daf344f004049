import type { ChatTurn } from "../../inference/types.js";
import type { ContextChunk } from "../../index/types.js";
import type { TestPlan } from "./testFramework.js";
import type { ActionKind } from "./types.js";

/** Markdown fence names for the languages editors report. */
const FENCE: Record<string, string> = {
  typescriptreact: "tsx",
  javascriptreact: "jsx",
  shellscript: "bash",
  csharp: "csharp",
  "cuda-cpp": "cpp",
};

export function fenceName(languageId: string): string {
  return FENCE[languageId] ?? languageId;
}

function fence(text: string, lang: string): string {
  const ticks = text.includes("```") ? "````" : "```";
  return `${ticks}${lang}\n${text}${text.endsWith("\n") ? "" : "\n"}${ticks}`;
}

/**
 * Short and strict, because small instruct models (Qwen2.5-Coder 0.5B–7B) follow one clear
 * instruction better than a long list: one fenced block, nothing else.
 */
const SYSTEM_CODE = "You are a careful senior programmer working inside a code editor. Reply with exactly one fenced code block and nothing else: no explanation before or after it.";
const SYSTEM_EXPLAIN = "You are a senior programmer explaining code to a colleague inside a code editor. Be concise: a short paragraph, then a few bullet points if they help.";

export interface PromptInput {
  kind: ActionKind;
  languageId: string;
  /** Path shown to the model. */
  path: string;
  /** The code the action works on. */
  code: string;
  /** For extract: the selected lines inside `code`. */
  selection?: string;
  /** For fix: the diagnostic. */
  diagnostic?: string;
  /** For tests. */
  plan?: TestPlan;
  planPath?: string;
  existingTests?: string;
  context: readonly ContextChunk[];
}

function related(context: readonly ContextChunk[]): string {
  if (context.length === 0) return "";
  const parts = context.map((c) => `${c.path}${c.symbol ? ` (${c.symbol})` : ""}:\n${fence(c.text, fenceName(c.language))}`);
  return `Related code from the project, for reference only:\n\n${parts.join("\n\n")}\n\n`;
}

function task(input: PromptInput, lang: string): string {
  switch (input.kind) {
    case "rewrite":
      return `Simplify and improve this code: clearer names and structure, no change in behaviour, same public names and signatures. Reply with the complete rewritten code in one \`\`\`${lang} block.`;
    case "docs":
      return `Add a documentation comment in the usual style for ${input.languageId} (JSDoc, docstring, Go doc comment, rustdoc, Javadoc…) to the definition below. Do not change the code itself. Reply with the documented code in one \`\`\`${lang} block.`;
    case "extract":
      return `Extract these selected lines into a new, well-named function and call it where they were:\n${fence(input.selection ?? "", lang)}\nReply with the complete updated code (the new function and the rewritten original) in one \`\`\`${lang} block.`;
    case "fix":
      return `Fix this problem reported by the editor: ${input.diagnostic ?? "(no message)"}. Change as little as possible. Reply with the complete corrected code in one \`\`\`${lang} block.`;
    case "explain":
      return "Explain what this code does, how, and anything surprising in it.";
    case "tests": {
      const plan = input.plan!;
      const where = `${input.planPath ?? plan.testPath}`;
      const imports = plan.importHint ? ` Import the code under test like this: ${plan.importHint}.` : "";
      if (plan.framework === "cargo test") {
        return `Write unit tests for this code with cargo test, as a #[cfg(test)] module named ${input.existingTests?.includes("mod tests") ? "generated_tests" : "tests"} that starts with use super::*;. Reply with only that module in one \`\`\`rust block.`;
      }
      if (input.existingTests !== undefined) {
        return `Write new unit tests for this code with ${plan.framework}, to be appended to the end of the existing test file ${where}:\n${fence(input.existingTests, lang)}\nReply with only the new test code to append (no imports the file already has) in one \`\`\`${lang} block.`;
      }
      return `Write unit tests for this code with ${plan.framework}, as the complete new test file ${where}.${imports} Cover normal cases and edge cases. Reply with the whole file in one \`\`\`${lang} block.`;
    }
  }
}

/** The chat messages for one action, in the Qwen2.5-Coder instruct style. */
export function actionPrompt(input: PromptInput): ChatTurn[] {
  const lang = fenceName(input.languageId);
  const user = `${related(input.context)}File ${input.path}:\n${fence(input.code, lang)}\n\n${task(input, lang)}`;
  return [
    { role: "system", content: input.kind === "explain" ? SYSTEM_EXPLAIN : SYSTEM_CODE },
    { role: "user", content: user },
  ];
}
