;;; ifai-ghost.el --- Ghost-text (inline) completion for ifai-lsp  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The ifai-lsp authors

;; Author: The ifai-lsp authors
;; SPDX-License-Identifier: MIT

;; This file is not part of GNU Emacs.

;;; Commentary:

;; Eglot has no inline completion, so the ifai package (see ifai.el)
;; adds its own: `ifai-ghost-mode' asks ifai-lsp for
;; textDocument/inlineCompletion shortly after each change while point
;; stays, and shows the answer as grey text after point.  While a
;; suggestion shows, `ifai-ghost-map' is active: TAB or C-RET accepts it,
;; M-f accepts its next word, C-g dismisses it; any other command
;; clears it.  A newer request cancels the one in flight with
;; $/cancelRequest, so the server stops generating for it at once.
;;
;; The mode turns itself on in buffers eglot manages with ifai-lsp
;; while `ifai-ghost-text' is non-nil, which also makes the server
;; register inline completion (eglot does not advertise it).

;;; Code:

(require 'cl-lib)
(require 'subr-x)
(require 'json)
(require 'jsonrpc)
(require 'eglot)
(require 'ifai)

(defcustom ifai-ghost-text t
  "Non-nil means show inline (ghost text) completions in ifai-lsp buffers.
The server is then started with completion.inline \"on\" (unless
`ifai-initialization-options' sets it to \"off\"), and `ifai-ghost-mode'
turns on in the buffers it manages.  Setting this through Customize
\(or `customize-set-variable') turns the mode on or off in those buffers
at once; a server already running keeps its capabilities until
restarted."
  :type 'boolean
  :group 'ifai
  :set (lambda (symbol value)
         (set-default symbol value)
         (when (fboundp 'ifai-ghost--refresh-buffers) (ifai-ghost--refresh-buffers))))

(defcustom ifai-ghost-delay 0.08
  "Seconds after a change, with point staying, before asking for ghost text."
  :type 'number
  :group 'ifai)

(defcustom ifai-ghost-timeout 30
  "Seconds to wait for an inline completion before giving up on it."
  :type 'number
  :group 'ifai)

(defface ifai-ghost-face '((t :inherit shadow))
  "Face of the ghost text of an inline completion."
  :group 'ifai)

(defvar ifai-ghost-map
  (let ((map (make-sparse-keymap)))
    (define-key map (kbd "TAB") #'ifai-ghost-accept)
    (define-key map (kbd "<tab>") #'ifai-ghost-accept)
    (define-key map (kbd "C-<return>") #'ifai-ghost-accept)
    (define-key map (kbd "M-f") #'ifai-ghost-accept-word)
    (define-key map (kbd "C-g") #'ifai-ghost-dismiss)
    map)
  "Keys active only while a ghost suggestion shows.
When none shows, these keys keep their usual bindings.")

(defvar ifai-ghost-commands
  '(ifai-ghost-accept ifai-ghost-accept-word ifai-ghost-dismiss ifai-ghost-trigger)
  "Commands after which the ghost text is not cleared by `ifai-ghost-mode'.")

(defvar-local ifai-ghost--active nil
  "Non-nil while a suggestion shows; it makes `ifai-ghost-map' active.")

(defvar ifai-ghost--emulation-alist `((ifai-ghost--active . ,ifai-ghost-map))
  "The entry of `emulation-mode-map-alists' for `ifai-ghost-map'.
Emulation maps come before minor-mode maps, so TAB reaches
`ifai-ghost-accept' even where another mode binds it.")

(add-to-list 'emulation-mode-map-alists 'ifai-ghost--emulation-alist)

(defvar-local ifai-ghost--overlay nil
  "The overlay showing the suggestion, or nil.")
(defvar-local ifai-ghost--timer nil
  "The timer that asks for a suggestion after `ifai-ghost-delay', or nil.")
(defvar-local ifai-ghost--inflight nil
  "The `ifai-ghost--request' awaiting its answer, or nil.")
(defvar-local ifai-ghost--last-tick nil
  "`buffer-chars-modified-tick' after the previous command.")
(defvar-local ifai-ghost--last-point nil
  "Point after the previous command.")
(defvar-local ifai-ghost--item nil
  "The inline completion item shown, as the server sent it, or nil.
The server learns what became of it (acceptance feedback, kept on the
user's machine only) from the item passed back.")
(defvar-local ifai-ghost--item-server nil
  "The server that sent `ifai-ghost--item'.")
(defvar-local ifai-ghost--accepted-length 0
  "UTF-16 code units of `ifai-ghost--item' accepted word by word so far.")

(cl-defstruct (ifai-ghost--request (:constructor ifai-ghost--request-make) (:copier nil))
  "An inline completion request: SERVER, its jsonrpc ID, and the buffer's
chars-modified TICK and POINT it was asked at (its answer is stale after
either changes)."
  server id tick point)

;;;; Initialization options

(defun ifai-ghost--options (options)
  "OPTIONS (`ifai-initialization-options' or a hash table) for the server.
With `ifai-ghost-text' non-nil, completion.inline becomes \"on\" unless
OPTIONS set it to \"off\": eglot does not advertise inline completion,
and the server registers it for such clients only when told to.  The
options go through JSON once, so plists, alists, nested and dotted keys
and an `ifai' section are all handled as the server reads them."
  (if (not ifai-ghost-text)
      options
    (let* ((table (json-parse-string
                   (json-serialize options :null-object nil :false-object :json-false)
                   :object-type 'hash-table :null-object nil :false-object :json-false))
           (root (if (hash-table-p (gethash "ifai" table)) (gethash "ifai" table) table))
           (completion (gethash "completion" root))
           (explicit (or (gethash "completion.inline" root)
                         (and (hash-table-p completion) (gethash "inline" completion)))))
      (unless (equal explicit "off")
        (remhash "completion.inline" root)
        (if (hash-table-p completion)
            (puthash "inline" "on" completion)
          (puthash "completion.inline" "on" root)))
      table)))

;;;; Requests

(defun ifai-ghost--capable-p (server)
  "Non-nil if SERVER registered inline completion.
Its options are an empty object, which jsonrpc reads as nil, so the
key's presence is what counts."
  (let ((provider (plist-member (eglot--capabilities server) :inlineCompletionProvider)))
    (and provider (not (eq (cadr provider) :json-false)))))

(defun ifai-ghost--cancel ()
  "Stop the pending timer and cancel the request in flight, if any."
  (when ifai-ghost--timer
    (cancel-timer ifai-ghost--timer)
    (setq ifai-ghost--timer nil))
  (when-let ((request ifai-ghost--inflight))
    (setq ifai-ghost--inflight nil)
    (let ((server (ifai-ghost--request-server request))
          (id (ifai-ghost--request-id request)))
      ;; The server would answer it anyway; cancelling frees the model for the next one.
      (when (and id (jsonrpc-running-p server))
        (jsonrpc-notify server :$/cancelRequest (list :id id))))))

(defun ifai-ghost--send (trigger-kind)
  "Ask the server for a suggestion at point; TRIGGER-KIND is 1 (invoked) or 2.
Cancels the request in flight first: the latest one wins.  Return the
new `ifai-ghost--request', or nil when there is no server to ask."
  (ifai-ghost--cancel)
  (let ((server (ifai--own-server))
        (buffer (current-buffer)))
    (when (and ifai-ghost-text server (eglot-managed-p) (ifai-ghost--capable-p server))
      ;; Eglot sends buffer changes lazily; the server must see the text the request is about.
      (eglot--signal-textDocument/didChange)
      (let ((request (ifai-ghost--request-make :server server :tick (buffer-chars-modified-tick)
                                               :point (point))))
        ;; The request is about the text as it is now, even when it changed outside a command.
        (setq ifai-ghost--inflight request
              ifai-ghost--last-tick (ifai-ghost--request-tick request)
              ifai-ghost--last-point (point))
        (setf (ifai-ghost--request-id request)
              (ifai--send-request
               server :textDocument/inlineCompletion
               (append (eglot--TextDocumentPositionParams)
                       (list :context (list :triggerKind trigger-kind)))
               :success-fn (lambda (result) (ifai-ghost--receive buffer request result))
               :error-fn (lambda (_error) (ifai-ghost--forget buffer request))
               :timeout-fn (lambda () (ifai-ghost--forget buffer request))
               :timeout ifai-ghost-timeout))
        request))))

(defun ifai-ghost--forget (buffer request)
  "Drop REQUEST of BUFFER, which failed or timed out."
  (when (buffer-live-p buffer)
    (with-current-buffer buffer
      (when (eq request ifai-ghost--inflight) (setq ifai-ghost--inflight nil)))))

(defun ifai-ghost--fresh-p (request)
  "Non-nil if the buffer and point are still as REQUEST saw them."
  (and (= (ifai-ghost--request-tick request) (buffer-chars-modified-tick))
       (= (ifai-ghost--request-point request) (point))))

(defun ifai-ghost--receive (buffer request result)
  "Show the first item of RESULT, REQUEST's answer in BUFFER, unless stale."
  (when (buffer-live-p buffer)
    (with-current-buffer buffer
      (when (eq request ifai-ghost--inflight)
        (setq ifai-ghost--inflight nil)
        (when (and ifai-ghost-mode (ifai-ghost--fresh-p request))
          (let* ((items (if (vectorp result) result (plist-get result :items)))
                 (item (and (> (length items) 0) (aref items 0)))
                 (before (ifai-ghost-current)))
            (apply #'ifai-ghost--show (and item (ifai-ghost--item-text item)))
            ;; The rest of a suggestion being typed through is the same suggestion: it keeps
            ;; its item (and id), so the server counts it shown once.
            (unless (and ifai-ghost--item before (equal before (ifai-ghost-current)))
              (setq ifai-ghost--item nil))
            (when (and (ifai-ghost-current) (null ifai-ghost--item))
              (setq ifai-ghost--item item
                    ifai-ghost--item-server (ifai-ghost--request-server request)
                    ifai-ghost--accepted-length 0)
              (ifai-ghost--feedback :textDocument/didShowCompletion nil))))))))

(defun ifai-ghost--feedback (method params)
  "Tell the server METHOD about the item shown, with PARAMS besides :item."
  (let ((server ifai-ghost--item-server))
    (when (and ifai-ghost--item server (jsonrpc-running-p server))
      (jsonrpc-notify server method (append (list :item ifai-ghost--item) params)))))

(defun ifai-ghost--utf16-length (text)
  "The length of TEXT in UTF-16 code units, as LSP counts."
  (/ (length (encode-coding-string text 'utf-16le)) 2))

(defun ifai-ghost--item-text (item)
  "The list (TEXT END) that shows ITEM, an InlineCompletionItem, at point.
TEXT is what goes after point: the item's range may start before point
when its text repeats what was typed, which is dropped.  END is where
the replaced text ends (point when nothing after point is replaced).
Nil when the item does not continue the text before point."
  (let* ((insert (plist-get item :insertText))
         (text (if (stringp insert) insert (plist-get insert :value)))
         (range (plist-get item :range))
         (start (if range (eglot--lsp-position-to-point (plist-get range :start)) (point)))
         (end (if range (eglot--lsp-position-to-point (plist-get range :end)) (point))))
    (when (and (stringp text) (<= start (point) end))
      (let ((typed (buffer-substring-no-properties start (point))))
        (when (string-prefix-p typed text)
          (list (substring text (length typed)) end))))))

;;;; Showing and accepting

(defun ifai-ghost--clear ()
  "Remove the suggestion, if one shows."
  (when ifai-ghost--overlay
    (delete-overlay ifai-ghost--overlay)
    (setq ifai-ghost--overlay nil))
  (setq ifai-ghost--active nil))

(defun ifai-ghost--show (&optional text end)
  "Show TEXT as ghost text at point, replacing the text up to END.
An empty or nil TEXT shows nothing."
  (ifai-ghost--clear)
  (when (and text (not (string-empty-p text)))
    (let* ((end (max (point) (or end (point))))
           (overlay (make-overlay (point) end nil nil t))
           (shown (propertize text 'face 'ifai-ghost-face)))
      ;; The cursor stays before the ghost text rather than after it.
      (put-text-property 0 1 'cursor t shown)
      ;; An empty overlay shows an after-string at point; one over replaced text hides it.
      (overlay-put overlay (if (= end (point)) 'after-string 'display) shown)
      (overlay-put overlay 'ifai-ghost-text text)
      (overlay-put overlay 'priority 100)
      (setq ifai-ghost--overlay overlay
            ifai-ghost--active t))))

(defun ifai-ghost-current ()
  "The text of the suggestion showing at point, or nil."
  (and ifai-ghost--overlay (overlay-buffer ifai-ghost--overlay)
       (overlay-get ifai-ghost--overlay 'ifai-ghost-text)))

(defun ifai-ghost--insert (count)
  "Insert the first COUNT characters of the suggestion; keep showing the rest."
  (let* ((text (or (ifai-ghost-current) (user-error "ifai: no suggestion shows")))
         (end (overlay-end ifai-ghost--overlay))
         (part (substring text 0 count))
         (rest (substring text count)))
    (ifai-ghost--clear)
    (if (string-empty-p rest)
        (progn (delete-region (point) end)
               (insert part)
               ;; The item's command tells the server it was accepted.
               (let ((command (plist-get ifai-ghost--item :command))
                     (server ifai-ghost--item-server))
                 (when (and command server (jsonrpc-running-p server))
                   (ifai--send-request server :workspace/executeCommand
                                       (list :command (plist-get command :command)
                                             :arguments (or (plist-get command :arguments) []))
                                       :success-fn #'ignore :error-fn #'ignore :timeout-fn #'ignore)))
               (setq ifai-ghost--item nil))
      (insert part)
      (ifai-ghost--show rest (+ end (length part)))
      (setq ifai-ghost--accepted-length (+ ifai-ghost--accepted-length (ifai-ghost--utf16-length part)))
      (ifai-ghost--feedback :textDocument/didPartiallyAcceptCompletion (list :acceptedLength ifai-ghost--accepted-length)))
    part))

(defun ifai-ghost-accept ()
  "Insert the whole suggestion and move point after it."
  (interactive)
  (ifai-ghost--insert (length (or (ifai-ghost-current) ""))))

(defun ifai-ghost-accept-word ()
  "Insert the suggestion up to the end of its next word."
  (interactive)
  (let ((text (or (ifai-ghost-current) "")))
    ;; \w follows the current buffer's syntax table, as `forward-word' does.
    (ifai-ghost--insert (if (string-match "\\W*\\w+" text) (match-end 0) (length text)))))

(defun ifai-ghost-dismiss ()
  "Hide the suggestion and cancel the request in flight.
The server counts a suggestion hidden this way as dismissed."
  (interactive)
  (when (ifai-ghost-current)
    (ifai-ghost--feedback :ifai/didDismissSuggestion nil))
  (setq ifai-ghost--item nil)
  (ifai-ghost--cancel)
  (ifai-ghost--clear))

(defun ifai-ghost-trigger ()
  "Ask for a suggestion at point now, without waiting for a change."
  (interactive)
  (ifai-ghost--send 1))

;;;; The mode

(defun ifai-ghost--fire (buffer tick point)
  "Ask for a suggestion in BUFFER if its TICK and POINT have not changed."
  (when (buffer-live-p buffer)
    (with-current-buffer buffer
      (setq ifai-ghost--timer nil)
      (when (and ifai-ghost-mode (= tick (buffer-chars-modified-tick)) (= point (point)))
        (ifai-ghost--send 2)))))

(defun ifai-ghost--type-through ()
  "Show the rest of the suggestion if the last edit typed its beginning.
Return non-nil then.  The server's answer to the next request is
usually that same rest, so it shows without a wait in between."
  (when-let* ((text (ifai-ghost-current))
              (start (overlay-start ifai-ghost--overlay))
              (typed (- (point) start)))
    (when (and (< 0 typed (length text))
               (overlay-get ifai-ghost--overlay 'after-string)
               (string= (buffer-substring-no-properties start (point)) (substring text 0 typed)))
      (ifai-ghost--show (substring text typed))
      t)))

(defun ifai-ghost--post-command ()
  "Clear the suggestion after other commands; after a change, ask again soon.
Typing the suggestion's next characters keeps the rest shown.  Commands
that neither edit nor move point (scrolling, `recenter') keep it: it is
still right.  That also spares it from the run of this hook with which
each command loop starts, keyboard macros included."
  (let ((tick (buffer-chars-modified-tick))
        (point (point)))
    (unless (and (eql tick ifai-ghost--last-tick) (eql point ifai-ghost--last-point))
      (unless (or (memq this-command ifai-ghost-commands)
                  (and (not (eql tick ifai-ghost--last-tick)) (ifai-ghost--type-through)))
        (ifai-ghost--clear))
      ;; Whatever was asked before is about text or a position that is gone.
      (ifai-ghost--cancel)
      (when (and ifai-ghost-text (not (eql tick ifai-ghost--last-tick)))
        (setq ifai-ghost--timer
              (run-with-timer ifai-ghost-delay nil #'ifai-ghost--fire (current-buffer) tick point))))
    (setq ifai-ghost--last-tick tick
          ifai-ghost--last-point point)))

;;;###autoload
(define-minor-mode ifai-ghost-mode
  "Show ifai-lsp's inline completions as ghost text after point.
After a change, once point has stayed for `ifai-ghost-delay' seconds,
the server is asked for a suggestion.  While one shows, the keys of
`ifai-ghost-map' work:\\<ifai-ghost-map>
\\[ifai-ghost-accept] accepts it, \\[ifai-ghost-accept-word] accepts its next word,
\\[ifai-ghost-dismiss] dismisses it; commands that edit or move point clear it.
\\[ifai-ghost-trigger] asks at once."
  :lighter nil
  :group 'ifai
  (ifai-ghost-dismiss)
  (if ifai-ghost-mode
      (progn
        (setq ifai-ghost--last-tick (buffer-chars-modified-tick)
              ifai-ghost--last-point (point))
        (add-hook 'post-command-hook #'ifai-ghost--post-command nil t))
    (remove-hook 'post-command-hook #'ifai-ghost--post-command t)))

(defun ifai-ghost--maybe-enable ()
  "Turn `ifai-ghost-mode' on or off to match this buffer's eglot server.
On while `ifai-ghost-text' is non-nil, eglot manages the buffer with
ifai-lsp, and the server registered inline completion."
  (let* ((server (and (eglot-managed-p) (ignore-errors (eglot-current-server))))
         (on (and ifai-ghost-text (cl-typep server 'ifai-server) (ifai-ghost--capable-p server))))
    (unless (eq (and on t) ifai-ghost-mode)
      (ifai-ghost-mode (if on 1 -1)))))

(defun ifai-ghost--refresh-buffers ()
  "Apply `ifai-ghost--maybe-enable' in every buffer."
  (dolist (buffer (buffer-list))
    (with-current-buffer buffer
      (when (or ifai-ghost-mode (eglot-managed-p)) (ifai-ghost--maybe-enable)))))

(add-hook 'eglot-managed-mode-hook #'ifai-ghost--maybe-enable)

(defvar ifai-ghost--focused-at nil
  "The buffer and point last named to the server by `ifai/didFocus'.")

(defun ifai-ghost--focus (&optional _frame-or-window)
  "Tell the server which buffer is in front of the user, and where point is.
The server then evaluates that buffer's prompt before the first keystroke
\=(the `ifai/didFocus' notification)."
  (ignore-errors
    (with-current-buffer (window-buffer (selected-window))
      (when ifai-ghost-mode
        (let ((server (eglot-current-server)))
          (when (and server (jsonrpc-running-p server))
            (setq ifai-ghost--focused-at (cons (current-buffer) (point)))
            (jsonrpc-notify server :ifai/didFocus (eglot--TextDocumentPositionParams))))))))

(defun ifai-ghost--focus-if-moved ()
  "Name point to the server when it rests somewhere new (an idle timer runs this).
Where the user stops moving is usually where they are about to type."
  (with-current-buffer (window-buffer (selected-window))
    (unless (equal ifai-ghost--focused-at (cons (current-buffer) (point)))
      (ifai-ghost--focus))))

(defcustom ifai-ghost-focus-idle 1.0
  "Seconds point must rest before the server is told where it is (nil: never)."
  :type '(choice number (const nil))
  :group 'ifai)

(defvar ifai-ghost--focus-timer nil)
(when (and ifai-ghost-focus-idle (not ifai-ghost--focus-timer))
  (setq ifai-ghost--focus-timer (run-with-idle-timer ifai-ghost-focus-idle t #'ifai-ghost--focus-if-moved)))

(defun ifai-ghost--focus-in ()
  "Tell the server when a frame of this Emacs gains focus from the window system.
A shared engine then serves this Emacs before other editors' windows."
  (when (eq (frame-focus-state (selected-frame)) t)
    (ifai-ghost--focus)))

(add-function :after after-focus-change-function #'ifai-ghost--focus-in)
(add-hook 'window-selection-change-functions #'ifai-ghost--focus)
(add-hook 'window-buffer-change-functions #'ifai-ghost--focus)

(provide 'ifai-ghost)
;;; ifai-ghost.el ends here
