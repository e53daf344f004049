import * as vscode from "vscode";
import { ExecuteCommandRequest, type LanguageClient } from "vscode-languageclient/node";
import {
  CopilotInlineEditRequest,
  DidDismissSuggestionNotification,
  DidShowCompletionNotification,
  type CopilotInlineEdit,
  type CopilotInlineEditParams,
  type CopilotInlineEditResult,
} from "../../../src/server/protocol.js";

/** The context key that is true while a suggestion shows, for the keybindings' `when`. */
export const NEXT_EDIT_VISIBLE = "ifai-lsp.nextEditVisible";

/** A suggestion on screen: the edits, and the document version they were computed for. */
export interface ShownNextEdit {
  uri: string;
  version: number;
  edits: CopilotInlineEdit[];
}

/** What the decorations draw, for tests and the API. */
export interface RenderedNextEdit {
  deleted: vscode.Range[];
  inserted: Array<{ at: vscode.Position; text: string }>;
}

export interface NextEditOptions {
  enabled: boolean;
  delayMs: number;
}

/**
 * Next-edit suggestions (`textDocument/copilotInlineEdit`) in VS Code's stable API: after a pause
 * in editing (or when asked), the suggestion is drawn with decorations — the text it removes
 * struck through on the diff editor's removed background, the new text after it on the inserted
 * background — and commands jump to it, accept it (all its edits, only while the document is
 * still at the version it was computed for; then the edit's command runs) or dismiss it. The
 * engine this client targets (1.91) has no inline-edit API outside proposals.
 *
 * Only the latest request counts: a new one cancels the one in flight, an answer for an older
 * request or document version is dropped, and any change to the document clears the suggestion.
 */
export class NextEditController implements vscode.Disposable {
  private readonly deleteType = vscode.window.createTextEditorDecorationType({
    backgroundColor: new vscode.ThemeColor("diffEditor.removedTextBackground"),
    textDecoration: "line-through",
  });
  private readonly insertType = vscode.window.createTextEditorDecorationType({});
  private readonly disposables: vscode.Disposable[] = [];
  private timer: NodeJS.Timeout | undefined;
  private inflight: vscode.CancellationTokenSource | undefined;
  private shownEdit: ShownNextEdit | undefined;
  private renderedEdit: RenderedNextEdit | undefined;
  private readonly changed = new vscode.EventEmitter<ShownNextEdit | undefined>();
  /** Fires when a suggestion shows (with it) or goes (undefined). */
  readonly onDidChange = this.changed.event;
  readonly stats = { requests: 0, shown: 0, accepted: 0, dismissed: 0, stale: 0 };

  constructor(
    private readonly client: LanguageClient,
    private readonly options: () => NextEditOptions,
  ) {
    this.disposables.push(
      this.deleteType,
      this.insertType,
      this.changed,
      vscode.workspace.onDidChangeTextDocument((event) => this.onChange(event)),
      vscode.window.onDidChangeActiveTextEditor(() => this.reset()),
    );
  }

  shown(): ShownNextEdit | undefined {
    return this.shownEdit;
  }

  rendered(): RenderedNextEdit | undefined {
    return this.renderedEdit;
  }

  /** Asks for a next edit at the active editor's cursor now; `invoked`: the user asked. */
  async request(invoked: boolean): Promise<ShownNextEdit | undefined> {
    const editor = vscode.window.activeTextEditor;
    if (!editor || !this.client.isRunning()) return undefined;
    this.reset();
    const document = editor.document;
    const version = document.version;
    const source = new vscode.CancellationTokenSource();
    this.inflight = source;
    this.stats.requests++;
    const { line, character } = editor.selection.active;
    const params: CopilotInlineEditParams = {
      textDocument: { uri: document.uri.toString(), version },
      position: { line, character },
      context: { triggerKind: invoked ? 1 : 2 },
    };
    let result: CopilotInlineEditResult | undefined;
    try {
      result = await this.client.sendRequest<CopilotInlineEditResult>(CopilotInlineEditRequest.method, params, source.token);
    } catch {
      result = undefined;
    } finally {
      source.dispose();
    }
    if (this.inflight !== source) {
      this.stats.stale++;
      return undefined;
    }
    this.inflight = undefined;
    const edits = result?.edits ?? [];
    const uri = document.uri.toString();
    if (vscode.window.activeTextEditor?.document !== document || document.version !== version || edits.some((e) => e.textDocument.uri !== uri || e.textDocument.version !== version)) {
      this.stats.stale++;
      return undefined;
    }
    if (edits.length === 0) return undefined;
    this.shownEdit = { uri, version, edits };
    this.render(vscode.window.activeTextEditor!, edits);
    this.stats.shown++;
    void vscode.commands.executeCommand("setContext", NEXT_EDIT_VISIBLE, true);
    void this.client.sendNotification(DidShowCompletionNotification.method, { item: edits[0] }).catch(() => undefined);
    this.changed.fire(this.shownEdit);
    return this.shownEdit;
  }

