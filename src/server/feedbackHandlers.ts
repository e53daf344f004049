import { randomBytes } from "node:crypto";
import type { Connection } from "vscode-languageserver/node";
import type { Settings } from "../config/schema.js";
import { cacheDir } from "../config/paths.js";
import { FeedbackStore, type FeedbackSettings } from "../features/feedback/FeedbackStore.js";
import { feedbackPath, type SuggestionKind } from "../features/feedback/feedbackFile.js";
import { LruCache } from "../util/LruCache.js";
import type { Logger } from "../util/logger.js";
import type { CommandsApi } from "./commands.js";
import { guardNotification, InvalidParamsError } from "./guard.js";
import {
  CompletionCommands,
  DidDismissSuggestionNotification,
  DidPartiallyAcceptCompletionNotification,
  DidShowCompletionNotification,
  NextEditCommands,
  type DidDismissSuggestionParams,
  type DidPartiallyAcceptCompletionParams,
  type DidShowCompletionParams,
  type FeedbackItem,
  type FeedbackStatus,
  type SuggestionCommandArgs,
} from "./protocol.js";

export function feedbackSettings(settings: Settings): FeedbackSettings {
  return {
    persist: settings["feedback.store"],
    quiet: settings["feedback.quiet"],
    window: settings["feedback.quietWindow"],
    below: settings["feedback.quietBelow"],
    minutes: settings["feedback.quietMinutes"],
  };
}

/** Languages a kind keeps apart in the local file; the rest count as "other". */
const MAX_LANGUAGES = 100;

/** A suggestion the server gave out, by its id: what it was, and what the client said of it so far. */
interface Issued {
  kind: SuggestionKind;
  languageId: string;
  shown: boolean;
  outcome?: "accepted" | "partial" | "dismissed";
}

export interface FeedbackApi {
  /** A new suggestion's id, for the arguments of its command. */
  issue(kind: SuggestionKind, languageId: string): string;
  /** Whether automatic suggestions of this kind are quiet in this language now (a turned-away request is counted). */
  quiet(kind: SuggestionKind, languageId: string): boolean;
  status(): FeedbackStatus;
  configure(settings: Settings): void;
  dispose(): void;
}

/**
 * A language id as a key of the local file: editors send what they like in didOpen, so anything
 * unusual is counted as "other" rather than growing the file without bound.
 */
export function languageKey(languageId: string): string {
  return /^[A-Za-z0-9_.+#-]{1,40}$/.test(languageId) && !/^(__proto__|constructor|prototype)$/.test(languageId) ? languageId : "other";
}

/** The suggestion id in a command's first argument (`{ id }`, or a bare string as Copilot's commands carry). */
function idOf(args: unknown[] | undefined): string | undefined {
  const first = args?.[0];
  if (typeof first === "string") return first;
  if (typeof first === "object" && first !== null && typeof (first as SuggestionCommandArgs).id === "string") return (first as SuggestionCommandArgs).id;
  return undefined;
}

/**
 * Acceptance feedback: gives every suggestion an id (carried in its command), hears what became
 * of it — `textDocument/didShowCompletion`, `textDocument/didPartiallyAcceptCompletion`,
 * `ifai/didDismissSuggestion` and the accept commands — and keeps the counts in the local store,
 * which also decides where automatic suggestions stay quiet. Feedback on an id this server did
 * not give out (an old one, another server's, a made-up one) is ignored.
 */
export function registerFeedbackHandlers(deps: { connection: Connection; logger: Logger; commands: CommandsApi; settings: () => Settings; onQuietChange: () => void }): FeedbackApi {
  const { connection, commands } = deps;
  const log = deps.logger.child({ component: "feedback" });
  const store = new FeedbackStore(feedbackPath(cacheDir()), feedbackSettings(deps.settings()), log);
  store.onQuietChange(deps.onQuietChange);
  const issued = new LruCache<string, Issued>(2000);
  const prefix = randomBytes(4).toString("hex");
  let next = 0;
  // A client may open documents under any number of language ids: past a bound, new ones are
  // counted together, so the local file stays small.
  const bounded = (kind: SuggestionKind, languageId: string): string => {
    const known = store.languages(kind);
    return known.has(languageId) || known.count < MAX_LANGUAGES ? languageId : "other";
  };

  const find = (item: FeedbackItem | undefined, method: string): [string, Issued] | undefined => {
    const id = idOf(item?.command?.arguments);
    const entry = id === undefined ? undefined : issued.get(id);
    if (!entry || id === undefined) {
      log.debug({ method, id }, "feedback on a suggestion this server does not know; ignored");
      return undefined;
    }
    return [id, entry];
  };
  const show = (id: string, entry: Issued): void => {
    if (entry.shown) return;
    entry.shown = true;
    store.shown(entry.kind, entry.languageId, id);
  };
  const accept = (id: string, entry: Issued): void => {
    if (entry.outcome === "accepted") return;
    show(id, entry);
    store.accepted(entry.kind, entry.languageId, id, entry.outcome === "partial");
    entry.outcome = "accepted";
  };

  connection.onNotification(
    DidShowCompletionNotification.method,
    guardNotification(log, DidShowCompletionNotification.method, (params: DidShowCompletionParams) => {
      const found = find(params.item, DidShowCompletionNotification.method);
      if (found) show(...found);
    }),
  );
  connection.onNotification(
    DidPartiallyAcceptCompletionNotification.method,
    guardNotification(log, DidPartiallyAcceptCompletionNotification.method, (params: DidPartiallyAcceptCompletionParams) => {
      const found = find(params.item, DidPartiallyAcceptCompletionNotification.method);
      if (!found || params.acceptedLength <= 0) return;
      const [id, entry] = found;
      if (entry.outcome !== undefined) return;
      show(id, entry);
      store.partial(entry.kind, entry.languageId, id);
      entry.outcome = "partial";
    }),
  );
  connection.onNotification(
    DidDismissSuggestionNotification.method,
    guardNotification(log, DidDismissSuggestionNotification.method, (params: DidDismissSuggestionParams) => {
      const found = find(params.item, DidDismissSuggestionNotification.method);
      if (!found) return;
      const [id, entry] = found;
      if (entry.outcome !== undefined) return;
      show(id, entry);
      store.dismissed(entry.kind, entry.languageId, id);
      entry.outcome = "dismissed";
    }),
  );

  const acceptCommand = (name: string) => async (args: unknown[]) => {
    const first = args[0];
    if (args.length > 0 && typeof first !== "string" && (typeof first !== "object" || first === null || Array.isArray(first))) {
      throw new InvalidParamsError(`${name} takes [{ id }] (the arguments of the suggestion's command)`);
    }
    const found = find({ command: { command: name, arguments: args } }, name);
    if (found) accept(...found);
    return null;
  };
  commands.add(CompletionCommands.accepted, acceptCommand(CompletionCommands.accepted));
  commands.add(NextEditCommands.accepted, acceptCommand(NextEditCommands.accepted));

  return {
    issue(kind, languageId) {
      const id = `${prefix}-${(++next).toString(36)}`;
      issued.set(id, { kind, languageId: bounded(kind, languageKey(languageId)), shown: false });
      return id;
    },
    quiet: (kind, languageId) => store.quietUntil(kind, bounded(kind, languageKey(languageId))) !== undefined,
    status: () => store.summary(),
    configure(settings) {
      store.updateSettings(feedbackSettings(settings));
    },
    dispose: () => store.dispose(),
  };
}
