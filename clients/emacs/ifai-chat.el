;;; ifai-chat.el --- Streaming chat buffer for ifai-lsp  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The ifai-lsp authors

;; Author: The ifai-lsp authors
;; SPDX-License-Identifier: MIT

;; This file is not part of GNU Emacs.

;;; Commentary:

;; The chat of the ifai package (see ifai.el): `ifai-chat' sends
;; ifai/chat to the server and streams the ifai/chatDelta notifications
;; into the *ifai-chat* buffer; C-c C-k there cancels with $/cancelRequest.

;;; Code:

(require 'cl-lib)
(require 'subr-x)
(require 'button)
(require 'jsonrpc)
(require 'eglot)
(require 'ifai)

(defcustom ifai-chat-buffer-name "*ifai-chat*"
  "Name of the buffer chat answers stream into."
  :type 'string
  :group 'ifai)

(defcustom ifai-chat-max-tokens nil
  "Most tokens of a chat answer, or nil for the server's chat.maxTokens."
  :type '(choice (const :tag "Server default" nil) natnum)
  :group 'ifai)

(defcustom ifai-chat-timeout 600
  "Seconds to wait for a chat answer before giving up on it."
  :type 'number
  :group 'ifai)

(defcustom ifai-chat-send-history t
  "Non-nil means a chat question carries the earlier turns of the chat buffer.
`ifai-chat-clear' starts a new conversation."
  :type 'boolean
  :group 'ifai)

