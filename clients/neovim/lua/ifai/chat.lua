--- ifai.nvim: :IfaiChat, a streaming chat in a split scratch buffer.
---
--- Each question is sent as an `ifai/chat` request with its own chatId; the server streams the
--- answer as `ifai/chatDelta` notifications, which land here through the plugin's handler and are
--- appended to the buffer as they arrive. The final response closes the answer with its sources
--- (path:lines), the route and the model. A buffer-local key cancels with `$/cancelRequest`; the
--- server then answers with the text so far and stopReason "aborted", shown as "[cancelled]".
local util = require('ifai.util')
local api = vim.api

local M = {}

--- The chat buffer (one per editor session) and its conversation.
M.buf = nil
--- Previous turns sent back to the server with each question: { role, content } messages.
M.history = {}
--- The answer streaming now, or the last one: see `new_turn`.
M.current = nil
local next_id = 0

local function options()
  return require('ifai.config').options
end

local function buf_valid()
  return M.buf ~= nil and api.nvim_buf_is_valid(M.buf)
end

local function set_lines(start, stop, lines)
  vim.bo[M.buf].modifiable = true
  api.nvim_buf_set_lines(M.buf, start, stop, false, lines)
  vim.bo[M.buf].modifiable = false
end

--- Keeps windows that show the end of the chat following it as text arrives.
local function follow(old_count)
  for _, win in ipairs(api.nvim_list_wins()) do
    if api.nvim_win_get_buf(win) == M.buf then
      local row = api.nvim_win_get_cursor(win)[1]
      if win ~= api.nvim_get_current_win() or row >= old_count then
        api.nvim_win_set_cursor(win, { api.nvim_buf_line_count(M.buf), 0 })
      end
    end
  end
end

--- Appends text (which may hold newlines) at the very end of the buffer, continuing its last line.
local function append(text)
  if not buf_valid() or text == '' then
    return
  end
  local count = api.nvim_buf_line_count(M.buf)
  local last = api.nvim_buf_get_lines(M.buf, count - 1, count, false)[1] or ''
  local parts = vim.split(text, '\n', { plain = true })
  parts[1] = last .. parts[1]
  set_lines(count - 1, count, parts)
  follow(count)
end

local function append_lines(lines)
  if not buf_valid() then
    return
  end
  local count = api.nvim_buf_line_count(M.buf)
  set_lines(count, count, lines)
  follow(count)
end

--- Creates the scratch buffer once, with its keys.
local function ensure_buffer()
  if buf_valid() then
    return M.buf
  end
  M.buf = api.nvim_create_buf(false, true)
  -- A chat buffer left by an earlier load of this module keeps the name; this one goes without.
  pcall(api.nvim_buf_set_name, M.buf, 'ifai://chat')
  local bo = vim.bo[M.buf]
  bo.buftype = 'nofile'
  bo.bufhidden = 'hide'
  bo.swapfile = false
  bo.filetype = 'markdown'
  bo.modifiable = false
  local keys = options().keymaps or {}
  local function map(lhs, fn, desc)
    if lhs and lhs ~= '' then
      vim.keymap.set('n', lhs, fn, { buffer = M.buf, nowait = true, silent = true, desc = desc })
    end
  end
  map(keys.chat_cancel, M.cancel, 'ifai: stop the answer')
  map(keys.chat_close, function()
    if not M.cancel() then
      pcall(api.nvim_win_close, 0, false)
    end
  end, 'ifai: stop the answer, or close the chat')
  return M.buf
end

--- Shows the chat buffer in a split (reusing a window that shows it) and moves to it.
local function show()
  ensure_buffer()
  for _, win in ipairs(api.nvim_list_wins()) do
    if api.nvim_win_get_buf(win) == M.buf then
      api.nvim_set_current_win(win)
      return win
    end
  end
  vim.cmd(options().chat_split or 'botright split')
  api.nvim_win_set_buf(0, M.buf)
  local win = api.nvim_get_current_win()
  vim.wo[win].wrap = true
  vim.wo[win].linebreak = true
  return win
