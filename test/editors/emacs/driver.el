;;; driver.el --- Drives ifai.el in a real headless Emacs for test/editors/emacs.test.ts  -*- lexical-binding: t; -*-

;;; Commentary:

;; Run as: emacs --batch -Q -L clients/emacs [-L <eglot 1.9>] -l driver.el
;; Environment:
;;   IFAI_SERVER_COMMAND  JSON array: the server's program and arguments
;;   IFAI_INIT_OPTIONS    JSON object: the initializationOptions
;;   IFAI_WORKSPACE       the project folder (holds app.py)
;;   IFAI_RESULT          where to write the JSON result
;;   IFAI_DEADLINE        seconds for the whole run (default 45)
;;
;; It uses ifai.el as a user would: the server registered by loading the
;; package, eglot started on a Python file, completion through eglot's
;; capf, a code action through `eglot-code-actions', two chats (one
;; cancelled with the chat buffer's C-c C-k), ghost text typed for,
;; cancelled, dismissed and accepted through `ifai-ghost-mode''s keys, a
;; backend switch, and `eglot-shutdown'.  Every wait polls for a condition with a deadline.
;; The result file records what was seen; any error exits non-zero.

;;; Code:

(require 'cl-lib)
(require 'json)
(require 'subr-x)
;; Loading the package registers the server with eglot, as in a user's init file.
(require 'ifai)

(defvar driver-result nil "Alist written to IFAI_RESULT.")
(defvar driver-start (float-time))
(defvar driver-server nil "The ifai server, once connected (its events go into a failed run's result).")

(defun driver-note (key value)
  "Record KEY with VALUE in the result."
  (setf (alist-get key driver-result) value))

(defun driver-log (format-string &rest args)
  "Print a progress line with the elapsed time."
  (message "[driver %5.2fs] %s" (- (float-time) driver-start) (apply #'format format-string args)))

(defun driver-finish (code)
  "Write the result file and exit with CODE."
  (driver-note 'elapsed (- (float-time) driver-start))
  (with-temp-file (getenv "IFAI_RESULT")
    (insert (json-encode driver-result)))
  (kill-emacs code))

(defun driver-wait (what predicate &optional seconds)
  "Process events until PREDICATE is non-nil; fail after SECONDS naming WHAT."
  (let ((deadline (+ (float-time) (or seconds 20))))
    (while (not (funcall predicate))
      (when (> (float-time) deadline)
        (error "Timed out after %ss waiting for %s" (or seconds 20) what))
      (accept-process-output nil 0.05))))

(defun driver-check (what ok &rest details)
  "Fail with WHAT and DETAILS unless OK."
  (unless ok (error "Check failed: %s %S" what details)))

(let ((deadline (string-to-number (or (getenv "IFAI_DEADLINE") "45"))))
  (run-with-timer deadline nil
                  (lambda ()
                    (driver-note 'error (format "driver deadline of %ss passed" deadline))
                    (driver-finish 3))))

(defun driver-status (server)
  "SERVER's last ifai/status params."
  (ifai-server-status server))

;;;; Ghost text

(defun driver-metrics (server)
  "The sources of SERVER's completion metrics records, oldest first."
  (mapcar (lambda (record) (plist-get record :source))
          (plist-get (jsonrpc-request server :ifai/completionMetrics nil) :records)))

(defun driver-events-count (server string)
  "How many times STRING occurs in SERVER's events buffer."
  (with-current-buffer (jsonrpc-events-buffer server)
    (save-excursion
      (goto-char (point-min))
      (let ((count 0))
        (while (search-forward string nil t) (cl-incf count))
        count))))

(defun driver-cancelled-ids (server)
  "The ids of the $/cancelRequest notifications in SERVER's events buffer.
eglot 1.9 logs messages as plists, 1.17 as JSON."
  (with-current-buffer (jsonrpc-events-buffer server)
    (save-excursion
      (goto-char (point-min))
      (let (ids)
        (while (search-forward "$/cancelRequest" nil t)
          (when (re-search-forward "\\(?::id \\|\"id\":\\)\\([0-9]+\\)" nil t)
            (cl-pushnew (string-to-number (match-string 1)) ids)))
        (nreverse ids)))))

(defun driver-ghost-wait (what)
  "Wait for the ghost request in flight to be answered, naming WHAT."
  (driver-wait what (lambda () (and (null ifai-ghost--timer) (null ifai-ghost--inflight))) 20))

(defun driver-ghost (server)
  "Ghost text in the current buffer (app.py), managed by SERVER."
  ;; Keyboard macros, like the command loop, act on the selected window's buffer.
  (switch-to-buffer (current-buffer))
  (driver-note (quote inline_provider) (if (ifai-ghost--capable-p server) t :json-false))
  (driver-note 'ghost_mode (if ifai-ghost-mode t :json-false))
  ;; How the options are merged: kept when set to "off", added beside other keys otherwise.
  (driver-note 'options_merge
               (vector (json-serialize (ifai-ghost--options '(:completion (:inline "off" :maxTokens 9))))
                       (json-serialize (ifai-ghost--options '((completion.maxTokens . 9))))
                       (json-serialize (ifai-ghost--options '(:ifai (:completion (:maxTokens 9)))))
                       (json-serialize (let ((ifai-ghost-text nil)) (ifai-ghost--options '(:a 1))))))
  ;; Point resting somewhere new is named to the server (the idle timer's function, called as
  ;; the timer would); resting again in the same place names nothing new.
  ;; The timer itself stays out of the way: the driver moves point all the time.
  (when ifai-ghost--focus-timer (cancel-timer ifai-ghost--focus-timer))
  (let ((focus-count (lambda ()
                       (length (seq-filter (lambda (p) (equal (plist-get p :reason) "focus"))
                                           (plist-get (jsonrpc-request server :ifai/completionMetrics nil) :prefills))))))
    (let ((before (funcall focus-count)))
      (goto-char (point-min))
      (forward-line 1)
      (setq ifai-ghost--focused-at nil)
      (ifai-ghost--focus-if-moved)
      (driver-wait "the prefill of the place point rested" (lambda () (> (funcall focus-count) before)) 20)
      (ifai-ghost--focus-if-moved)
      (driver-note 'rest_focus_prefills (- (funcall focus-count) before)))
    ;; A frame of this Emacs gets the window system's focus back: point is named again, though it
    ;; stayed (a shared engine then serves this Emacs first). Focus is faked: no window system here.
    (let ((before (funcall focus-count)))
      (require 'cl-lib)
      (cl-letf (((symbol-function 'frame-focus-state) (lambda (&optional _frame) t)))
        (funcall after-focus-change-function))
      (driver-wait "the prefill of the frame that got focus" (lambda () (> (funcall focus-count) before)) 20)
      (driver-note 'focus_in_prefills (- (funcall focus-count) before))))
  ;; Typing the colon at the end of a line: post-command-hook, the delay's timer, the request.
  ;; (The tiny model's greedy answer there is non-empty and has a word and a non-word.)
  (goto-char (point-max))
  (insert "\n\ndef multiply_numbers(a, b)")
  (execute-kbd-macro ":")
  (driver-ghost-wait "the ghost text's answer")
  (let* ((shown (ifai-ghost-current))
         (after (and ifai-ghost--overlay (overlay-get ifai-ghost--overlay 'after-string)))
         (direct (jsonrpc-request server :textDocument/inlineCompletion
                                  (append (eglot--TextDocumentPositionParams) '(:context (:triggerKind 2))))))
    (driver-log "ghost text %S" shown)
    (driver-note 'ghost_text shown)
    (driver-note 'ghost_after_string (and after (substring-no-properties after)))
    (driver-note 'ghost_at_point (and ifai-ghost--overlay (= (overlay-start ifai-ghost--overlay) (point))))
    (driver-note 'ghost_direct (plist-get (elt (plist-get direct :items) 0) :insertText))
    (driver-note 'ghost_sources (vconcat (last (driver-metrics server) 2)))
    (driver-note 'tab_while_shown (symbol-name (key-binding (kbd "TAB")))))
  ;; C-g dismisses it, and TAB is TAB again.  (C-g in a keyboard macro quits, so its binding
  ;; is called as the command loop would.)
  (driver-note 'c_g_while_shown (symbol-name (key-binding (kbd "C-g"))))
  (call-interactively (key-binding (kbd "C-g")))
  (driver-note 'ghost_after_dismiss (ifai-ghost-current))
  (driver-note 'tab_after_dismiss (symbol-name (key-binding (kbd "TAB"))))
  (let ((line-end (point)))
    ;; Two triggers in a row at a new place: the second (one character back) cancels the first.
    ;; Both go to the cloud fixture, which never answers the first: it ends in the server's
    ;; debounce or by its cancel, never by itself, however busy the machine is.
    (goto-char (point-min))
    (search-forward "' + name")
    (ifai-switch-backend "cloud")
    (let* ((records (length (driver-metrics server)))
           (first (driver-request-id (call-interactively #'ifai-ghost-trigger)))
           (second (progn (backward-char)
                          (driver-request-id (call-interactively #'ifai-ghost-trigger)))))
      (driver-ghost-wait "the second trigger's answer")
      (driver-note 'trigger_ids (vector first second))
      (driver-note 'cancelled_ids (vconcat (driver-cancelled-ids server)))
      (driver-note 'trigger_sources (vconcat (nthcdr records (driver-metrics server))))
      (ifai-switch-backend "local"))
    (call-interactively #'ifai-ghost-dismiss)
    ;; An answer that arrives after point moved is not shown (the cache answers "i(" here).
    (goto-char line-end)
    (call-interactively #'ifai-ghost-trigger)
    (backward-char)
    (driver-ghost-wait "the stale answer")
    (driver-note 'ghost_after_move (ifai-ghost-current))
    ;; Back at the end of the new line: the suggestion again (from the cache), accepted with TAB.
    (goto-char line-end)
    (call-interactively #'ifai-ghost-trigger)
    (driver-ghost-wait "the suggestion again")
    (driver-note 'ghost_again (ifai-ghost-current))
    (execute-kbd-macro (kbd "TAB"))
    (driver-note 'accepted (buffer-substring-no-properties line-end (point)))
    (driver-note 'point_at_end_of_accepted (= (point) (+ line-end (length (driver-get 'ghost_text)))))
    (driver-note 'ghost_after_accept (ifai-ghost-current))
    ;; Without the accepted text the cache has it again: M-f takes a word, TAB the rest if any.
    (delete-region line-end (point))
    (call-interactively #'ifai-ghost-trigger)
    (driver-ghost-wait "the suggestion once more")
    (driver-note 'ghost_once_more (ifai-ghost-current))
    (execute-kbd-macro (kbd "M-f"))
    (driver-note 'after_word (buffer-substring-no-properties line-end (point)))
    (driver-note 'rest_after_word (ifai-ghost-current))
    (when (ifai-ghost-current) (execute-kbd-macro (kbd "TAB")))
    (driver-note 'accepted_in_parts (buffer-substring-no-properties line-end (point)))
    ;; Typing the suggestion's first character keeps the rest shown, before any new answer.
    (delete-region line-end (point))
    (call-interactively #'ifai-ghost-trigger)
    (driver-ghost-wait "the suggestion to type through")
    (execute-kbd-macro (substring (ifai-ghost-current) 0 1))
    (driver-note 'rest_after_typing (ifai-ghost-current))
    (call-interactively #'ifai-ghost-dismiss))
  ;; With ifai-ghost-text nil the mode goes off: typing asks nothing, and a new buffer of the
  ;; same server does not get the mode.
  (let ((requests (driver-events-count server "textDocument/inlineCompletion")))
    (customize-set-variable 'ifai-ghost-text nil)
    (driver-note 'mode_when_off (if ifai-ghost-mode t :json-false))
    (execute-kbd-macro "x")
    (driver-note 'timer_when_off (if ifai-ghost--timer t :json-false))
    (with-current-buffer (find-file-noselect (expand-file-name "geometry.py" (getenv "IFAI_WORKSPACE")))
      (driver-wait "eglot to manage geometry.py" (lambda () (eglot-managed-p)) 10)
      (driver-note 'other_buffer_mode (if ifai-ghost-mode t :json-false)))
    (driver-metrics server)
    (driver-note 'requests_when_off (- (driver-events-count server "textDocument/inlineCompletion") requests))))

;;;; Next edits

(defun driver-nes-wait (what)
  "Wait for the next-edit request in flight to be answered, naming WHAT."
  (driver-wait what (lambda () (and (null ifai-nes--timer) (null ifai-nes--inflight))) 20))

(defun driver-overlay-texts (face)
  "The texts under this buffer's overlays with FACE."
  (vconcat (mapcar (lambda (o) (buffer-substring-no-properties (overlay-start o) (overlay-end o)))
                   (cl-remove-if-not (lambda (o) (eq (overlay-get o 'face) face)) ifai-nes--overlays))))

(defun driver-nes (server)
  "Next edits in area.py, managed by SERVER: shown after a rename, dismissed,
asked again twice (the latest wins), refused on a changed buffer, jumped to
and accepted."
  (let* ((file (expand-file-name "area.py" (getenv "IFAI_WORKSPACE")))
         (buffer (progn (with-temp-file file (insert (getenv "IFAI_NES_SOURCE")))
                        (find-file-noselect file))))
    (switch-to-buffer buffer)
    (driver-wait "eglot to manage area.py" (lambda () (eglot-managed-p)) 10)
    (setq ifai-nes-delay 0.1)
    (customize-set-variable 'ifai-next-edits t)
    (driver-note 'nes_mode (if ifai-nes-mode t :json-false))
    (driver-note 'nes_before (buffer-string))
    ;; The user renames the parameter; after the pause the suggestion shows on the next line.
    (goto-char (point-min))
    (search-forward "area(w")
    (execute-kbd-macro "idth")
    (driver-wait "the next edit to show" (lambda () (ifai-nes-current)) 20)
    (driver-note 'nes_shown_point (vector (line-number-at-pos) (current-column)))
    (driver-note 'nes_shown_text (buffer-string))
    (driver-note 'nes_edits (vconcat (ifai-nes-current)))
    (driver-note 'nes_deleted (driver-overlay-texts 'ifai-nes-delete-face))
    (driver-note 'nes_after_string
                 (vconcat (delq nil (mapcar (lambda (o) (let ((s (overlay-get o 'ifai-nes-text))) (and s (substring-no-properties s))))
                                            ifai-nes--overlays))))
    (driver-note 'nes_show_sent (driver-events-count server "didShowCompletion"))
    ;; C-g dismisses it (called as the command loop would: C-g in a keyboard macro quits).
    (driver-note 'nes_c_g (symbol-name (key-binding (kbd "C-g"))))
    (driver-note 'nes_m_n (symbol-name (key-binding (kbd "M-n"))))
    (call-interactively (key-binding (kbd "C-g")))
    (driver-note 'nes_after_dismiss (vector (if (ifai-nes-current) t :json-false) (length ifai-nes--overlays) (buffer-string)))
    (driver-note 'nes_dismiss_sent (driver-events-count server "ifai/didDismissSuggestion"))
    (driver-note 'nes_m_n_after_dismiss (symbol-name (key-binding (kbd "M-n"))))
    ;; Asked twice at once: the first request is cancelled, the second shown.
    (let* ((first (ifai-nes--request-id (ifai-nes-request)))
           (second (ifai-nes--request-id (ifai-nes-request))))
      (driver-wait "the suggestion asked for" (lambda () (ifai-nes-current)) 20)
      (driver-note 'nes_trigger_ids (vector first second))
      (driver-note 'nes_cancelled_ids (vconcat (driver-cancelled-ids server))))
    ;; The buffer changes under the suggestion (not by a command): accepting applies nothing.
    (save-excursion (goto-char (point-max)) (insert "# x"))
    (driver-note 'nes_stale_accept (if (ifai-nes-accept) t :json-false))
    (driver-note 'nes_stale_text (buffer-string))
    (driver-note 'nes_stale_shown (if (ifai-nes-current) t :json-false))
    (save-excursion (goto-char (point-max)) (delete-char -3))
    (ifai-nes-request)
    (driver-wait "the suggestion again" (lambda () (ifai-nes-current)) 20)
    ;; M-n jumps to it, M-RET accepts it: the buffer is exactly the suggested text.
    (execute-kbd-macro (kbd "M-n"))
    (driver-note 'nes_jumped (vector (line-number-at-pos) (current-column)))
    (let ((commands (driver-events-count server "workspace/executeCommand")))
      (execute-kbd-macro (kbd "M-RET"))
      (driver-note 'nes_accepted (buffer-string))
      (driver-note 'nes_accepted_point (vector (line-number-at-pos) (current-column)))
      ;; Accepting is a change: after the pause the plugin asks again; nothing more is suggested.
      (driver-nes-wait "the request after accepting")
      (driver-note 'nes_after_accept (if (ifai-nes-current) t :json-false))
      (driver-note 'nes_accept_commands (- (driver-events-count server "workspace/executeCommand") commands)))
    (driver-note 'nes_stats ifai-nes-stats)
    (customize-set-variable 'ifai-next-edits nil)))

(defun driver-request-id (request)
  "REQUEST's jsonrpc id."
  (and request (ifai-ghost--request-id request)))

(defun driver-get (key)
  "The value recorded for KEY."
  (alist-get key driver-result))

(defun driver-run ()
  "The scenario."
  (setq eglot-sync-connect nil)
  ;; Automatic next edits only in the step that tests them (elsewhere they would ask the
  ;; fixture after every command).
  (customize-set-variable 'ifai-next-edits nil)
  ;; eglot 1.9 names the confirmation variable differently from 1.17; neither may ask on stdin.
  (setq eglot-confirm-server-initiated-edits nil)
  (defvar eglot-confirm-server-edits)
  (setq eglot-confirm-server-edits nil)
  (driver-note 'emacs emacs-version)
  (driver-note 'eglot (or (cdr (assq 'eglot package--builtin-versions))
                          (locate-library "eglot")))
  (driver-check "ifai is registered with eglot" (cl-some #'ifai--server-programs-entry-p eglot-server-programs))
  (setq ifai-server-command (append (json-parse-string (getenv "IFAI_SERVER_COMMAND")) nil))
  (setq ifai-initialization-options
        (json-parse-string (getenv "IFAI_INIT_OPTIONS") :object-type 'plist :false-object :json-false))
  (let* ((workspace (file-name-as-directory (getenv "IFAI_WORKSPACE")))
         (file (expand-file-name "app.py" workspace))
         (deltas (make-hash-table :test #'equal))
         (finished (make-hash-table :test #'equal))
         (status-count 0)
         server buffer)
    (add-hook 'ifai-chat-delta-functions
              (lambda (id _seq _delta) (puthash id (1+ (gethash id deltas 0)) deltas)))
    (add-hook 'ifai-chat-finished-functions
              (lambda (id status result) (puthash id (cons status result) finished)))
    (add-hook 'ifai-status-functions (lambda (_server _params) (cl-incf status-count)))

    ;; A missing program is a clear error, before eglot starts anything.
    (setq buffer (find-file-noselect file))
    (with-current-buffer buffer
      (let ((ifai-server-command '("/nonexistent/ifai-lsp" "--stdio")))
        (driver-note 'missing_binary_error
                     (condition-case err (progn (call-interactively #'eglot) "no error")
                       (user-error (error-message-string err))))))

    ;; Start: eglot-ensure connects from the command loop's post-command-hook, run here by hand.
    (with-current-buffer buffer
      (driver-note 'major_mode (symbol-name major-mode))
      (eglot-ensure)
      (run-hooks 'post-command-hook)
      (driver-wait "eglot to manage the buffer" (lambda () (eglot-managed-p)) 20)
      (setq server (eglot-current-server)
            driver-server server)
      (driver-check "the server is an ifai-server" (cl-typep server 'ifai-server) server)
      (driver-note 'server_pid (process-id (jsonrpc--process server)))
      (driver-log "connected, pid %s" (process-id (jsonrpc--process server)))
      (driver-wait "an ifai/status notification" (lambda () (driver-status server)) 20)

      ;; Completion through eglot's capf: its table, asked the way completion-at-point asks.
      (driver-check "eglot's capf is active" (memq #'eglot-completion-at-point completion-at-point-functions))
      (goto-char (point-min))
      (search-forward "return a + b")
      (let* ((capf (eglot-completion-at-point))
             (probe (buffer-substring-no-properties (nth 0 capf) (point)))
             (items (all-completions probe (nth 2 capf))))
        (driver-log "completion items %S" items)
        (driver-note 'completion_items (vconcat (mapcar #'substring-no-properties items)))
        (driver-check "completion items" items))

      ;; A code action by kind through eglot-code-actions: with one action of that kind eglot
      ;; runs it directly (1.9: the ifai.codeAction command and workspace/applyEdit; 1.17: resolve).
      (goto-char (point-min))
      (search-forward "return a + b")
      (let ((before (buffer-string)))
        (eglot-code-actions (point) nil "refactor.rewrite.documentation" t)
        (driver-wait "the documentation edit" (lambda () (not (equal before (buffer-string)))) 20)
        (driver-note 'after_action (buffer-string))
        ;; Which protocol path eglot took, from its events log.
        (with-current-buffer (jsonrpc-events-buffer server)
          (driver-note 'action_methods
                       (vconcat (cl-remove-if-not
                                 (lambda (method) (save-excursion (goto-char (point-min)) (search-forward (format "%S" method) nil t)))
                                 '("codeAction/resolve" "workspace/executeCommand" "workspace/applyEdit")))))
        (driver-log "code action applied"))

      ;; A code action whose edit the server refuses (the scripted reply holds no test and breaks
      ;; the syntax), chosen by a kind only it has (eglot 1.17 asks when several match): the
      ;; exchange ends after one round (eglot 1.17 resolved such an action again without end), the
      ;; buffer stays as it was, and the reason reaches the user.
      (goto-char (point-min))
      (search-forward "return 'Hello, '")
      (let ((before (buffer-string))
            (resolves (driver-events-count server "codeAction/resolve"))
            (commands (driver-events-count server "workspace/executeCommand")))
        (eglot-code-actions (point) nil "source.generateTests" t)
        (driver-note 'refusal_unchanged (if (equal before (buffer-string)) t :json-false))
        (driver-note 'refusal_resolve_mentions (- (driver-events-count server "codeAction/resolve") resolves))
        (driver-note 'refusal_command_mentions (- (driver-events-count server "workspace/executeCommand") commands))
        (driver-note 'docs_resolve_mentions resolves)
        (driver-note 'docs_command_mentions commands)
        (driver-log "refused code action done"))

      ;; Wait for the index so @codebase finds sources.
      (driver-wait "the index to be ready"
                   (lambda () (equal (plist-get (plist-get (driver-status server) :index) :state) "ready"))
                   20)

      ;; A chat that streams to its end.
      (let* ((ifai-chat-max-tokens 24)
             (id (ifai-chat "@codebase where is add_numbers defined?")))
        (driver-wait "the first chat to finish" (lambda () (gethash id finished)) 30)
        (driver-note 'chat1_status (symbol-name (car (gethash id finished))))
        (driver-note 'chat1_deltas (gethash id deltas 0))
        (driver-note 'chat1_result (cdr (gethash id finished)))
        (driver-log "chat 1: %s deltas" (gethash id deltas 0)))

      ;; A chat about the selected function, cancelled with C-c C-k in the chat buffer as its
      ;; first piece arrives. It goes to the cloud fixture, whose scripted stream stays open until
      ;; the server closes it: the answer cannot end before the cancel, however busy the machine.
      (let ((count status-count))
        (ifai-switch-backend "cloud")
        (driver-wait "the status after the switch to the cloud"
                     (lambda () (and (> status-count count)
                                     (equal (plist-get (plist-get (driver-status server) :backend) :preference) "cloud")))
                     10))
      (let* ((ifai-chat-max-tokens 2000)
             (target nil)
             (cancel-on-first (lambda (id _seq _delta)
                                (when (equal id target)
                                  (with-current-buffer ifai-chat-buffer-name
                                    (call-interactively (key-binding (kbd "C-c C-k")))))))
             (id (progn (add-hook 'ifai-chat-delta-functions cancel-on-first)
                        (goto-char (point-min))
                        (ifai-chat "Explain add_numbers in detail."
                                   (point) (progn (forward-line 3) (point))))))
        (setq target id)
        (driver-wait "the cancelled chat's response" (lambda () (gethash id finished)) 20)
        (remove-hook 'ifai-chat-delta-functions cancel-on-first)
        (driver-note 'chat2_status (symbol-name (car (gethash id finished))))
        (driver-note 'chat2_stop_reason (plist-get (cdr (gethash id finished)) :stopReason))
        (driver-note 'chat2_deltas (gethash id deltas 0))
        (driver-log "chat 2 cancelled after %s deltas" (gethash id deltas 0)))
      ;; Switch the backend back; the status notification updates the mode line.
      (let ((count status-count))
        (ifai-switch-backend "local")
        (driver-wait "the status after the switch"
                     (lambda () (and (> status-count count)
                                     (equal (plist-get (plist-get (driver-status server) :backend) :preference) "local")))
                     10))
      ;; Explain runs as a command whose answer the server streams on its own: it gets a
      ;; section of the chat buffer.
      (goto-char (point-min))
      (search-forward "return a + b")
      (let ((count (hash-table-count deltas)))
        (eglot-code-actions (point) nil "refactor.explain" t)
        (driver-wait "the explanation's deltas" (lambda () (> (hash-table-count deltas) count)) 20))
      (driver-note 'explain_ids (vconcat (cl-remove-if-not (lambda (id) (string-prefix-p "explain-" id))
                                                          (hash-table-keys deltas))))

      (driver-note 'chat_buffer (with-current-buffer ifai-chat-buffer-name
                                  (buffer-substring-no-properties (point-min) (point-max))))
      ;; The source buttons of the footer visit the file at the line.
      (with-current-buffer ifai-chat-buffer-name
        (let (labels next)
          (save-excursion
            (goto-char (point-min))
            (while (setq next (next-button (point)))
              (goto-char next)
              (push (button-label next) labels)))
          (driver-note 'chat_buttons (vconcat (nreverse labels)))
          (goto-char (point-min))
          (push-button (next-button (point))))
        (driver-note 'button_visits (format "%s:%d" (file-name-nondirectory buffer-file-name)
                                            (line-number-at-pos))))
      (set-buffer buffer)

      ;; The other commands answer.
      (driver-note 'status_state (plist-get (ifai-status) :state))
      (let ((models (ifai-models)))
        (driver-note 'models_listed (length (plist-get models :models)))
        (driver-note 'models_buffer (with-current-buffer "*ifai-models*" (buffer-string))))
      (driver-note 'reindex_state (plist-get (ifai-reindex) :state))

      ;; `format-mode-line' gives "" in batch Emacs, so the entry ifai put in the mode line is
      ;; checked and evaluated as the mode line would.
      (driver-check "the indicator is in mode-line-misc-info" (member ifai--mode-line-entry mode-line-misc-info))
      (driver-note 'mode_line (substring-no-properties (eval (cadr ifai--mode-line-entry) t)))

      (driver-ghost server)
      (driver-log "ghost text done")
      (driver-nes server)
      (driver-log "next edits done")

      ;; Shut down: the server process must be gone.
      (eglot-shutdown server)
      (driver-wait "the server process to exit" (lambda () (not (process-live-p (jsonrpc--process server)))) 10)
      (driver-note 'server_running_after_shutdown (if (jsonrpc-running-p server) t :json-false))
      (driver-log "shut down"))))

(condition-case err
    (progn (driver-run) (driver-finish 0))
  (error
   (driver-note 'error (error-message-string err))
   ;; The end of the JSON-RPC log says what the server and eglot said last.
   (when (and driver-server (buffer-live-p (jsonrpc-events-buffer driver-server)))
     (with-current-buffer (jsonrpc-events-buffer driver-server)
       (driver-note 'events_tail (buffer-substring-no-properties (max (point-min) (- (point-max) 6000)) (point-max)))))
   (driver-log "ERROR: %s" (error-message-string err))
   (driver-finish 1)))

;;; driver.el ends here
