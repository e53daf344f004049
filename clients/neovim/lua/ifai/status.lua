--- ifai.nvim: the server's state for status lines.
---
--- Keeps the last `ifai/status` notification and the last work-done progress of the ifai server,
--- taken from Neovim's own `$/progress` handling (0.7-0.9: `vim.lsp.util.get_progress_messages()`
--- on `User LspProgressUpdate`; 0.10+: the `LspProgress` event), and turns them into one short
--- string: "ifai: local · ready · 35 tok/s · indexing 40%".
local M = {}

--- The last `ifai/status` params, and per client.
M.last = nil
M.by_client = {}
--- The last progress of the ifai server: { title, message, percentage, done }.
M.progress = nil
--- Every progress title seen, in order (for :IfaiStatus and tests): { title, kind } entries.
M.progress_log = {}
--- How the last server process ended: { code, signal, client_id }.
M.exit = nil

local function redraw()
  -- Status lines refresh on the next redraw; ask for one, and tell user code something changed.
  pcall(vim.cmd, 'redrawstatus')
  pcall(vim.api.nvim_exec_autocmds, 'User', { pattern = 'IfaiStatus', modeline = false })
end

--- Called by the `ifai/status` handler.
function M.on_status(params, client_id)
  M.last = params
  if client_id then
    M.by_client[client_id] = params
  end
  redraw()
end

function M.on_exit(code, signal, client_id)
  M.exit = { code = code, signal = signal, client_id = client_id }
  M.by_client[client_id] = nil
  M.progress = nil
  redraw()
end

local function is_ifai(client_id)
  local client = client_id and vim.lsp.get_client_by_id(client_id)
  return client ~= nil and client.name == 'ifai'
end

local function record(title, message, percentage, done)
  M.progress = { title = title, message = message, percentage = percentage, done = done }
  table.insert(M.progress_log, { title = title, kind = done and 'end' or 'report' })
  if #M.progress_log > 100 then
    table.remove(M.progress_log, 1)
  end
  redraw()
end

--- 0.10+: one `LspProgress` event per `$/progress` notification.
local function on_lsp_progress(ev)
  local data = ev.data or {}
  if not is_ifai(data.client_id) then
    return
  end
  local value = (data.params or {}).value or {}
  if type(value) ~= 'table' or value.kind == nil then
    return
  end
  -- Titles only come with "begin"; keep the one seen for this token.
  local token = tostring((data.params or {}).token)
  M._titles = M._titles or {}
  if value.kind == 'begin' then
    M._titles[token] = value.title
  end
  local title = M._titles[token] or value.title or 'ifai'
  if value.kind == 'end' then
    M._titles[token] = nil
  end
  record(title, value.message, value.percentage, value.kind == 'end')
end

--- 0.7-0.9: Neovim stores progress per client; read the ifai ones when it says something changed.
local function on_progress_update()
  local ok, messages = pcall(vim.lsp.util.get_progress_messages)
  if not ok or type(messages) ~= 'table' then
    return
  end
  for _, msg in ipairs(messages) do
    if msg.name == 'ifai' and msg.title then
      record(msg.title, msg.message, msg.percentage, msg.done == true)
    end
  end
end

--- Registers the progress listener Neovim offers (once).
function M.watch_progress()
  if M._watching then
    return
  end
  M._watching = true
  local group = vim.api.nvim_create_augroup('ifai_progress', { clear = true })
  if vim.lsp.status then
    vim.api.nvim_create_autocmd('LspProgress', { group = group, callback = on_lsp_progress })
  elseif vim.lsp.util.get_progress_messages then
    vim.api.nvim_create_autocmd('User', { group = group, pattern = 'LspProgressUpdate', callback = on_progress_update })
  end
end

local function tokens_per_second(s)
  local tps = (s.model and s.model.lastTokensPerSecond) or (s.chat and s.chat.lastTokensPerSecond)
  if tps and tps > 0 then
    return string.format('%d tok/s', math.floor(tps + 0.5))
  end
