/**
 * Which ghost-text items count as newly shown. VS Code asks for inline completions again at
 * every keystroke, and while the user types a suggestion through, the server answers with the
 * rest of the same text under a new id; counted each time, one suggestion accepted after ten
 * typed characters would read as ten shown and one accepted, and the server's quiet rule would
 * silence ghost text for a user who takes it. So an item that continues the one shown last (the
 * same line reads the same once it is inserted) keeps that one's id and is not reported again.
 * No `vscode` import here, so the tests can run it.
 */
export interface ShownItem {
  uri: string;
  line: number;
  /** The line's text before the item's range. */
  before: string;
  text: string;
  /** The arguments of the item's accept command (its id). */
  args: unknown[] | undefined;
}

export class ShownTracker {
  private last: { uri: string; line: number; full: string; args: unknown[] | undefined } | undefined;

  /** Whether to report `item` as shown, and the command arguments it should carry. */
  note(item: ShownItem): { report: boolean; args: unknown[] | undefined } {
    const full = item.before + item.text;
    const last = this.last;
    if (last && last.uri === item.uri && last.line === item.line && last.full === full) return { report: false, args: last.args };
    this.last = { uri: item.uri, line: item.line, full, args: item.args };
    return { report: true, args: item.args };
  }

  /** The suggestion was accepted or the editor moved elsewhere: the next one is new. */
  reset(): void {
    this.last = undefined;
  }
}
