;;; ifai.el --- Local AI completions, code actions and chat through ifai-lsp  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The ifai-lsp authors

;; Author: The ifai-lsp authors
;; Version: 0.1.0
;; Package-Requires: ((emacs "28.1") (eglot "1.9"))
;; Keywords: tools, languages, convenience
;; SPDX-License-Identifier: MIT

;; This file is not part of GNU Emacs.

;;; Commentary:

;; ifai-lsp is a language server that answers completions, code actions
;; and a streaming chat from a local model (and, when configured, a cloud
;; provider).  This package connects it to Emacs through eglot:
;;
;; - `ifai-setup' registers the server in `eglot-server-programs' for
;;   `ifai-major-modes' (loading the package does it once), as the
;;   `ifai-server' class, which sends `ifai-initialization-options'.
;; - Completions come from eglot's own `completion-at-point' (one AI item
;;   per request) and, as ghost text after point, from `ifai-ghost-mode'
;;   (ifai-ghost.el); AI code actions from `eglot-code-actions'.
;; - Next-edit suggestions (where the next change goes) show as a diff
;;   with `ifai-nes-mode' (ifai-nes.el): M-n jumps, M-RET accepts, C-g
;;   dismisses.
;; - `ifai-chat' asks a question (about the region, when active; an
;;   @codebase mention searches the project) and streams the answer into
;;   the *ifai-chat* buffer, where C-c C-k cancels it.
;; - `ifai-switch-backend', `ifai-status', `ifai-models' and
;;   `ifai-reindex' run the server's commands; the mode line shows the
;;   backend, the model's state and its last speed.
;;
;; Works with eglot 1.9 (Emacs 28/29) and eglot 1.17 (Emacs 30).

;;; Code:

(require 'cl-lib)
(require 'subr-x)
(require 'button)
(require 'jsonrpc)
(require 'eglot)

(defgroup ifai nil
  "Local AI completions, code actions and chat through ifai-lsp."
  :group 'tools
  :prefix "ifai-")

(defcustom ifai-server-command '("ifai-lsp" "--stdio")
  "Program and arguments that start ifai-lsp speaking LSP on stdio.
The program is looked up in the variable `exec-path' unless it is absolute."
  :type '(repeat string))

(defcustom ifai-major-modes
  '(python-mode python-ts-mode js-mode js-ts-mode typescript-mode
    typescript-ts-mode tsx-ts-mode go-mode go-ts-mode rust-mode rust-ts-mode
    java-mode java-ts-mode c-mode c-ts-mode c++-mode c++-ts-mode
    csharp-mode csharp-ts-mode ruby-mode ruby-ts-mode php-mode sh-mode
    bash-ts-mode)
  "Major modes whose buffers ifai-lsp serves through eglot.
Eglot runs one server per buffer, so these modes use ifai-lsp instead
of another language server.  Run `ifai-setup' after changing this
outside Customize."
  :type '(repeat symbol)
  :set (lambda (symbol value)
         (set-default symbol value)
         (when (fboundp 'ifai-setup) (ifai-setup))))

(defcustom ifai-initialization-options nil
  "Settings sent to the server as LSP initializationOptions.
A plist or an alist with symbol keys, nested or with dotted keys, for
example (:model (:path \"~/models/qwen.gguf\") :chat (:maxTokens 512)).
See docs/configuration.md of ifai-lsp for every setting."
  :type '(choice (const :tag "None" nil) (plist :tag "Plist") (alist :tag "Alist")))

(defvar ifai-status-functions nil
  "Abnormal hook run with SERVER and the params plist of each ifai/status.")

;;;; The server class and its registration

(defclass ifai-server (eglot-lsp-server)
  ((status :initform nil :accessor ifai-server-status
           :documentation "The params plist of the last ifai/status notification."))
  :documentation "An eglot connection to ifai-lsp.")

(declare-function ifai-ghost--options "ifai-ghost" (options))

(cl-defmethod eglot-initialization-options ((_server ifai-server))
  "Send `ifai-initialization-options' (an empty object when nil).
With `ifai-ghost-text', inline completion is switched on in them (see
`ifai-ghost--options')."
  (ifai-ghost--options (or ifai-initialization-options (make-hash-table))))

(defconst ifai--language-ids
  '((js . "javascript") (js-jsx . "javascriptreact") (javascript . "javascript")
    (tsx . "typescriptreact") (c++ . "cpp") (sh . "shellscript")
    (bash . "shellscript"))
  "LSP language ids of modes whose name does not give them.")

