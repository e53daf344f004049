import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { FeedbackStore, type FeedbackSettings } from "../src/features/feedback/FeedbackStore.js";
import { feedbackPath, readFeedback } from "../src/features/feedback/feedbackFile.js";
import { runStats } from "../src/cli/stats.js";
import { silentLogger } from "../src/util/logger.js";
import { tempDir } from "./helpers/models.js";

const settings: FeedbackSettings = { persist: true, quiet: true, window: 4, below: 0.3, minutes: 10 };
const dirs: Array<ReturnType<typeof tempDir>> = [];
afterEach(() => {
  for (const d of dirs.splice(0)) d.cleanup();
});

/** A store on a fresh folder with a clock the test moves. */
function setup(over: Partial<FeedbackSettings> = {}) {
  const dir = tempDir("ifai-feedback-");
  dirs.push(dir);
  const clock = { now: 1_000_000 };
  const file = feedbackPath(dir.path);
  const make = (): FeedbackStore => new FeedbackStore(file, { ...settings, ...over }, silentLogger(), 60_000, () => clock.now);
  return { dir, file, clock, make };
}

describe("FeedbackStore", () => {
  it("counts each outcome per kind and language, and a full acceptance after a partial one counts once as accepted", () => {
    const { make } = setup({ quiet: false });
    const store = make();
    store.shown("completion", "python", "a");
    store.partial("completion", "python", "a");
    store.accepted("completion", "python", "a", true);
    store.shown("completion", "python", "b");
    store.dismissed("completion", "python", "b");
    store.shown("nextEdit", "typescript", "c");
    const data = store.snapshot();
    expect(data.kinds.completion.python).toMatchObject({ shown: 2, accepted: 1, partial: 0, dismissed: 1, recent: "ad" });
    expect(data.kinds.nextEdit.typescript).toMatchObject({ shown: 1, accepted: 0, recent: "o" });
    expect(store.summary()).toEqual({
      completion: { shown: 2, accepted: 1, partial: 0, dismissed: 1 },
      nextEdit: { shown: 1, accepted: 0, partial: 0, dismissed: 0 },
      quiet: [],
    });
  });

  it("goes quiet for a kind in a language when too few of the latest shown were accepted, for the set time, then starts afresh", () => {
    const { make, clock } = setup();
    const store = make();
    let quietEvents = 0;
    store.onQuietChange(() => quietEvents++);
    // One accepted in the first four: 25 % < 30 %.
    for (const [i, outcome] of ["accepted", "dismissed", "dismissed"].entries()) {
      store.shown("nextEdit", "go", `n${i}`);
      if (outcome === "accepted") store.accepted("nextEdit", "go", `n${i}`, false);
      else store.dismissed("nextEdit", "go", `n${i}`);
      expect(store.quietUntil("nextEdit", "go")).toBeUndefined();
    }
    // The fourth, while it may still be on screen, does not count yet; dismissed, it does.
    store.shown("nextEdit", "go", "n3");
    expect(quietEvents).toBe(0);
    store.dismissed("nextEdit", "go", "n3");
    expect(quietEvents).toBe(1);
    // Completions in Go and next edits elsewhere are not affected by Go's next edits.
    expect(store.quietUntil("nextEdit", "go")).toBe(clock.now + 10 * 60_000);
    expect(store.quietUntil("completion", "go")).toBeUndefined();
    expect(store.quietUntil("nextEdit", "rust")).toBeUndefined();
    expect(store.summary().quiet).toEqual([{ kind: "nextEdit", languageId: "go", until: new Date(clock.now + 600_000).toISOString() }]);
    expect(store.snapshot().kinds.nextEdit.go).toMatchObject({ quietPeriods: 1, quietSkips: 1, recent: "" });
    clock.now += 10 * 60_000 + 1;
    expect(store.quietUntil("nextEdit", "go")).toBeUndefined();
    // Two accepted of four (one replaced unanswered): 50 %, no new quiet period.
    for (let i = 0; i < 5; i++) {
      store.shown("nextEdit", "go", `m${i}`);
      if (i % 2 === 0) store.accepted("nextEdit", "go", `m${i}`, false);
    }
    expect(store.quietUntil("nextEdit", "go")).toBeUndefined();
    expect(quietEvents).toBe(1);
  });

  it("with quiet off never turns a request away", () => {
    const { make } = setup({ quiet: false });
    const store = make();
    for (let i = 0; i < 10; i++) {
      store.shown("completion", "c", `x${i}`);
      store.dismissed("completion", "c", `x${i}`);
    }
    expect(store.quietUntil("completion", "c")).toBeUndefined();
    expect(store.summary().quiet).toEqual([]);
  });

  it("writes the file atomically on flush; two servers sharing it add up their counts", () => {
    const { make, file, dir } = setup({ quiet: false });
    const one = make();
    const two = make();
    one.shown("completion", "python", "a");
    one.accepted("completion", "python", "a", false);
    two.shown("completion", "python", "b");
    two.dismissed("completion", "python", "b");
    expect(fs.existsSync(file)).toBe(false);
    one.flush();
    two.flush();
    const data = readFeedback(file);
    expect(data.kinds.completion.python).toMatchObject({ shown: 2, accepted: 1, dismissed: 1 });
    // Nothing but the file itself is left in the folder (no temporary files).
    expect(fs.readdirSync(dir.path)).toEqual([path.basename(file)]);
    // A new server starts from the file.
    expect(make().summary().completion).toEqual({ shown: 2, accepted: 1, partial: 0, dismissed: 1 });
  });

  it("keeps nothing on disk with persist off", () => {
    const { make, file } = setup({ persist: false });
    const store = make();
    store.shown("completion", "python", "a");
    store.flush();
    expect(fs.existsSync(file)).toBe(false);
    expect(store.summary().completion.shown).toBe(1);
  });

  it("keeps language ids that name Object's own properties as plain records", () => {
    const { make } = setup({ quiet: false });
    const store = make();
    for (const lang of ["__proto__", "constructor", "toString"]) {
      store.shown("completion", lang, `id-${lang}`);
      store.accepted("completion", lang, `id-${lang}`, false);
    }
    store.flush();
    const data = make().snapshot();
    for (const lang of ["__proto__", "constructor", "toString"]) expect(data.kinds.completion[lang], lang).toMatchObject({ shown: 1, accepted: 1 });
    expect(make().summary().completion).toEqual({ shown: 3, accepted: 3, partial: 0, dismissed: 0 });
  });

  it("reads a damaged or foreign file as zero counts", () => {
    const { make, file } = setup();
    fs.writeFileSync(file, '{"kinds":{"completion":{"python":{"shown":"many","accepted":-3,"recent":"zzad"}},"nextEdit":7}}');
    const data = make().snapshot();
    expect(data.kinds.completion.python).toMatchObject({ shown: 0, accepted: 0, recent: "ad" });
    expect(data.kinds.nextEdit).toEqual({});
    fs.writeFileSync(file, "not json");
    expect(make().summary().completion.shown).toBe(0);
  });

  it("ifai-lsp stats prints the counts per language, and --json the file with totals", () => {
    const { make, dir } = setup({ quiet: false });
    const store = make();
    store.shown("nextEdit", "python", "a");
    store.accepted("nextEdit", "python", "a", false);
    store.shown("nextEdit", "python", "b");
    store.flush();
    let text = "";
    expect(runStats([], { IFAI_CACHE_DIR: dir.path }, (s) => (text += s))).toBe(0);
    expect(text).toContain("next edits: 2 shown, 1 accepted, 0 partially, 0 dismissed, acceptance 50%");
    expect(text).toMatch(/\n {2}python +2 shown +1 accepted/);
    let json = "";
    expect(runStats(["--json"], { IFAI_CACHE_DIR: dir.path }, (s) => (json += s))).toBe(0);
    const parsed = JSON.parse(json);
    expect(parsed.totals.nextEdit).toEqual({ shown: 2, accepted: 1, partial: 0, dismissed: 0 });
    expect(parsed.kinds.nextEdit.python.recent).toBe("ao");
    expect(runStats(["--nope"], { IFAI_CACHE_DIR: dir.path }, () => undefined)).toBe(2);
  });
});
