/**
 * Acceptance feedback (client → server notifications), stored in a local file only and used to
 * stay quiet where suggestions keep being dismissed. `item` is what the server sent: an inline
 * completion item or a next edit; the server finds the suggestion by the id in the arguments of
 * its `command` (`[{ id }]`), so a client passes the item back as it got it.
 *
 * - `textDocument/didShowCompletion` (Copilot's): the suggestion is on screen.
 * - `textDocument/didPartiallyAcceptCompletion` (Copilot's): the user took `acceptedLength`
 *   characters (UTF-16) of its text, e.g. one word.
 * - the item's command (`ifai.completion.accepted` / `ifai.nextEdit.accepted`), run on accepting it all.
 * - `ifai/didDismissSuggestion` (ifai's): the user dismissed it (a key, or leaving insert mode
 *   while it was shown). A suggestion replaced by typing is neither accepted nor dismissed.
 */
export const DidShowCompletionNotification = { method: "textDocument/didShowCompletion" } as const;
export const DidPartiallyAcceptCompletionNotification = { method: "textDocument/didPartiallyAcceptCompletion" } as const;
export const DidDismissSuggestionNotification = { method: "ifai/didDismissSuggestion" } as const;
/** The part of a suggestion the feedback notifications read: its command, whose first argument holds the id. */
export interface FeedbackItem {
  command?: { title?: string; command: string; arguments?: unknown[] };
  [key: string]: unknown;
}
export interface DidShowCompletionParams {
  item: FeedbackItem;
}
export interface DidPartiallyAcceptCompletionParams {
  item: FeedbackItem;
  acceptedLength: number;
}
export interface DidDismissSuggestionParams {
  item: FeedbackItem;
}
/** The command of each inline completion item: the client runs it when the user accepts the whole item (arguments: `[{ id }]`). */
export const CompletionCommands = { accepted: "ifai.completion.accepted" } as const;
/** The arguments of the accept commands. */
export interface SuggestionCommandArgs {
  id: string;
  uri?: string;
  version?: number;
}

/** Counts of one kind of suggestion. */
export interface FeedbackCounts {
  shown: number;
  accepted: number;
  partial: number;
  dismissed: number;
}
/** `ifai/status`'s `feedback`: lifetime counts (every window of this user) and the quiet periods in force. */
export interface FeedbackStatus {
  completion: FeedbackCounts;
  nextEdit: FeedbackCounts;
  quiet: Array<{ kind: "completion" | "nextEdit"; languageId: string; until: string }>;
}
