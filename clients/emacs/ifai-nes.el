;;; ifai-nes.el --- Next-edit suggestions for ifai-lsp  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The ifai-lsp authors

;; Author: The ifai-lsp authors
;; SPDX-License-Identifier: MIT

;; This file is not part of GNU Emacs.

;;; Commentary:

;; `ifai-nes-mode' shows ifai-lsp's next-edit suggestions
;; (textDocument/copilotInlineEdit): once the buffer has not changed for
;; `ifai-nes-delay' seconds after a change, the server is asked where
;; the next change goes, and the answer is drawn as a diff with
;; overlays: the text it removes in `ifai-nes-delete-face', the changed
;; lines as they would read afterwards under them in
;; `ifai-nes-insert-face'.  While a suggestion shows, `ifai-nes-map' is
;; active: M-n jumps to it, M-RET accepts it (all its edits, only while
;; the buffer is exactly as it was asked about, then the edit's command
;; runs), C-g dismisses it.  `ifai-nes-request' asks at once.
;;
;; Only the latest request counts: a new one cancels the one in flight
;; with $/cancelRequest, an answer for an older request, buffer state or
;; document version is dropped, and any change clears the suggestion.

;;; Code:

(require 'cl-lib)
(require 'subr-x)
(require 'jsonrpc)
(require 'eglot)
(require 'ifai)

(defcustom ifai-next-edits t
  "Non-nil means show next-edit suggestions in ifai-lsp buffers.
`ifai-nes-mode' then turns on in the buffers eglot manages with
ifai-lsp."
  :type 'boolean
  :group 'ifai
  :set (lambda (symbol value)
         (set-default symbol value)
         (when (fboundp 'ifai-nes--refresh-buffers) (ifai-nes--refresh-buffers))))

(defcustom ifai-nes-delay 0.6
  "Seconds without a change before asking for a next edit."
  :type 'number
  :group 'ifai)

(defcustom ifai-nes-timeout 60
  "Seconds to wait for a next edit before giving up on it."
  :type 'number
  :group 'ifai)

(defface ifai-nes-delete-face '((t :inherit diff-removed :strike-through t))
  "Face of the text a next-edit suggestion removes."
  :group 'ifai)

(defface ifai-nes-insert-face '((t :inherit diff-added))
  "Face of the lines as a next-edit suggestion would leave them."
  :group 'ifai)

(defvar ifai-nes-map
  (let ((map (make-sparse-keymap)))
    (define-key map (kbd "M-n") #'ifai-nes-jump)
    (define-key map (kbd "M-RET") #'ifai-nes-accept)
    (define-key map (kbd "M-<return>") #'ifai-nes-accept)
    (define-key map (kbd "C-g") #'ifai-nes-dismiss)
    map)
  "Keys active only while a next-edit suggestion shows.
When none shows, these keys keep their usual bindings.")

(defvar-local ifai-nes--active nil
  "Non-nil while a suggestion shows; it makes `ifai-nes-map' active.")

(defvar ifai-nes--emulation-alist `((ifai-nes--active . ,ifai-nes-map))
  "The entry of `emulation-mode-map-alists' for `ifai-nes-map'.")

(add-to-list 'emulation-mode-map-alists 'ifai-nes--emulation-alist)

(cl-defstruct (ifai-nes--request (:constructor ifai-nes--request-make) (:copier nil))
  "A next-edit request: SERVER, its jsonrpc ID, the buffer's
chars-modified TICK and the document VERSION it was asked about."
  server id tick version)

(defvar-local ifai-nes--timer nil
  "The timer that asks after `ifai-nes-delay', or nil.")
(defvar-local ifai-nes--inflight nil
  "The `ifai-nes--request' awaiting its answer, or nil.")
(defvar-local ifai-nes--overlays nil
  "The overlays drawing the suggestion.")
(defvar-local ifai-nes--shown nil
  "The suggestion shown: a plist (:edits :tick :version :server), or nil.")
(defvar-local ifai-nes--last-tick nil
  "`buffer-chars-modified-tick' after the previous command.")

(defvar ifai-nes-stats (list :requests 0 :shown 0 :accepted 0 :dismissed 0 :stale 0 :refused 0)
  "Counters of next-edit requests and suggestions, for inspection.")

(defun ifai-nes--count (key)
  "Add one to KEY of `ifai-nes-stats'."
  (setq ifai-nes-stats (plist-put ifai-nes-stats key (1+ (plist-get ifai-nes-stats key)))))

;;;; Requests

(defun ifai-nes--version ()
  "The document version eglot last sent for this buffer."
  (plist-get (eglot--VersionedTextDocumentIdentifier) :version))

(defun ifai-nes--cancel ()
  "Stop the pending timer and cancel the request in flight, if any."
  (when ifai-nes--timer
    (cancel-timer ifai-nes--timer)
    (setq ifai-nes--timer nil))
  (when-let ((request ifai-nes--inflight))
    (setq ifai-nes--inflight nil)
    (let ((server (ifai-nes--request-server request))
          (id (ifai-nes--request-id request)))
      (when (and id (jsonrpc-running-p server))
        (jsonrpc-notify server :$/cancelRequest (list :id id))))))

(defun ifai-nes--send (trigger-kind)
  "Ask for a next edit at point; TRIGGER-KIND is 1 (the user asked) or 2.
Return the new `ifai-nes--request', or nil when there is no server."
  (ifai-nes--cancel)
  (ifai-nes--clear)
  (let ((server (ifai--own-server))
        (buffer (current-buffer)))
    (when (and server (eglot-managed-p))
      ;; Eglot sends buffer changes lazily; the server must see the text the request is about.
      (eglot--signal-textDocument/didChange)
      (let ((request (ifai-nes--request-make :server server :tick (buffer-chars-modified-tick)
                                             :version (ifai-nes--version))))
        (setq ifai-nes--inflight request
              ifai-nes--last-tick (ifai-nes--request-tick request))
        (ifai-nes--count :requests)
        (setf (ifai-nes--request-id request)
              (ifai--send-request
               server :textDocument/copilotInlineEdit
               (list :textDocument (eglot--VersionedTextDocumentIdentifier)
                     :position (eglot--pos-to-lsp-position)
                     :context (list :triggerKind trigger-kind))
               :success-fn (lambda (result) (ifai-nes--receive buffer request result))
               :error-fn (lambda (_error) (ifai-nes--forget buffer request))
               :timeout-fn (lambda () (ifai-nes--forget buffer request))
               :timeout ifai-nes-timeout))
        request))))

(defun ifai-nes--forget (buffer request)
  "Drop REQUEST of BUFFER, which failed or timed out."
  (when (buffer-live-p buffer)
    (with-current-buffer buffer
      (when (eq request ifai-nes--inflight) (setq ifai-nes--inflight nil)))))

(defun ifai-nes--receive (buffer request result)
  "Show RESULT, REQUEST's answer in BUFFER, unless it is stale."
  (if (not (buffer-live-p buffer))
      (ifai-nes--count :stale)
    (with-current-buffer buffer
      (if (not (eq request ifai-nes--inflight))
          (ifai-nes--count :stale)
        (setq ifai-nes--inflight nil)
        (let ((edits (append (plist-get result :edits) nil))
              (version (ifai-nes--request-version request)))
          (cond
           ((or (/= (ifai-nes--request-tick request) (buffer-chars-modified-tick))
                (not (equal version (ifai-nes--version)))
                (cl-some (lambda (edit) (not (equal (plist-get (plist-get edit :textDocument) :version) version)))
                         edits))
            (ifai-nes--count :stale))
           (edits
            (ifai-nes--show edits)
            (setq ifai-nes--shown (list :edits edits :tick (ifai-nes--request-tick request)
                                        :version version :server (ifai-nes--request-server request)))
            (ifai-nes--count :shown)
            (jsonrpc-notify (ifai-nes--request-server request) :textDocument/didShowCompletion
                            (list :item (car edits))))))))))

;;;; Showing

(defun ifai-nes--clear ()
  "Remove the suggestion, if one shows."
  (mapc #'delete-overlay ifai-nes--overlays)
  (setq ifai-nes--overlays nil
        ifai-nes--shown nil
        ifai-nes--active nil))

(defun ifai-nes--region (edit)
  "EDIT's range as a cons of buffer positions."
  (let ((range (plist-get edit :range)))
    (cons (eglot--lsp-position-to-point (plist-get range :start))
          (eglot--lsp-position-to-point (plist-get range :end)))))

(defun ifai-nes--groups (edits)
  "EDITS grouped by the lines they touch: a list of (LINE-BEG LINE-END SPANS).
SPANS are (BEG END TEXT) in buffer order; edits on the same or touching
lines share a group."
  (let (groups)
    (dolist (span (sort (mapcar (lambda (e) (let ((r (ifai-nes--region e))) (list (car r) (cdr r) (plist-get e :text))))
                                edits)
                        (lambda (a b) (< (car a) (car b)))))
      (let* ((beg (save-excursion (goto-char (nth 0 span)) (line-beginning-position)))
             (end (save-excursion (goto-char (nth 1 span)) (line-end-position)))
             (last (car groups)))
        (if (and last (<= beg (min (point-max) (1+ (nth 1 last)))))
            (setcar groups (list (nth 0 last) (max end (nth 1 last)) (append (nth 2 last) (list span))))
          (push (list beg end (list span)) groups))))
    (nreverse groups)))

(defun ifai-nes--show (edits)
  "Draw EDITS as a diff: removed text marked, the changed lines as they would read."
  (ifai-nes--clear)
  (dolist (group (ifai-nes--groups edits))
    (cl-destructuring-bind (beg end spans) group
      (let ((after (buffer-substring-no-properties beg end)))
        ;; The group's lines after its edits, built from the end so earlier offsets stay valid.
        (dolist (span (reverse spans))
          (setq after (concat (substring after 0 (- (nth 0 span) beg)) (nth 2 span)
                              (substring after (- (nth 1 span) beg)))))
        (dolist (span spans)
          (when (< (nth 0 span) (nth 1 span))
            (let ((overlay (make-overlay (nth 0 span) (nth 1 span))))
              (overlay-put overlay 'face 'ifai-nes-delete-face)
              (overlay-put overlay 'priority 90)
              (push overlay ifai-nes--overlays))))
        (let ((overlay (make-overlay end end)))
          (overlay-put overlay 'after-string
                       (concat (propertize "  next edit" 'face 'shadow) "\n"
                               (propertize after 'face 'ifai-nes-insert-face)))
          (overlay-put overlay 'ifai-nes-text after)
          (push overlay ifai-nes--overlays)))))
  (setq ifai-nes--active t))

(defun ifai-nes-current ()
  "The edits of the suggestion shown (as the server sent them), or nil."
  (plist-get ifai-nes--shown :edits))

;;;; Commands

(defun ifai-nes-request ()
  "Ask for a next edit at point now (answered even where they are quiet)."
  (interactive)
  (ifai-nes--send 1))

(defun ifai-nes-jump ()
  "Move point to the start of the suggestion shown."
  (interactive)
  (let ((edits (or (ifai-nes-current) (user-error "ifai: no next edit shows"))))
    (goto-char (car (ifai-nes--region (car edits))))))

(defun ifai-nes-accept ()
  "Apply the suggestion shown and run its command.
Nothing is applied when the buffer changed since it was asked for."
  (interactive)
  (let* ((shown (or ifai-nes--shown (user-error "ifai: no next edit shows")))
         (edits (plist-get shown :edits))
         (server (plist-get shown :server)))
    (if (or (/= (plist-get shown :tick) (buffer-chars-modified-tick))
            (not (equal (plist-get shown :version) (ifai-nes--version))))
        (progn (ifai-nes--count :refused)
               (ifai-nes--cancel)
               (ifai-nes--clear)
               (message "ifai: the buffer changed since the suggestion; nothing applied")
               nil)
      (let ((spans (mapcar (lambda (e) (let ((r (ifai-nes--region e)))
                                         (list (copy-marker (car r)) (copy-marker (cdr r) t) (plist-get e :text))))
                           edits))
            (last (car (last edits))))
        (ifai-nes--cancel)
        (ifai-nes--clear)
        (let (end)
          (dolist (span spans)
            (goto-char (nth 0 span))
            (delete-region (nth 0 span) (nth 1 span))
            (insert (nth 2 span))
            (setq end (point)))
          (goto-char end))
        (ifai-nes--count :accepted)
        (when-let ((command (plist-get last :command)))
          (when (jsonrpc-running-p server)
            (ifai--send-request server :workspace/executeCommand
                                (list :command (plist-get command :command)
                                      :arguments (or (plist-get command :arguments) []))
                                :success-fn #'ignore :error-fn #'ignore :timeout-fn #'ignore)))
        t))))

(defun ifai-nes-dismiss ()
  "Hide the suggestion shown; the server counts it dismissed."
  (interactive)
  (let ((shown ifai-nes--shown))
    (ifai-nes--cancel)
    (ifai-nes--clear)
    (when shown
      (ifai-nes--count :dismissed)
      (when (jsonrpc-running-p (plist-get shown :server))
        (jsonrpc-notify (plist-get shown :server) :ifai/didDismissSuggestion
                        (list :item (car (plist-get shown :edits))))))))

;;;; The mode

(defun ifai-nes--fire (buffer tick)
  "Ask for a next edit in BUFFER if its TICK has not changed."
  (when (buffer-live-p buffer)
    (with-current-buffer buffer
      (setq ifai-nes--timer nil)
      (when (and ifai-nes-mode (= tick (buffer-chars-modified-tick)))
        (ifai-nes--send 2)))))

(defun ifai-nes--post-command ()
  "After a change: clear the suggestion and cancel the request.
Then ask again once the buffer stays unchanged for `ifai-nes-delay'."
  (let ((tick (buffer-chars-modified-tick)))
    (unless (eql tick ifai-nes--last-tick)
      (ifai-nes--clear)
      (ifai-nes--cancel)
      (when ifai-next-edits
        (setq ifai-nes--timer (run-with-timer ifai-nes-delay nil #'ifai-nes--fire (current-buffer) tick))))
    (setq ifai-nes--last-tick tick)))

;;;###autoload
(define-minor-mode ifai-nes-mode
  "Show ifai-lsp's next-edit suggestions as a diff in the buffer.
After a change, once the buffer has stayed as it is for `ifai-nes-delay'
seconds, the server is asked where the next change goes.  While a
suggestion shows, the keys of `ifai-nes-map' work:\\<ifai-nes-map>
\\[ifai-nes-jump] jumps to it, \\[ifai-nes-accept] accepts it,
\\[ifai-nes-dismiss] dismisses it; any change clears it.
\\[ifai-nes-request] asks at once."
  :lighter nil
  :group 'ifai
  (ifai-nes--cancel)
  (ifai-nes--clear)
  (if ifai-nes-mode
      (progn
        (setq ifai-nes--last-tick (buffer-chars-modified-tick))
        (add-hook 'post-command-hook #'ifai-nes--post-command nil t))
    (remove-hook 'post-command-hook #'ifai-nes--post-command t)))

(defun ifai-nes--maybe-enable ()
  "Turn `ifai-nes-mode' on or off to match this buffer's eglot server."
  (let* ((server (and (eglot-managed-p) (ignore-errors (eglot-current-server))))
         (on (and ifai-next-edits (cl-typep server 'ifai-server))))
    (unless (eq (and on t) ifai-nes-mode)
      (ifai-nes-mode (if on 1 -1)))))

(defun ifai-nes--refresh-buffers ()
  "Apply `ifai-nes--maybe-enable' in every buffer."
  (dolist (buffer (buffer-list))
    (with-current-buffer buffer
      (when (or ifai-nes-mode (eglot-managed-p)) (ifai-nes--maybe-enable)))))

(add-hook 'eglot-managed-mode-hook #'ifai-nes--maybe-enable)

(provide 'ifai-nes)
;;; ifai-nes.el ends here