end

local function sources_line(sources)
  local parts = {}
  for _, s in ipairs(sources or {}) do
    local range = s.range or {}
    local first = ((range.start or {}).line or 0) + 1
    local last = ((range['end'] or {}).line or first - 1) + 1
    local where = first == last and (s.path .. ':' .. first) or string.format('%s:%d-%d', s.path, first, last)
    if s.symbol then
      where = where .. ' (' .. s.symbol .. ')'
    end
    table.insert(parts, where)
  end
  if #parts == 0 then
    return nil
  end
  return 'Sources: ' .. table.concat(parts, ', ')
end

local function route_line(result)
  local parts = { (result.route or {}).servedBy or '?' }
  if result.model and result.model ~= '' then
    table.insert(parts, result.model)
  end
  local usage = result.usage or {}
  if (usage.completionTokens or 0) > 0 then
    table.insert(parts, usage.completionTokens .. ' tokens')
  end
  if usage.tokensPerSecond then
    table.insert(parts, string.format('%.1f tok/s', usage.tokensPerSecond))
  end
  if result.stopReason and result.stopReason ~= '' then
    table.insert(parts, result.stopReason)
  end
  return '— ' .. table.concat(parts, ' · ')
end

--- Ends the current turn: checks the streamed text against the final answer, writes the footer.
local function finish(turn, err, result)
  if turn.done then
    return
  end
  turn.done = true
  turn.result = result
  turn.error = err
  if turn.cancel_timer then
    pcall(function()
      turn.cancel_timer:stop()
      turn.cancel_timer:close()
    end)
  end
  if turn.superseded then
    -- Its "[cancelled]" and its part of the history were written when the next question came.
    return
  end
  if not buf_valid() then
    return
  end
  local footer = { '' }
  if err then
    table.insert(footer, turn.cancelled and '[cancelled]' or ('[error: ' .. (err.message or tostring(err)) .. ']'))
    table.insert(M.history, { role = 'assistant', content = turn.received })
  else
    -- A notification lost on the way would leave a hole: the response has the whole answer.
    if result.content and result.content ~= turn.received then
      local count = api.nvim_buf_line_count(M.buf)
      local first = api.nvim_buf_get_lines(M.buf, turn.answer_row, turn.answer_row + 1, false)[1] or ''
      local lines = vim.split(result.content, '\n', { plain = true })
      lines[1] = first:sub(1, turn.answer_col) .. lines[1]
      set_lines(turn.answer_row, count, lines)
      turn.received = result.content
    end
    if result.stopReason == 'aborted' then
      table.insert(footer, '[cancelled]')
    end
    local sources = sources_line(result.sources)
    if sources then
      table.insert(footer, sources)
    end
    for _, notice in ipairs(result.notices or {}) do
      table.insert(footer, 'Note: ' .. notice)
    end
    table.insert(footer, route_line(result))
    table.insert(M.history, { role = 'assistant', content = result.content or '' })
  end
  table.insert(footer, '')
  append_lines(footer)
  pcall(vim.cmd, 'redrawstatus')
end

--- Called by the `ifai/chatDelta` handler: appends pieces in `seq` order.
function M.on_delta(params, _client_id)
  local turn = M.current
  if not turn or turn.done or params.chatId ~= turn.chat_id then
    return
  end
  turn.pending[params.seq] = params.delta or ''
  while turn.pending[turn.next_seq] do
    local delta = turn.pending[turn.next_seq]
    turn.pending[turn.next_seq] = nil
    turn.next_seq = turn.next_seq + 1
    turn.deltas = turn.deltas + 1
    turn.received = turn.received .. delta
    append(delta)
  end
end

--- Stops the answer being streamed. Returns true when there was one to stop.
function M.cancel()
  local turn = M.current
  if not turn or turn.done or not turn.request_id then
    return false
  end
  if not turn.cancelled then
    turn.cancelled = true
    util.call(turn.client, 'cancel_request', turn.request_id)
    -- The server answers a cancel with the text so far; should it never answer, close the turn anyway.
    turn.cancel_timer = vim.defer_fn(function()
      finish(turn, { message = 'cancelled' }, nil)
    end, 5000)
  end
  return true