(defun ifai--language-id (mode)
  "The LSP language id for major MODE."
  (let* ((name (symbol-name mode))
         (base (string-remove-suffix "-mode" (string-remove-suffix "-ts-mode" name))))
    (or (cdr (assq (intern base) ifai--language-ids)) base)))

(defun ifai--contact (&optional _interactive _project)
  "Return the eglot contact for ifai-lsp, after checking its program exists.
Eglot 1.9 on Emacs 28 dies of SIGPIPE writing to a program that never
started, so a missing one is a clear error instead."
  (let ((program (car ifai-server-command)))
    (unless (and (stringp program) (executable-find program))
      (user-error "ifai: cannot run `%s'; install ifai-lsp (npm install -g ifai-lsp) or set `ifai-server-command'"
                  (or program "nil")))
    (cons 'ifai-server ifai-server-command)))

(defun ifai--server-programs-entry-p (entry)
  "Non-nil if ENTRY of `eglot-server-programs' is the one `ifai-setup' added."
  (eq (cdr-safe entry) #'ifai--contact))

(defvar ifai--mode-line-entry '(:eval (ifai-mode-line-string))
  "The element `ifai-setup' adds to `mode-line-misc-info'.")

;;;###autoload
(defun ifai-setup ()
  "Register ifai-lsp in `eglot-server-programs' for `ifai-major-modes'.
Replaces an earlier registration, so it can run again after the modes
change, and puts the mode-line indicator in `mode-line-misc-info'."
  (interactive)
  (setq eglot-server-programs
        (cl-remove-if #'ifai--server-programs-entry-p eglot-server-programs))
  (when ifai-major-modes
    (push (cons (mapcar (lambda (mode) (list mode :language-id (ifai--language-id mode)))
                        ifai-major-modes)
                #'ifai--contact)
          eglot-server-programs))
  (unless (member ifai--mode-line-entry mode-line-misc-info)
    (push ifai--mode-line-entry mode-line-misc-info)))

;;;; Finding the server

(defvar-local ifai--chat-server nil
  "In the chat buffer: the server of the last question.")

(defun ifai--live-servers ()
  "Every running ifai-lsp connection."
  (let (servers)
    (when (boundp 'eglot--servers-by-project)
      (maphash (lambda (_project list)
                 (dolist (s list)
                   (when (and (cl-typep s 'ifai-server) (jsonrpc-running-p s))
                     (push s servers))))
               eglot--servers-by-project))
    servers))

(defun ifai--own-server ()
  "The ifai-lsp connection of this buffer: eglot's, or the chat buffer's."
  (let ((own (ignore-errors (eglot-current-server))))
    (cond ((cl-typep own 'ifai-server) own)
          ((and ifai--chat-server (jsonrpc-running-p ifai--chat-server)) ifai--chat-server))))

(defun ifai--server ()
  "The ifai-lsp connection for a command run in the current buffer.
That is this buffer's (see `ifai--own-server'), else any one running."
  (or (ifai--own-server)
      (car (ifai--live-servers))
      (user-error "ifai: no ifai-lsp server runs; open a file and M-x eglot")))

(defun ifai--send-request (server method params &rest args)
  "Send METHOD with PARAMS to SERVER asynchronously; return the request id.
ARGS are `jsonrpc-async-request' keywords.  The id is what
$/cancelRequest needs: jsonrpc 1.0.14 (Emacs 28) and 1.0.25 (Emacs
30) return it only from their `jsonrpc--async-request-1'."
  (if (fboundp 'jsonrpc--async-request-1)
      (car (apply #'jsonrpc--async-request-1 server method params args))
    (apply #'jsonrpc-async-request server method params args)
    nil))

(defun ifai--execute (command &rest arguments)
  "Run the server COMMAND with ARGUMENTS synchronously and return its result."
  (jsonrpc-request (ifai--server) :workspace/executeCommand
                   (list :command command :arguments (vconcat arguments))))

;;;; Status and mode line

(defun ifai--number (value)
  "VALUE rounded for display, or nil when it is not a number."
  (and (numberp value) (format "%.1f" value)))

(defun ifai-mode-line-string ()
  "The mode-line indicator of the current buffer's ifai-lsp server.
Backend preference, model state and the last tokens per second."
  (when-let* ((server (ifai--own-server))
              (status (ifai-server-status server)))
    (let* ((model (plist-get status :model))
           (chat (plist-get status :chat))
           (backend (or (plist-get (plist-get status :backend) :preference) "auto"))
           (speed (or (ifai--number (plist-get chat :lastTokensPerSecond))
                      (ifai--number (plist-get model :lastTokensPerSecond)))))
      (propertize (format " ifai[%s·%s%s]" backend (or (plist-get model :state) "?")
                          (if speed (format "·%s t/s" speed) ""))
                  'help-echo (or (plist-get model :message) (plist-get model :path))))))

(cl-defmethod eglot-handle-notification ((server ifai-server) (_method (eql 'ifai/status)) &rest params)
  "Keep SERVER's status PARAMS for the mode line."
  (setf (ifai-server-status server) params)
  (run-hook-with-args 'ifai-status-functions server params)
  (force-mode-line-update t))
;;;; Commands

(defun ifai-switch-backend (backend)
  "Make BACKEND (local, cloud or auto) the router's preference for everything."
  (interactive (list (completing-read "ifai backend: " '("local" "cloud" "auto") nil t)))
  (let ((result (ifai--execute "ifai.switchBackend" (capitalize backend))))
    (message "ifai: backend %s (was %s)" (plist-get result :preference) (plist-get result :previous))
    result))

(defun ifai-status ()
  "Show the model's state, path and speed in the echo area."
  (interactive)
  (let* ((result (ifai--execute "ifai.modelStatus"))
         (status (ifai-server-status (ifai--server)))
         (backend (plist-get (plist-get status :backend) :preference))
         (index (plist-get status :index)))
    (message "ifai: model %s (%s)%s%s%s"
             (plist-get result :state)
             (or (plist-get result :message) (plist-get result :path))
             (if-let ((speed (ifai--number (plist-get result :lastTokensPerSecond)))) (format ", %s t/s" speed) "")
             (if backend (format ", backend %s" backend) "")
             (if index (format ", index %s (%s chunks)" (plist-get index :state) (plist-get index :chunks)) ""))
    result))

(defun ifai-models ()
  "List the model catalogue and the installed models in a buffer."
  (interactive)
  (let ((result (ifai--execute "ifai.models.list")))
    (with-current-buffer (get-buffer-create "*ifai-models*")
      (let ((inhibit-read-only t))
        (erase-buffer)
        (insert (format "Models folder: %s\n\n" (plist-get result :modelsDir)))
        (dolist (model (append (plist-get result :models) nil))
          (insert (format "%s %-28s %-9s %6.0f MB  %s\n"
                          (cond ((eq (plist-get model :inUse) t) "*")
                                ((eq (plist-get model :installed) t) "+")
                                (t " "))
                          (plist-get model :id)
                          (mapconcat #'identity (append (plist-get model :roles) nil) ",")
                          (/ (or (plist-get model :approxBytes) 0) 1e6)
                          (plist-get model :name))))
        (insert "\n* in use, + installed\n"))
      (special-mode)
      (goto-char (point-min))
      (display-buffer (current-buffer)))
    result))

(defun ifai-reindex ()
  "Rebuild the codebase index of the workspace."
  (interactive)
  (let ((result (ifai--execute "ifai.reindex")))
    (message "ifai: reindexing (%s, %s)" (plist-get result :state) (plist-get result :mode))
    result))

(defvar ifai-command-map
  (let ((map (make-sparse-keymap)))
    (define-key map "c" #'ifai-chat)
    (define-key map "k" #'ifai-chat-cancel)
    (define-key map "b" #'ifai-switch-backend)
    (define-key map "s" #'ifai-status)
    (define-key map "m" #'ifai-models)
    (define-key map "r" #'ifai-reindex)
    (define-key map "a" #'eglot-code-actions)
    (define-key map "g" #'ifai-ghost-trigger)
    (define-key map "n" #'ifai-nes-request)
    map)
  "Keys for ifai commands, to bind to a prefix key of your choice.")
(fset 'ifai-command-map ifai-command-map)

(ifai-setup)

(provide 'ifai)
;; The chat and the ghost text live in their own files; loading them here keeps
;; `(require 'ifai)' the only step.
(require 'ifai-chat)
(require 'ifai-ghost)
(require 'ifai-nes)
;;; ifai.el ends here
