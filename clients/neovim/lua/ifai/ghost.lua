--- ifai.nvim: ghost text drawn by the plugin, for Neovim without `vim.lsp.inline_completion` (0.7-0.11).
---
--- In insert mode, every text change or cursor move (debounced by `ghost_text_debounce_ms`) asks
--- the server for `textDocument/inlineCompletion`; only the latest request matters, so the one
--- still in flight is cancelled (`$/cancelRequest` frees the model at once) and answers that
--- arrive for an older buffer state or cursor position are dropped. The first suggestion is shown
--- with extmarks in the namespace `ifai_ghost`: the rest of the current line as virtual text
--- (`inline` on 0.10+; on 0.7-0.9, which only have `overlay`, only when the cursor is at the end of
--- the line, since an overlay would hide the text after it), further lines as virtual lines.
--- Keys accept all of it, accept one word, or dismiss it; each does its usual work when nothing
--- is shown.
local config = require('ifai.config')
local util = require('ifai.util')

local api = vim.api
local M = {}

M.ns = api.nvim_create_namespace('ifai_ghost')
--- `:IfaiGhostText on|off` sets this; nil means "as the options say".
M.override = nil
--- Counters and recent request ids, for :IfaiStatus-style inspection and the tests.
M.stats = { requests = 0, responses = 0, stale = 0, shown = 0, accepted = 0, cancelled = {} }

--- Per buffer: { timer, pending = { id, client_id, tick, row, col }, shown = { row, col, text, end_col } }.
local buffers = {}

--- InlineCompletionTriggerKind.Automatic (LSP 3.18): the editor asked while the user typed.
local TRIGGER_AUTOMATIC = 2

--- Whether the options turn the plugin's ghost text on (before any :IfaiGhostText).
---@param options table|nil
function M.wanted(options)
  options = options or config.options
  if options.ghost_text == true or options.ghost_text == false then
    return options.ghost_text
  end
  local native = vim.lsp.inline_completion and vim.lsp.inline_completion.enable
  return options.inline_completion ~= false and not native
end

--- Whether ghost text is on now.
function M.active()
  if M.override ~= nil then
    return M.override
  end
  return M.wanted()
end

local function state(bufnr)
  local s = buffers[bufnr]
  if not s then
    s = {}
    buffers[bufnr] = s
  end
  return s
end

local function in_insert_mode()
  return api.nvim_get_mode().mode:sub(1, 1) == 'i'
end

--- The ifai client attached to a buffer that answers inline completion requests, or nil.
function M.inline_client(bufnr)
  local client = util.client(bufnr)
  if not client or not vim.lsp.buf_is_attached(bufnr, client.id) then
    return nil
  end
  local caps = client.server_capabilities or {}
  return caps.inlineCompletionProvider and client or nil
end