end

--- Asks a question. `opts`: new (boolean: start a new conversation), range (line1, line2 of the
--- current buffer, 1-based, to send as the selection), bufnr (the buffer the question is about).
---@param question string
---@param opts table|nil
---@return table|nil turn the state of this answer (chat_id, deltas, done, result, cancelled)
function M.ask(question, opts)
  opts = opts or {}
  local source_buf = opts.bufnr or api.nvim_get_current_buf()
  if source_buf == M.buf then
    source_buf = vim.fn.bufnr('#')
  end
  local client = util.client(source_buf > 0 and source_buf or nil)
  if not client then
    util.notify('no ifai language server is running (open a file of a configured filetype first)', vim.log.levels.WARN)
    return nil
  end
  if M.current and not M.current.done then
    M.cancel()
    M.current.superseded = true
    table.insert(M.history, { role = 'assistant', content = M.current.received })
    append_lines({ '', '[cancelled]', '' })
  end
  if opts.new then
    M.history = {}
  end

  next_id = next_id + 1
  local chat_id = string.format('nvim-%d-%d', vim.fn.getpid(), next_id)
  local params = { chatId = chat_id, messages = vim.deepcopy(M.history) }
  table.insert(params.messages, { role = 'user', content = question })
  local header = vim.split('You: ' .. question, '\n', { plain = true })
  if source_buf > 0 and vim.lsp.buf_is_attached(source_buf, client.id) then
    params.textDocument = { uri = vim.uri_from_bufnr(source_buf) }
    if opts.range then
      -- Whole lines: to the end of the last one, counted in the client's position encoding.
      local last = api.nvim_buf_get_lines(source_buf, opts.range[2] - 1, opts.range[2], false)[1] or ''
      params.selection = {
        start = { line = opts.range[1] - 1, character = 0 },
        ['end'] = { line = opts.range[2] - 1, character = util.line_length(last, client.offset_encoding) },
      }
      table.insert(header, string.format('(lines %d-%d of %s)', opts.range[1], opts.range[2], vim.fn.fnamemodify(api.nvim_buf_get_name(source_buf), ':~:.')))
    end
  end

  show()
  if opts.new then
    set_lines(0, -1, {})
  end
  local count = api.nvim_buf_line_count(M.buf)
  local empty = count == 1 and api.nvim_buf_get_lines(M.buf, 0, 1, false)[1] == ''
  local block = vim.list_extend(header, { '', 'ifai: ' })
  set_lines(empty and 0 or count, empty and 1 or count, block)
  count = api.nvim_buf_line_count(M.buf)
  api.nvim_win_set_cursor(0, { count, 0 })

  local turn = {
    chat_id = chat_id,
    client = client,
    question = question,
    answer_row = count - 1,
    answer_col = #'ifai: ',
    received = '',
    pending = {},
    next_seq = 0,
    deltas = 0,
    done = false,
    cancelled = false,
  }
  M.current = turn
  table.insert(M.history, { role = 'user', content = question })
  local ok, request_id = util.call(client, 'request', 'ifai/chat', params, function(err, result)
    finish(turn, err, result)
  end, source_buf > 0 and source_buf or nil)
  if not ok then
    finish(turn, { message = 'the server is not running' }, nil)
    return turn
  end
  turn.request_id = request_id
  return turn
end

--- :IfaiChat[!] [question] (with a range: about those lines). Asks for the question when none is given.
function M.command(cmd)
  local range = nil
  if cmd.range and cmd.range > 0 then
    range = { cmd.line1, cmd.line2 }
  end
  local function go(question)
    if question and vim.trim(question) ~= '' then
      M.ask(question, { new = cmd.bang, range = range })
    end
  end
  if cmd.args and vim.trim(cmd.args) ~= '' then
    go(cmd.args)
  else
    vim.ui.input({ prompt = 'Ask ifai (@codebase to search the project): ' }, go)
  end
end

return M