  /** Moves the cursor to the suggestion; false when none shows. */
  jump(): boolean {
    const editor = this.editorOfShown();
    if (!editor || !this.shownEdit) return false;
    const start = toPosition(this.shownEdit.edits[0]!.range.start);
    editor.selection = new vscode.Selection(start, start);
    editor.revealRange(new vscode.Range(start, start), vscode.TextEditorRevealType.InCenterIfOutsideViewport);
    return true;
  }

  /** Applies the suggestion and runs its command; false when none shows or the document moved on. */
  async accept(): Promise<boolean> {
    const shown = this.shownEdit;
    const editor = this.editorOfShown();
    if (!shown || !editor) return false;
    const document = editor.document;
    if (document.version !== shown.version) {
      this.reset();
      return false;
    }
    // Where the cursor goes: the end of the last edit's text, after the earlier edits shifted it.
    let shift = 0;
    for (const e of shown.edits.slice(0, -1)) shift += e.text.length - (document.offsetAt(toPosition(e.range.end)) - document.offsetAt(toPosition(e.range.start)));
    const last = shown.edits.at(-1)!;
    const cursorOffset = document.offsetAt(toPosition(last.range.start)) + shift + last.text.length;
    this.reset();
    const applied = await editor.edit((builder) => {
      for (const e of shown.edits) builder.replace(new vscode.Range(toPosition(e.range.start), toPosition(e.range.end)), e.text);
    });
    if (!applied) return false;
    const at = document.positionAt(cursorOffset);
    editor.selection = new vscode.Selection(at, at);
    this.stats.accepted++;
    if (last.command) {
      await this.client.sendRequest(ExecuteCommandRequest.type, { command: last.command.command, arguments: last.command.arguments ?? [] }).catch(() => undefined);
    }
    return true;
  }

  /** Hides the suggestion; the server counts it dismissed. False when none shows. */
  dismiss(): boolean {
    const shown = this.shownEdit;
    this.reset();
    if (!shown) return false;
    this.stats.dismissed++;
    void this.client.sendNotification(DidDismissSuggestionNotification.method, { item: shown.edits[0] }).catch(() => undefined);
    return true;
  }

  dispose(): void {
    this.reset();
    for (const d of this.disposables) d.dispose();
  }

  /** Clears what shows and cancels the request in flight and the pending one. */
  private reset(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.inflight?.cancel();
    this.inflight = undefined;
    if (!this.shownEdit) return;
    const editor = this.editorOfShown();
    editor?.setDecorations(this.deleteType, []);
    editor?.setDecorations(this.insertType, []);
    this.shownEdit = undefined;
    this.renderedEdit = undefined;
    void vscode.commands.executeCommand("setContext", NEXT_EDIT_VISIBLE, false);
    this.changed.fire(undefined);
  }

  private onChange(event: vscode.TextDocumentChangeEvent): void {
    if (event.contentChanges.length === 0) return;
    const active = vscode.window.activeTextEditor;
    if (this.shownEdit?.uri === event.document.uri.toString() || active?.document === event.document) this.reset();
    const options = this.options();
    if (!options.enabled || active?.document !== event.document) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.request(false);
    }, options.delayMs);
  }

  private editorOfShown(): vscode.TextEditor | undefined {
    const uri = this.shownEdit?.uri;
    return vscode.window.visibleTextEditors.find((e) => e.document.uri.toString() === uri);
  }

  private render(editor: vscode.TextEditor, edits: CopilotInlineEdit[]): void {
    const deleted: vscode.Range[] = [];
    const inserted: Array<{ at: vscode.Position; text: string }> = [];
    const insertOptions: vscode.DecorationOptions[] = [];
    for (const e of edits) {
      const range = new vscode.Range(toPosition(e.range.start), toPosition(e.range.end));
      if (!range.isEmpty) deleted.push(range);
      if (e.text !== "") {
        inserted.push({ at: range.end, text: e.text });
        insertOptions.push({
          range: new vscode.Range(range.end, range.end),
          renderOptions: {
            after: {
              // Decorations hold one line: line breaks of the new text show as ⏎.
              contentText: e.text.replace(/\r?\n/g, "⏎"),
              backgroundColor: new vscode.ThemeColor("diffEditor.insertedTextBackground"),
              border: "1px solid",
              borderColor: new vscode.ThemeColor("diffEditor.insertedLineBackground"),
            },
          },
          hoverMessage: new vscode.MarkdownString("ifai next edit: alt+y accepts, alt+n jumps here, escape dismisses"),
        });
      }
    }
    editor.setDecorations(this.deleteType, deleted);
    editor.setDecorations(this.insertType, insertOptions);
    this.renderedEdit = { deleted, inserted };
  }
}

function toPosition(p: { line: number; character: number }): vscode.Position {
  return new vscode.Position(p.line, p.character);
}
