--- ifai.nvim: next-edit suggestions (`textDocument/copilotInlineEdit`), on every Neovim from 0.7.
---
--- After a pause in editing (`next_edit_debounce_ms`), or when asked (`:IfaiNextEdit`), the
--- plugin asks the server where the next change goes. The answer is drawn as a diff with extmarks
--- in the namespace `ifai_next_edit`: the text an edit removes is highlighted in the buffer
--- (IfaiNextEditDelete), and the lines as they would read afterwards are virtual lines under the
--- change (IfaiNextEditInsert), so the suggestion shows wherever it is, on every version (0.7-0.9
--- have no inline virtual text). One key jumps to it, one accepts it (all of its edits, applied
--- only while the buffer is exactly as it was asked about, then the edit's command runs), one
--- dismisses it.
---
--- Only the latest request counts, as with the ghost text: a new one cancels the one in flight
--- (`$/cancelRequest`), an answer for an older request, buffer state or document version is
--- dropped, and any change to the buffer clears what is shown.
local config = require('ifai.config')
local util = require('ifai.util')

local api = vim.api
local M = {}

M.ns = api.nvim_create_namespace('ifai_next_edit')
--- Counters, for inspection and the tests.
M.stats = { requests = 0, responses = 0, stale = 0, shown = 0, accepted = 0, dismissed = 0, refused = 0 }

--- Per buffer: { timer, pending = { id, client_id, tick, version }, shown = { edits, tick, version, client_id } }.
local buffers = {}

local TRIGGER_INVOKED, TRIGGER_AUTOMATIC = 1, 2

local function state(bufnr)
  local s = buffers[bufnr]
  if not s then
    s = {}
    buffers[bufnr] = s
  end
  return s
end

local function current(bufnr)
  return (bufnr == nil or bufnr == 0) and api.nvim_get_current_buf() or bufnr
end

--- The document version the client last sent for a buffer (0.7-0.10 keep it in
--- `vim.lsp.util.buf_versions`; later versions use the changedtick).
local function doc_version(bufnr)
  local versions = vim.lsp.util.buf_versions
  local v = versions and versions[bufnr]
  if v == nil then
    v = vim.b[bufnr].changedtick
  end
  return v
end

--- Whether a suggestion is shown in the buffer now.
function M.visible(bufnr)
  local s = buffers[current(bufnr)]
  return s ~= nil and s.shown ~= nil
end

--- Whether a request is in flight for the buffer.
function M.busy(bufnr)
  local s = buffers[current(bufnr)]
  return s ~= nil and s.pending ~= nil
end

--- The edits shown now (as the server sent them), or nil.
function M.edits(bufnr)
  local s = buffers[current(bufnr)]
  return s and s.shown and s.shown.edits
end

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
end

--- Removes the suggestion from the buffer (no feedback: typing replaced it).
function M.clear(bufnr)
  bufnr = current(bufnr)
  if api.nvim_buf_is_valid(bufnr) then
    api.nvim_buf_clear_namespace(bufnr, M.ns, 0, -1)
  end
  if buffers[bufnr] then
    buffers[bufnr].shown = nil
  end
end

--- Stops everything for a buffer: the timer, the request in flight and what is shown.
function M.reset(bufnr)
  local s = buffers[bufnr]
  if s and s.timer then
    s.timer:stop()
  end
  cancel(bufnr)
  M.clear(bufnr)
end

local function notify_server(client_id, method, params)
  local client = vim.lsp.get_client_by_id(client_id)
  if client then
    pcall(util.call, client, 'notify', method, params)
  end
end

--- An edit's range as 0-based rows and byte columns of the buffer.
local function byte_range(bufnr, range, encoding)
  local function at(pos)
    local line = api.nvim_buf_get_lines(bufnr, pos.line, pos.line + 1, false)[1]
    if line == nil then
      -- Past the end: the end of the buffer.
      local last = api.nvim_buf_line_count(bufnr) - 1
      return last, #(api.nvim_buf_get_lines(bufnr, last, last + 1, false)[1] or '')
    end
    return pos.line, util.byte_index(line, pos.character, encoding)
  end
  local sr, sc = at(range.start)
  local er, ec = at(range['end'])
  return sr, sc, er, ec
end

local function expand_tabs(bufnr, text)
  return (text:gsub('\t', string.rep(' ', vim.bo[bufnr].tabstop)))
end

--- Draws the edits as a diff: removed text highlighted, then the changed lines as they would read.
--- Edits on the same or touching lines form one group with one block of virtual lines.
local function render(bufnr, edits, encoding)
  api.nvim_buf_clear_namespace(bufnr, M.ns, 0, -1)
  local spans = {}
  for _, edit in ipairs(edits) do
    local sr, sc, er, ec = byte_range(bufnr, edit.range, encoding)
    table.insert(spans, { sr = sr, sc = sc, er = er, ec = ec, text = (edit.text or ''):gsub('\r\n', '\n') })
  end
  table.sort(spans, function(a, b)
    return a.sr < b.sr or (a.sr == b.sr and a.sc < b.sc)
  end)
  local groups = {}
  for _, span in ipairs(spans) do
    local last = groups[#groups]
    if last and span.sr <= last.er + 1 then
      table.insert(last.spans, span)
      last.er = math.max(last.er, span.er)
    else
      table.insert(groups, { sr = span.sr, er = span.er, spans = { span } })
    end
  end
  for _, group in ipairs(groups) do
    local lines = api.nvim_buf_get_lines(bufnr, group.sr, group.er + 1, false)
    -- The group's lines after its edits, built from the end so earlier columns stay valid.
    local text = table.concat(lines, '\n')
    local function offset(row, col)
      local o = col
      for r = group.sr, row - 1 do
        o = o + #lines[r - group.sr + 1] + 1
      end
      return o
    end
    for i = #group.spans, 1, -1 do
      local span = group.spans[i]
      text = text:sub(1, offset(span.sr, span.sc)) .. span.text .. text:sub(offset(span.er, span.ec) + 1)
    end
    for _, span in ipairs(group.spans) do
      if span.sr ~= span.er or span.sc ~= span.ec then
        api.nvim_buf_set_extmark(bufnr, M.ns, span.sr, span.sc, { end_row = span.er, end_col = span.ec, hl_group = 'IfaiNextEditDelete' })
      end
    end
    local virt_lines = {}
    for _, l in ipairs(vim.split(text, '\n', { plain = true })) do
      table.insert(virt_lines, { { expand_tabs(bufnr, l), 'IfaiNextEditInsert' } })
    end
    api.nvim_buf_set_extmark(bufnr, M.ns, group.er, 0, {
      virt_lines = virt_lines,
      virt_text = group.sr == groups[1].sr and { { ' next edit', 'IfaiNextEditHint' } } or nil,
      virt_text_pos = 'eol',
    })
  end
end

local function on_response(bufnr, id, err, result)
  local s = buffers[bufnr]
  if not s or not s.pending or s.pending.id ~= id then
    M.stats.stale = M.stats.stale + 1
    return
  end
  local pending = s.pending
  s.pending = nil
  M.stats.responses = M.stats.responses + 1
  if err or not api.nvim_buf_is_valid(bufnr) then
    M.last_error = err
    return
  end
  local edits = type(result) == 'table' and result.edits or {}
  if api.nvim_buf_get_changedtick(bufnr) ~= pending.tick then
    M.stats.stale = M.stats.stale + 1
    return
  end
  if #edits == 0 then
    return
  end
  for _, edit in ipairs(edits) do
    -- Edits for another document or version are never shown.
    if type(edit.range) ~= 'table' or type(edit.textDocument) ~= 'table' or edit.textDocument.version ~= pending.version
      or edit.textDocument.uri ~= vim.uri_from_bufnr(bufnr) then
      M.stats.stale = M.stats.stale + 1
      return
    end
  end
  local client = vim.lsp.get_client_by_id(pending.client_id)
  render(bufnr, edits, client and client.offset_encoding or 'utf-16')
  s.shown = { edits = edits, tick = pending.tick, version = pending.version, client_id = pending.client_id }
  M.stats.shown = M.stats.shown + 1
  notify_server(pending.client_id, 'textDocument/didShowCompletion', { item = edits[1] })
  pcall(api.nvim_exec_autocmds, 'User', { pattern = 'IfaiNextEditShown', modeline = false })
end

--- Asks the server for a next edit at the cursor now.
---@param bufnr integer|nil
---@param invoked boolean|nil the user asked (answered even where next edits are quiet)
---@return integer|nil request id
function M.request(bufnr, invoked)
  bufnr = current(bufnr)
  if api.nvim_get_current_buf() ~= bufnr then
    return nil
  end
  local client = util.client(bufnr)
  if not client or not vim.lsp.buf_is_attached(bufnr, client.id) then
    return nil
  end
  cancel(bufnr)
  M.clear(bufnr)
  local row, col = unpack(api.nvim_win_get_cursor(0))
  local line = api.nvim_get_current_line()
  local version = doc_version(bufnr)
  local params = {
    textDocument = { uri = vim.uri_from_bufnr(bufnr), version = version },
    position = { line = row - 1, character = util.line_length(line:sub(1, col), client.offset_encoding) },
    context = { triggerKind = invoked and TRIGGER_INVOKED or TRIGGER_AUTOMATIC },
  }
  local id
  local ok, sent, request_id = pcall(util.call, client, 'request', 'textDocument/copilotInlineEdit', params, function(err, result)
    on_response(bufnr, id, err, result)
  end, bufnr)
  if not ok or not sent then
    return nil
  end
  id = request_id
  state(bufnr).pending = { id = id, client_id = client.id, tick = api.nvim_buf_get_changedtick(bufnr), version = version }
  M.stats.requests = M.stats.requests + 1
  pcall(api.nvim_exec_autocmds, 'User', { pattern = 'IfaiNextEditRequest', modeline = false })
  return id
end

--- The buffer changed: what is shown no longer fits, the request in flight is moot; ask again
--- after the pause.
function M.on_change(bufnr)
  local s = state(bufnr)
  cancel(bufnr)
  M.clear(bufnr)
  if config.options.next_edit == false then
    return
  end
  s.timer = s.timer or (vim.uv or vim.loop).new_timer()
  s.timer:stop()
  s.timer:start(math.max(0, tonumber(config.options.next_edit_debounce_ms) or 0), 0, vim.schedule_wrap(function()
    if api.nvim_buf_is_valid(bufnr) and api.nvim_get_current_buf() == bufnr then
      M.request(bufnr, false)
    end
  end))
end

--- Moves the cursor to the start of the suggestion; false when none is shown.
function M.jump(bufnr)
  bufnr = current(bufnr)
  local s = buffers[bufnr]
  if not s or not s.shown then
    return false
  end
  local client = vim.lsp.get_client_by_id(s.shown.client_id)
  local sr, sc = byte_range(bufnr, s.shown.edits[1].range, client and client.offset_encoding or 'utf-16')
  api.nvim_win_set_cursor(0, { sr + 1, sc })
  return true
end

--- Applies the suggestion (all its edits) and runs its command; false when none is shown or the
--- buffer changed since it was asked for (then it is cleared, never applied).
function M.accept(bufnr)
  bufnr = current(bufnr)
  local s = buffers[bufnr]
  local shown = s and s.shown
  if not shown then
    return false
  end
  if api.nvim_buf_get_changedtick(bufnr) ~= shown.tick or doc_version(bufnr) ~= shown.version then
    M.stats.refused = M.stats.refused + 1
    M.reset(bufnr)
    return false
  end
  local client = vim.lsp.get_client_by_id(shown.client_id)
  local encoding = client and client.offset_encoding or 'utf-16'
  local text_edits = {}
  for _, edit in ipairs(shown.edits) do
    table.insert(text_edits, { range = edit.range, newText = edit.text or '' })
  end
  -- Where the cursor goes: the end of the last edit's new text.
  local last = shown.edits[#shown.edits]
  local sr, sc = byte_range(bufnr, last.range, encoding)
  M.reset(bufnr)
  vim.lsp.util.apply_text_edits(text_edits, bufnr, encoding)
  local inserted = vim.split(((last.text or ''):gsub('\r\n', '\n')), '\n', { plain = true })
  local row = sr + #inserted - 1
  local col = #inserted == 1 and sc + #inserted[1] or #inserted[#inserted]
  pcall(api.nvim_win_set_cursor, 0, { row + 1, col })
  M.stats.accepted = M.stats.accepted + 1
  if client and type(last.command) == 'table' then
    pcall(util.call, client, 'request', 'workspace/executeCommand', { command = last.command.command, arguments = last.command.arguments }, function() end, bufnr)
  end
  return true
end

--- Hides the suggestion and tells the server it was dismissed; false when none is shown.
function M.dismiss(bufnr)
  bufnr = current(bufnr)
  local s = buffers[bufnr]
  local shown = s and s.shown
  if not shown then
    return false
  end
  M.reset(bufnr)
  M.stats.dismissed = M.stats.dismissed + 1
  notify_server(shown.client_id, 'ifai/didDismissSuggestion', { item = shown.edits[1] })
  return true
end

--- A buffer-local mapping in normal and insert mode that runs `fn` and, when it did nothing, the
--- key's own work.
local function map(bufnr, lhs, fn, desc)
  util.map_or_pass(bufnr, { 'n', 'i' }, lhs, fn, desc, 'n')
end

--- Sets next edits up for a buffer the server attached to.
function M.attach(client, bufnr)
  local s = state(bufnr)
  if s.attached then
    return
  end
  s.attached = true
  vim.cmd('highlight default link IfaiNextEditDelete DiffDelete')
  vim.cmd('highlight default link IfaiNextEditInsert DiffAdd')
  vim.cmd('highlight default link IfaiNextEditHint Comment')
  local group = api.nvim_create_augroup('ifai_next_edit_' .. bufnr, { clear = true })
  util.autocmd(group, bufnr, { 'TextChanged', 'TextChangedI' }, function()
    M.on_change(bufnr)
  end)
  util.autocmd(group, bufnr, 'BufLeave', function()
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
  map(bufnr, keys.next_edit_jump, function()
    return M.jump(bufnr)
  end, 'ifai: jump to the next-edit suggestion')
  map(bufnr, keys.next_edit_accept, function()
    return M.accept(bufnr)
  end, 'ifai: accept the next-edit suggestion')
  map(bufnr, keys.next_edit_dismiss, function()
    return M.dismiss(bufnr)
  end, 'ifai: dismiss the next-edit suggestion')
end

--- :IfaiNextEdit [request|jump|accept|dismiss] (default request).
function M.command(arg)
  arg = vim.trim(arg or '')
  if arg == '' or arg == 'request' then
    if not M.request(0, true) then
      util.notify('no next edit to ask for here (is the server attached to this buffer?)', vim.log.levels.WARN)
    end
  elseif arg == 'jump' or arg == 'accept' or arg == 'dismiss' then
    if not M[arg](0) then
      util.notify('no next-edit suggestion is shown', vim.log.levels.WARN)
    end
  else
    util.notify('usage: :IfaiNextEdit [request|jump|accept|dismiss]', vim.log.levels.ERROR)
  end
end

return M