end

--- The status line component. Empty when no ifai server has reported anything.
---@param opts table|nil { bufnr = integer }: prefer the status of the client attached to this buffer
---@return string
function M.statusline(opts)
  opts = opts or {}
  local s = M.last
  if opts.bufnr then
    local client = require('ifai.util').client(opts.bufnr)
    s = (client and M.by_client[client.id]) or s
  end
  if not s then
    return ''
  end
  local parts = {}
  if s.backend then
    table.insert(parts, s.backend.localOnly and (s.backend.preference .. ' (local-only)') or s.backend.preference)
  end
  local model = s.model or {}
  table.insert(parts, model.state or '?')
  local tps = tokens_per_second(s)
  if tps then
    table.insert(parts, tps)
  end
  local ghost = package.loaded['ifai.ghost']
  if ghost and ghost.busy(opts.bufnr) then
    -- A ghost text request is in flight.
    table.insert(parts, '…')
  end
  if s.chat and s.chat.busy then
    table.insert(parts, 'chat…')
  end
  local p = M.progress
  if p and not p.done then
    local label = (p.title or ''):gsub('^ifai:%s*', '')
    table.insert(parts, p.percentage and string.format('%s %d%%', label, p.percentage) or label)
  elseif s.index and s.index.state ~= 'ready' and s.index.state ~= 'disabled' then
    table.insert(parts, 'index ' .. s.index.state)
  end
  return 'ifai: ' .. table.concat(parts, ' · ')
end

--- A longer, multi-line description of the last status, for :IfaiStatus.
---@return string[]
function M.describe(s)
  s = s or M.last
  if not s then
    return { 'no status received yet' }
  end
  local lines = {}
  local model = s.model or {}
  local m = 'model: ' .. (model.state or '?') .. ' — ' .. (model.path or '?')
  local extra = {}
  if model.gpu then
    table.insert(extra, model.gpu)
  end
  if model.threads then
    table.insert(extra, model.threads == 1 and '1 thread' or (model.threads .. ' threads'))
  end
  local tps = tokens_per_second({ model = model })
  if tps then
    table.insert(extra, tps)
  end
  if #extra > 0 then
    m = m .. ' (' .. table.concat(extra, ', ') .. ')'
  end
  if model.message then
    m = m .. ': ' .. model.message
  end
  table.insert(lines, m)
  if s.backend then
    table.insert(lines, string.format('backend: %s (from %s)%s', s.backend.preference, s.backend.source, s.backend.localOnly and ', local-only' or ''))
  end
  if s.completion then
    table.insert(lines, string.format('completion: %s, %s', s.completion.enabled and 'on' or 'off', s.completion.inline and 'inline' or 'items'))
  end
  if s.index then
    table.insert(lines, string.format('index: %s, %s search, %d chunks', s.index.state, s.index.mode, s.index.chunks or 0))
  end
  if s.chat then
    local c = 'chat: ' .. (s.chat.busy and 'answering' or 'idle')
    if s.chat.lastServedBy then
      c = c .. ', last answer from ' .. s.chat.lastServedBy
    end
    if s.chat.lastTokensPerSecond then
      c = c .. string.format(' at %d tok/s', math.floor(s.chat.lastTokensPerSecond + 0.5))
    end
    table.insert(lines, c)
  end
  if s.feedback then
    -- Counted on this machine only (`ifai-lsp stats`): accepted of shown, per kind.
    local function share(c)
      c = c or {}
      return string.format('%d of %d accepted', (c.accepted or 0) + (c.partial or 0), c.shown or 0)
    end
    local f = string.format('suggestions: ghost text %s, next edits %s', share(s.feedback.completion), share(s.feedback.nextEdit))
    for _, q in ipairs(s.feedback.quiet or {}) do
      f = f .. string.format('; %s quiet in %s until %s', q.kind == 'nextEdit' and 'next edits' or 'ghost text', q.languageId, q['until'])
    end
    table.insert(lines, f)
  end
  return lines
end

return M