(defvar ifai-chat-delta-functions nil
  "Abnormal hook run for each streamed piece of a chat answer.
Each function is called with CHAT-ID, SEQ and DELTA (a string) after
the piece was appended to the chat buffer.")

(defvar ifai-chat-finished-functions nil
  "Abnormal hook run when a chat answer ends.
Each function is called with CHAT-ID, STATUS (`done', `cancelled' or
`error') and the response plist (nil when there is none).")

(cl-defstruct (ifai--chat (:constructor ifai--chat-make))
  "One answer in the chat buffer.
STATE is `streaming' for a question of `ifai-chat' until it ends,
`external' for an answer the server streams on its own (Explain),
then `done', `cancelled' or `error'."
  id server request-id (state 'streaming) question end)

(defvar ifai--chats (make-hash-table :test #'equal)
  "Chats by chat id.")
(defvar ifai--chat-counter 0)

(defvar-local ifai--chat-history nil
  "In the chat buffer: finished turns, oldest first, as message plists.")

(defvar ifai-chat-mode-map
  (let ((map (make-sparse-keymap)))
    (define-key map (kbd "C-c C-k") #'ifai-chat-cancel)
    (define-key map (kbd "C-c C-c") #'ifai-chat)
    (define-key map (kbd "C-c C-l") #'ifai-chat-clear)
    map)
  "Keys of `ifai-chat-mode'.")

(define-derived-mode ifai-chat-mode special-mode "ifai-chat"
  "Major mode of the buffer chat answers stream into.
\\{ifai-chat-mode-map}"
  (setq-local truncate-lines nil)
  (visual-line-mode 1))

(defun ifai--chat-buffer ()
  "The chat buffer, created when needed."
  (or (get-buffer ifai-chat-buffer-name)
      (with-current-buffer (get-buffer-create ifai-chat-buffer-name)
        (ifai-chat-mode)
        (current-buffer))))

(defun ifai--chat-insert (chat &rest strings)
  "Insert STRINGS at the end of CHAT's answer, if its buffer lives.
Windows whose point was there follow the answer."
  (let ((end (ifai--chat-end chat)))
    (when (buffer-live-p (marker-buffer end))
      (with-current-buffer (marker-buffer end)
        (let ((following (cl-remove-if-not (lambda (window) (= (window-point window) end))
                                           (get-buffer-window-list nil nil t)))
              (inhibit-read-only t))
          (save-excursion
            (goto-char end)
            (apply #'insert strings))
          (dolist (window following) (set-window-point window end)))))))

(defun ifai--chat-start-section (title body)
  "Open a section headed TITLE with BODY; return the marker its answer grows at."
  (with-current-buffer (ifai--chat-buffer)
    (let ((inhibit-read-only t))
      (goto-char (point-max))
      (unless (bobp) (insert "\n"))
      (insert (propertize (format "── %s ──\n" title) 'face 'bold))
      (when body (insert body "\n" (propertize "── ifai ──\n" 'face 'bold)))
      (let ((end (point-marker)))
        (set-marker-insertion-type end t)
        end))))

(defun ifai--chat-show ()
  "Show the chat buffer without selecting it, following its end."
  (let ((window (display-buffer (ifai--chat-buffer))))
    (when window (set-window-point window (with-current-buffer (ifai--chat-buffer) (point-max))))))

(defun ifai--document-params (beg end)
  "The textDocument of the current buffer and the selection BEG to END, as a plist.
Nil outside a buffer eglot manages; no selection when BEG or END is nil."
  (when (and buffer-file-name (eglot-managed-p))
    (append (list :textDocument (eglot--TextDocumentIdentifier))
            (when (and beg end (/= beg end))
              (list :selection
                    (list :start (eglot--pos-to-lsp-position (min beg end))
                          :end (eglot--pos-to-lsp-position (max beg end))))))))

;;;###autoload
(defun ifai-chat (question &optional beg end)
  "Ask ifai-lsp QUESTION and stream the answer into the chat buffer.
Interactively, with an active region, the selected code (BEG to END)
joins the prompt.  Mention @codebase to search the project.
Return the chat id."
  (interactive
   (let ((region (use-region-p)))
     (list (read-string (if region "Ask ifai about the region: " "Ask ifai: "))
           (and region (region-beginning))
           (and region (region-end)))))
  (when (string-blank-p question) (user-error "ifai: ask something"))
  (let* ((server (ifai--server))
         (params (ifai--document-params beg end))
         (context (when (plist-get params :textDocument)
                    (format "  (%s%s)" (file-name-nondirectory (or buffer-file-name ""))
                            (if (plist-get params :selection) ", selection" ""))))
         (id (format "emacs-%d-%d" (emacs-pid) (cl-incf ifai--chat-counter)))
         (history (with-current-buffer (ifai--chat-buffer)
                    (and ifai-chat-send-history ifai--chat-history)))
         (chat (ifai--chat-make :id id :server server :question question
                                :end (ifai--chat-start-section "You" (concat question context)))))
    (with-current-buffer (ifai--chat-buffer) (setq ifai--chat-server server))
    (puthash id chat ifai--chats)
    (setf (ifai--chat-request-id chat)
          (ifai--send-request
           server :ifai/chat
           (append (list :chatId id
                         :messages (vconcat history (list (list :role "user" :content question))))
                   (when ifai-chat-max-tokens (list :maxTokens ifai-chat-max-tokens))
                   params)
           :success-fn (lambda (result) (ifai--chat-done chat result))
           :error-fn (lambda (error) (ifai--chat-failed chat (plist-get error :message)))
           :timeout-fn (lambda () (ifai--chat-failed chat "no answer in time"))
           :timeout ifai-chat-timeout))
    (ifai--chat-show)
    id))

(cl-defmethod eglot-handle-notification ((_server ifai-server) (_method (eql 'ifai/chatDelta)) &rest params)
  "Append the delta in PARAMS to its chat's answer."
  (let* ((id (plist-get params :chatId))
         (delta (or (plist-get params :delta) ""))
         (chat (or (gethash id ifai--chats)
                   ;; Answers the server starts itself (the Explain code action) get a section too.
                   (puthash id (ifai--chat-make :id id :state 'external
                                                :end (ifai--chat-start-section id nil))
                            ifai--chats))))
    (when (memq (ifai--chat-state chat) '(streaming external))
      (ifai--chat-insert chat delta)
      (run-hook-with-args 'ifai-chat-delta-functions id (plist-get params :seq) delta))))

(defun ifai--source-button (source)
  "Insert a button for SOURCE (a ChatSource plist) that visits its file and line."
  (let* ((line (1+ (or (plist-get (plist-get (plist-get source :range) :start) :line) 0)))
         (uri (plist-get source :uri))
         (file (and uri (if (fboundp 'eglot-uri-to-path)
                            (eglot-uri-to-path uri)
                          (with-no-warnings (eglot--uri-to-path uri))))))
    (insert-text-button (format "%s:%d" (or (plist-get source :path) file) line)
                        'action (lambda (_button)
                                  (when file
                                    (find-file-other-window file)
                                    (goto-char (point-min))
                                    (forward-line (1- line))))
                        'help-echo (format "Visit %s at line %d" file line)
                        'follow-link t)))

(defun ifai--chat-footer (result)
  "The footer lines of a chat RESULT: route, model, usage and source buttons."
  (let* ((route (plist-get result :route))
         (usage (plist-get result :usage))
         (speed (ifai--number (plist-get usage :tokensPerSecond))))
    (insert (propertize
             (format "\n[route: %s%s · model: %s · %s tokens%s · %s]\n"
                     (or (plist-get route :servedBy) "?")
                     (if-let ((rule (plist-get route :rule))) (format " (%s)" rule) "")
                     (or (plist-get result :model) "?")
                     (or (plist-get usage :completionTokens) 0)
                     (if speed (format ", %s t/s" speed) "")
                     (or (plist-get result :stopReason) "done"))
             'face 'shadow))
    (let ((sources (append (plist-get result :sources) nil)))
      (when sources
        (insert (propertize "sources:" 'face 'shadow))
        (dolist (source sources)
          (insert " ")
          (ifai--source-button source))
        (insert "\n")))
    (dolist (notice (append (plist-get result :notices) nil))
      (insert (propertize (format "note: %s\n" notice) 'face 'shadow)))))

(defun ifai--chat-done (chat result)
  "Finish CHAT with the server's RESULT."
  (let ((cancelled (eq (ifai--chat-state chat) 'cancelled)))
    (unless cancelled
      (setf (ifai--chat-state chat) 'done)
      (let ((end (ifai--chat-end chat)))
        (when (buffer-live-p (marker-buffer end))
          (with-current-buffer (marker-buffer end)
            (let ((inhibit-read-only t))
              (save-excursion
                (goto-char end)
                (ifai--chat-footer result)))
            (setq ifai--chat-history
                  (append ifai--chat-history
                          (list (list :role "user" :content (ifai--chat-question chat))
                                (list :role "assistant" :content (or (plist-get result :content) "")))))))))
    (remhash (ifai--chat-id chat) ifai--chats)
    (run-hook-with-args 'ifai-chat-finished-functions (ifai--chat-id chat)
                        (if cancelled 'cancelled 'done) result)))

(defun ifai--chat-failed (chat message)
  "Finish CHAT with the error MESSAGE."
  (unless (eq (ifai--chat-state chat) 'cancelled)
    (setf (ifai--chat-state chat) 'error)
    (ifai--chat-insert chat (propertize (format "\n[error: %s]\n" message) 'face 'error))
    (remhash (ifai--chat-id chat) ifai--chats)
    (run-hook-with-args 'ifai-chat-finished-functions (ifai--chat-id chat) 'error nil)))

(defun ifai-chat-cancel ()
  "Stop the latest answer still streaming in the chat buffer."
  (interactive)
  (let ((chat (car (sort (cl-remove-if-not (lambda (c) (eq (ifai--chat-state c) 'streaming))
                                           (hash-table-values ifai--chats))
                         ;; The latest question first: its answer ends last in the buffer.
                         (lambda (a b) (> (ifai--chat-end a) (ifai--chat-end b)))))))
    (unless chat
      (user-error "ifai: no answer is streaming"))
    ;; The server still answers (stopReason "aborted"); `ifai--chat-done' adds no footer then.
    (setf (ifai--chat-state chat) 'cancelled)
    (when-let ((request-id (ifai--chat-request-id chat)))
      (jsonrpc-notify (ifai--chat-server chat) :$/cancelRequest (list :id request-id)))
    (ifai--chat-insert chat (propertize "\n[cancelled]\n" 'face 'warning))))

(defun ifai-chat-clear ()
  "Start a new conversation: forget the earlier questions and answers."
  (interactive)
  (maphash (lambda (id chat)
             (unless (eq (ifai--chat-state chat) 'streaming) (remhash id ifai--chats)))
           ifai--chats)
  (with-current-buffer (ifai--chat-buffer)
    (setq ifai--chat-history nil)
    (let ((inhibit-read-only t))
      (goto-char (point-max))
      (insert (propertize "\n── new conversation ──\n" 'face 'shadow)))))

(provide 'ifai-chat)
;;; ifai-chat.el ends here
