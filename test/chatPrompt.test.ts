import { describe, expect, it } from "vitest";
import { estimateTokens, fitConversation, systemMessage, takeCodebaseMention } from "../src/features/chat/chatPrompt.js";
import { TextDeltas } from "../src/features/chat/TextDeltas.js";
import type { ChatTurn } from "../src/inference/types.js";

describe("chat prompt pieces", () => {
  it("finds an @codebase mention and removes it from the question", () => {
    expect(takeCodebaseMention("@codebase where is the cache evicted?")).toEqual({ text: "where is the cache evicted?", mentioned: true });
    expect(takeCodebaseMention("where is it? @Codebase")).toEqual({ text: "where is it?", mentioned: true });
    expect(takeCodebaseMention("mail me@codebase.org")).toEqual({ text: "mail me@codebase.org", mentioned: false });
    expect(takeCodebaseMention("no mention")).toEqual({ text: "no mention", mentioned: false });
  });

  it("quotes sources and the selection in fences their text cannot close, naming files and lines", () => {
    const text = systemMessage(
      [{ uri: "file:///w/a.md", path: "a.md", range: { start: { line: 4, character: 0 }, end: { line: 9, character: 0 } }, score: 1, language: "markdown", symbol: "Intro", text: "```js\nx\n```" }],
      { path: "src/b.ts", language: "typescript", startLine: 0, endLine: 2, text: "let y = 1;" },
      "Answer in French.",
    );
    expect(text).toContain("a.md (lines 5–10), Intro:\n````markdown\n```js\nx\n```\n````");
    expect(text).toContain("The user selected this code in src/b.ts (lines 1–3):\n```typescript\nlet y = 1;\n```");
    expect(text).toContain("Answer in French.");
  });

  it("leaves a conversation that fits untouched", () => {
    const turns: ChatTurn[] = [{ role: "system", content: "s" }, { role: "user", content: "hello" }];
    expect(fitConversation(turns, 100)).toEqual({ messages: turns, notices: [] });
  });

  it("drops the oldest turns first, keeping the system message and the last turn", () => {
    const turns: ChatTurn[] = [{ role: "system", content: "rules" }];
    for (let i = 0; i < 200; i++) turns.push({ role: i % 2 ? "assistant" : "user", content: `turn ${i} `.repeat(10) });
    const { messages, notices } = fitConversation(turns, 500);
    expect(messages[0]).toEqual({ role: "system", content: "rules" });
    expect(messages.at(-1)).toEqual(turns.at(-1));
    expect(messages.reduce((n, m) => n + estimateTokens(m.content) + 4, 0)).toBeLessThanOrEqual(500);
    expect(notices).toEqual([`${201 - messages.length} earlier messages were left out to fit the prompt budget of 500 tokens`]);
  });

  it("cuts a huge message in its middle, keeping its start and end", () => {
    const huge = `START ${"x".repeat(1_000_000)} END?`;
    const { messages, notices } = fitConversation([{ role: "user", content: huge }], 1000);
    const content = messages[0]!.content;
    expect(content.startsWith("START ")).toBe(true);
    expect(content.endsWith(" END?")).toBe(true);
    expect(content).toContain("[… trimmed to fit the prompt budget …]");
    expect(estimateTokens(content) + 4).toBeLessThanOrEqual(1000);
    expect(notices[0]).toMatch(/a user message of 1000011 characters was cut to \d+ in its middle/);
  });
});

describe("TextDeltas", () => {
  it("sends only new text, holding back a trailing replacement character until it resolves", () => {
    const sent: Array<[string, number]> = [];
    const deltas = new TextDeltas((d, seq) => sent.push([d, seq]));
    deltas.update("Hel");
    deltas.update("Hello");
    deltas.update("Hello \uFFFD");
    deltas.update("Hello é");
    deltas.update("Hello é");
    deltas.finish("Hello é!");
    expect(sent).toEqual([
      ["Hel", 0],
      ["lo", 1],
      [" ", 2],
      ["é", 3],
      ["!", 4],
    ]);
    expect(deltas.text).toBe("Hello é!");
  });

  it("sends a replacement character that stays at the end once the answer is final", () => {
    const sent: string[] = [];
    const deltas = new TextDeltas((d) => sent.push(d));
    deltas.update("ab\uFFFD");
    deltas.finish("ab\uFFFD");
    expect(sent.join("")).toBe("ab\uFFFD");
  });
});