--- Whether the buffer's ghost text is visible now.
function M.visible(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and api.nvim_get_current_buf() or bufnr
  return buffers[bufnr] ~= nil and buffers[bufnr].shown ~= nil
end

--- Whether a request is in flight (any buffer, or the given one); the status line shows "…" then.
function M.busy(bufnr)
  for b, s in pairs(buffers) do
    if s.pending and (bufnr == nil or b == bufnr) then
      return true
    end
  end
  return false
end

--- The id of the request in flight for a buffer, or nil.
function M.pending_id(bufnr)
  local s = buffers[(bufnr == nil or bufnr == 0) and api.nvim_get_current_buf() or bufnr]
  return s and s.pending and s.pending.id
end

--- The text shown now (all of the suggestion after the cursor), or nil.
function M.text(bufnr)
  local s = buffers[(bufnr == nil or bufnr == 0) and api.nvim_get_current_buf() or bufnr]
  return s and s.shown and s.shown.text
end

--- Cancels the request in flight for a buffer, if any.
local function cancel(bufnr)
  local s = buffers[bufnr]
  if not s or not s.pending then
    return
  end
  local pending = s.pending
  s.pending = nil
  local client = vim.lsp.get_client_by_id(pending.client_id)
  if client then
    pcall(util.call, client, 'cancel_request', pending.id)
  end
  table.insert(M.stats.cancelled, pending.id)
  if #M.stats.cancelled > 50 then
    table.remove(M.stats.cancelled, 1)
  end
  pcall(vim.cmd, 'redrawstatus')
end

--- Removes the ghost text of a buffer (the request in flight, if any, goes on).
function M.clear(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and api.nvim_get_current_buf() or bufnr
  if api.nvim_buf_is_valid(bufnr) then
    api.nvim_buf_clear_namespace(bufnr, M.ns, 0, -1)
  end
  if buffers[bufnr] then
    buffers[bufnr].shown = nil
  end
end

--- Stops everything for a buffer: the timer, the request in flight and the ghost text.
function M.reset(bufnr)
  local s = buffers[bufnr]
  if s and s.timer then
    s.timer:stop()
  end
  cancel(bufnr)
  M.clear(bufnr)
end

--- Virtual text shows a tab as a single odd glyph; spaces keep the suggestion's layout.
local function expand_tabs(bufnr, text)
  return (text:gsub('\t', string.rep(' ', vim.bo[bufnr].tabstop)))
end

--- Tells the server what became of the item shown (acceptance feedback, kept on the user's machine).
local function feedback(shown, method, params)
  local client = shown and shown.client_id and vim.lsp.get_client_by_id(shown.client_id)
  if client and shown.item then
    params.item = shown.item
    pcall(util.call, client, 'notify', method, params)
  end
end

--- Draws `text` as ghost text at (row, col) (0-based, byte column) and remembers it, with `meta`:
--- the item it comes from, its client, and how much of it was accepted so far.
local function render(bufnr, row, col, text, end_col, meta)
  api.nvim_buf_clear_namespace(bufnr, M.ns, 0, -1)
  local lines = vim.split(text, '\n', { plain = true })
  local opts = { hl_mode = 'combine' }
  if lines[1] ~= '' then
    opts.virt_text = { { expand_tabs(bufnr, lines[1]), 'IfaiGhostText' } }
    -- 0.7-0.9 have no inline virtual text; requests are only made at the end of a line there, so
    -- an overlay at the line's end covers nothing.
    opts.virt_text_pos = vim.fn.has('nvim-0.10') == 1 and 'inline' or 'overlay'
  end
  if #lines > 1 then
    opts.virt_lines = {}
    for i = 2, #lines do
      table.insert(opts.virt_lines, { { expand_tabs(bufnr, lines[i]), 'IfaiGhostText' } })
    end
  end
  api.nvim_buf_set_extmark(bufnr, M.ns, row, col, opts)
  meta = meta or {}
  state(bufnr).shown = { row = row, col = col, text = text, end_col = end_col or col, item = meta.item, client_id = meta.client_id, accepted_len = meta.accepted_len or 0 }
end

--- The part of an item to show after the cursor at (row, col), and the byte column its range ends
--- at on that row; nil when the item does not continue what is typed.
local function after_cursor(bufnr, item, row, col, encoding)
  local insert = item.insertText
  if type(insert) == 'table' then
    insert = insert.value
  end
  if type(insert) ~= 'string' or insert == '' then
    return nil
  end
  insert = insert:gsub('\r\n', '\n')
  local line = api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ''
  local end_col = col
  if type(item.range) == 'table' then
    local start, finish = item.range.start, item.range['end']
    if start.line ~= row then
      return nil
    end
    local start_col = util.byte_index(line, start.character, encoding)
    if start_col > col then
      return nil
    end
    -- The range may begin before the cursor: the item then repeats what was typed since.
    local typed = line:sub(start_col + 1, col)
    if insert:sub(1, #typed) ~= typed then
      return nil
    end
    insert = insert:sub(#typed + 1)
    if finish and finish.line == row then
      end_col = math.max(col, util.byte_index(line, finish.character, encoding))
    end
  end
  if insert == '' then
    return nil
  end
  return insert, end_col
end

local function on_response(bufnr, id, err, result)
  local s = buffers[bufnr]
  if not s or not s.pending or s.pending.id ~= id then
    -- Superseded or cancelled: a newer request (or none) is what counts now.
    M.stats.stale = M.stats.stale + 1
    return
  end
  local pending = s.pending
  s.pending = nil
  M.stats.responses = M.stats.responses + 1
  pcall(vim.cmd, 'redrawstatus')
  if err or not api.nvim_buf_is_valid(bufnr) or not M.active() then
    M.last_error = err
    return
  end
  local cursor = api.nvim_win_get_cursor(0)
  if api.nvim_get_current_buf() ~= bufnr or api.nvim_buf_get_changedtick(bufnr) ~= pending.tick
    or cursor[1] - 1 ~= pending.row or cursor[2] ~= pending.col or not in_insert_mode()
    or vim.fn.pumvisible() == 1 then
    M.stats.stale = M.stats.stale + 1
    return
  end
  local items = type(result) == 'table' and (result.items or result) or {}
  local client = vim.lsp.get_client_by_id(pending.client_id)
  local encoding = client and client.offset_encoding or 'utf-16'
  for _, item in ipairs(items) do
    local text, end_col = after_cursor(bufnr, item, pending.row, pending.col, encoding)
    if text then
      render(bufnr, pending.row, pending.col, text, end_col, { item = item, client_id = pending.client_id })
      M.stats.shown = M.stats.shown + 1
      M.last_item = item
      feedback(buffers[bufnr].shown, 'textDocument/didShowCompletion', {})
      return
    end
  end
end

--- Asks the server for a suggestion at the cursor now (the debounce timer calls this).
---@param bufnr integer|nil default: the current buffer
---@return integer|nil request id
function M.request(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and api.nvim_get_current_buf() or bufnr
  if not M.active() or api.nvim_get_current_buf() ~= bufnr or not in_insert_mode() or vim.fn.pumvisible() == 1 then
    return nil
  end
  local client = M.inline_client(bufnr)
  if not client then
    return nil
  end
  local row, col = unpack(api.nvim_win_get_cursor(0))
  row = row - 1
  local line = api.nvim_get_current_line()
  if col < #line and vim.fn.has('nvim-0.10') == 0 then
    return nil
  end
  cancel(bufnr)
  local params = {
    textDocument = { uri = vim.uri_from_bufnr(bufnr) },
    position = { line = row, character = util.line_length(line:sub(1, col), client.offset_encoding) },
    context = { triggerKind = TRIGGER_AUTOMATIC },
  }
  local id
  local ok, sent, request_id = pcall(util.call, client, 'request', 'textDocument/inlineCompletion', params, function(err, result)
    on_response(bufnr, id, err, result)
  end, bufnr)
  if not ok or not sent then
    return nil
  end
  id = request_id
  -- The changedtick is read after the request, which first sends pending didChange notifications.
  state(bufnr).pending = { id = id, client_id = client.id, tick = api.nvim_buf_get_changedtick(bufnr), row = row, col = col }
  M.stats.requests = M.stats.requests + 1
  pcall(vim.cmd, 'redrawstatus')
  -- Lets status lines and user code follow requests.
  pcall(api.nvim_exec_autocmds, 'User', { pattern = 'IfaiGhostRequest', modeline = false })
  return id
end

--- Whether the ghost text shown still fits after typing: what was typed since is its beginning.
--- Then the rest is shown at once, with no request (the server would answer the same).
local function typed_through(bufnr, row, col)
  local shown = buffers[bufnr] and buffers[bufnr].shown
  if not shown or shown.row ~= row or col < shown.col then
    return false
  end
  local typed = api.nvim_get_current_line():sub(shown.col + 1, col)
  if typed == '' or shown.text:sub(1, #typed) ~= typed or #typed >= #shown.text then
    return col == shown.col and typed == ''
  end
  render(bufnr, row, col, shown.text:sub(#typed + 1), math.max(col, shown.end_col), shown)
  return true
end

--- Text changed or the cursor moved in insert mode: keep ghost text that still fits, else drop it
--- and the request in flight, and ask again after the debounce.
function M.on_change(bufnr)
  if not M.active() then
    return
  end
  local s = state(bufnr)
  local row, col = unpack(api.nvim_win_get_cursor(0))
  if vim.fn.pumvisible() == 0 and typed_through(bufnr, row - 1, col) then
    return
  end
  cancel(bufnr)
  M.clear(bufnr)
  if vim.fn.pumvisible() == 1 then
    return
  end
  s.timer = s.timer or (vim.uv or vim.loop).new_timer()
  s.timer:stop()
  s.timer:start(math.max(0, tonumber(config.options.ghost_text_debounce_ms) or 0), 0, vim.schedule_wrap(function()
    if api.nvim_buf_is_valid(bufnr) then
      M.request(bufnr)
    end
  end))
end

--- The next word of a suggestion: a line break with the next line's indent, else spaces and a run
--- of word characters or of punctuation.
local function next_word(text)
  return text:match('^\n[ \t]*') or text:match('^[ \t]*[%w_]+') or text:match('^[ \t]*[^%w_%s]+') or text:match('^[ \t]+') or text
end

--- Inserts the ghost text (all of it, or its next word) at the cursor and moves past it.
---@param bufnr integer|nil
---@param what string|nil 'all' (default) or 'word'
---@return boolean accepted false when nothing was shown
function M.accept(bufnr, what)
  bufnr = (bufnr == nil or bufnr == 0) and api.nvim_get_current_buf() or bufnr
  local s = buffers[bufnr]
  local shown = s and s.shown
  if not shown then
    return false
  end
  local part = what == 'word' and next_word(shown.text) or shown.text
  local rest = shown.text:sub(#part + 1)
  local lines = vim.split(part, '\n', { plain = true })
  -- Accepting all of it replaces the item's range after the cursor; a word only inserts.
  local end_col = rest == '' and shown.end_col or shown.col
  cancel(bufnr)
  M.clear(bufnr)
  api.nvim_buf_set_text(bufnr, shown.row, shown.col, shown.row, end_col, lines)
  local row = shown.row + #lines - 1
  local col = #lines == 1 and shown.col + #lines[1] or #lines[#lines]
  api.nvim_win_set_cursor(0, { row + 1, col })
  M.stats.accepted = M.stats.accepted + 1
  if rest ~= '' then
    -- The rest stays in view; the events of this change find it typed through.
    local accepted_len = shown.accepted_len + util.line_length(part, 'utf-16')
    render(bufnr, row, col, rest, col, { item = shown.item, client_id = shown.client_id, accepted_len = accepted_len })
    feedback(shown, 'textDocument/didPartiallyAcceptCompletion', { acceptedLength = accepted_len })
  else
    -- The item's command tells the server it was accepted (Copilot's items carry one too).
    local client = shown.client_id and vim.lsp.get_client_by_id(shown.client_id)
    local command = type(shown.item) == 'table' and shown.item.command
    if client and type(command) == 'table' then
      pcall(util.call, client, 'request', 'workspace/executeCommand', { command = command.command, arguments = command.arguments }, function() end, bufnr)
    end
  end
  return true
end

--- Hides the ghost text and cancels its request; false when nothing was shown or asked for.
function M.dismiss(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and api.nvim_get_current_buf() or bufnr
  local s = buffers[bufnr]
  if not s or (not s.shown and not s.pending) then
    return false
  end
  local shown = s.shown
  M.reset(bufnr)
  if shown then
    feedback(shown, 'ifai/didDismissSuggestion', {})
  end
  return shown ~= nil
end

--- A buffer-local insert-mode mapping that runs `fn` and, when it did nothing, the key's own work.
local function map(bufnr, lhs, fn, desc)
  util.map_or_pass(bufnr, 'i', lhs, fn, desc, 'ni')
end

--- Sets ghost text up for a buffer the server attached to (autocommands and keys).
function M.attach(client, bufnr)
  local s = state(bufnr)
  if s.attached then
    return
  end
  s.attached = true
  vim.cmd('highlight default link IfaiGhostText Comment')
  local group = api.nvim_create_augroup('ifai_ghost_' .. bufnr, { clear = true })
  util.autocmd(group, bufnr, { 'InsertEnter', 'TextChangedI', 'CursorMovedI' }, function()
    M.on_change(bufnr)
  end)
  -- The server evaluates the prompt of the buffer in front of the user ahead of the first
  -- keystroke: when the buffer is entered or its Neovim gains the terminal's focus (FocusGained:
  -- a shared engine then serves this window before other editors'), and when the cursor rests
  -- somewhere new in normal mode (CursorHold, after 'updatetime'), where the user is about to type.
  local focused_at
  local function focus(event)
    local row, col = unpack(api.nvim_win_get_cursor(0))
    if event == 'CursorHold' and focused_at and focused_at[1] == row and focused_at[2] == col then
      return
    end
    focused_at = { row, col }
    local line = api.nvim_get_current_line()
    pcall(util.call, client, 'notify', 'ifai/didFocus', {
      textDocument = { uri = vim.uri_from_bufnr(bufnr) },
      position = { line = row - 1, character = util.line_length(line:sub(1, col), client.offset_encoding) },
    })
  end
  util.autocmd(group, bufnr, { 'BufEnter', 'FocusGained', 'CursorHold' }, function(args)
    focus(args.event)
  end)
  -- Leaving insert mode with ghost text shown dismisses it.
  util.autocmd(group, bufnr, 'InsertLeave', function()
    M.dismiss(bufnr)
  end)
  util.autocmd(group, bufnr, { 'BufLeave', 'CompleteChanged' }, function()
    M.reset(bufnr)
  end)
  util.on_buffer_gone(group, bufnr, function()
    M.reset(bufnr)
    local st = buffers[bufnr]
    if st and st.timer then
      st.timer:close()
    end
    buffers[bufnr] = nil
  end)
  local keys = config.options.keymaps or {}
  map(bufnr, keys.inline_accept, function()
    return M.accept(bufnr, 'all')
  end, 'ifai: accept the ghost text')
  map(bufnr, keys.inline_accept_word, function()
    return M.accept(bufnr, 'word')
  end, 'ifai: accept the next word of the ghost text')
  map(bufnr, keys.inline_dismiss, function()
    return M.dismiss(bufnr)
  end, 'ifai: dismiss the ghost text')
end

--- Turns ghost text on or off until the next call (:IfaiGhostText); off also clears it everywhere.
---@param on boolean
function M.set_enabled(on)
  M.override = on
  if not on then
    for bufnr in pairs(buffers) do
      M.reset(bufnr)
    end
  end
end

return M
