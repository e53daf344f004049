import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { defaultSettings, settingKeys, settingsSchema } from "../src/config/schema.js";
import { applySettings, flattenSettings } from "../src/config/validate.js";
import { resolveModelPath, cacheDir } from "../src/config/paths.js";
import { renderConfigurationDoc } from "../src/config/docs.js";
import { projectRoot } from "./helpers/paths.js";

describe("settings", () => {
  it("every key has a description and a default of its declared type", () => {
    for (const key of settingKeys) {
      const spec = settingsSchema[key];
      expect(spec.description.length, key).toBeGreaterThan(20);
      expect(typeof spec.default, key).toBe(spec.type);
    }
  });

  it("accepts nested, dotted and ifai-wrapped input alike", () => {
    const nested = applySettings({ completion: { debounceMs: 10 }, model: { threads: 2 } });
    const dotted = applySettings({ "completion.debounceMs": 10, "model.threads": 2 });
    const wrapped = applySettings({ ifai: { completion: { debounceMs: 10 }, "model.threads": 2 } });
    for (const r of [nested, dotted, wrapped]) {
      expect(r.problems).toEqual([]);
      expect(r.settings["completion.debounceMs"]).toBe(10);
      expect(r.settings["model.threads"]).toBe(2);
    }
  });

  it("rejects invalid values with a message naming the key and keeps the previous value", () => {
    const base = applySettings({ completion: { debounceMs: 10 } }).settings;
    const r = applySettings({ completion: { debounceMs: "fast", maxSuffixTokens: -1 }, model: { gpu: "tpu" }, bogus: 1 }, base);
    expect(r.settings["completion.debounceMs"]).toBe(10);
    expect(r.settings["completion.maxSuffixTokens"]).toBe(defaultSettings()["completion.maxSuffixTokens"]);
    expect(r.settings["model.gpu"]).toBe("auto");
    expect(r.problems.join("\n")).toMatch(/"completion\.debounceMs": expected a number, got "fast"; keeping 10/);
    expect(r.problems.join("\n")).toMatch(/"completion\.maxSuffixTokens": expected at least 0/);
    expect(r.problems.join("\n")).toMatch(/"model\.gpu": expected one of auto, cpu, metal, cuda, vulkan/);
    expect(r.problems.join("\n")).toMatch(/Unknown ifai setting "bogus"/);
  });

  it("rejects fractions for whole-number settings and non-objects as a whole", () => {
    expect(applySettings({ model: { threads: 1.5 } }).problems[0]).toMatch(/whole number/);
    const r = applySettings("yes please");
    expect(r.problems[0]).toMatch(/must be an object/);
    expect(r.settings).toEqual(defaultSettings());
  });

  it("flattens without descending into values", () => {
    expect([...flattenSettings({ a: { b: 1, c: { d: "x" } } })]).toEqual([["a.b", 1], ["a.c.d", "x"]]);
  });

  it("resolves the model path: explicit, ~ expansion, default in the cache folder", () => {
    expect(resolveModelPath("/models/a.gguf")).toBe("/models/a.gguf");
    expect(resolveModelPath("~/m.gguf")).toMatch(/m\.gguf$/);
    expect(resolveModelPath("~/m.gguf").startsWith("~")).toBe(false);
    expect(resolveModelPath("", { IFAI_CACHE_DIR: "/tmp/ifai-cache" })).toBe("/tmp/ifai-cache/models/qwen2.5-coder-0.5b-q4_k_m.gguf");
    expect(cacheDir({ XDG_CACHE_HOME: "/xdg" })).toBe(path.join("/xdg", "ifai-lsp"));
  });

  it("docs/configuration.md lists every key with its default, generated from the schema", () => {
    const doc = fs.readFileSync(path.join(projectRoot, "docs", "configuration.md"), "utf8");
    expect(doc).toBe(renderConfigurationDoc());
    for (const key of settingKeys) expect(doc).toContain(`\`${key}\``);
  });
});
