--- ifai.nvim: small helpers that hide differences between Neovim 0.7 and later versions.
local M = {}

--- Calls a client function. Neovim 0.11 made client functions methods (`client:request(...)`) and
--- deprecated the old `client.request(...)` form; there is no feature to detect, only the version.
---@param client table
---@param name string request | notify | cancel_request | stop | is_stopped
function M.call(client, name, ...)
  if vim.fn.has('nvim-0.11') == 1 then
    return client[name](client, ...)
  end
  return client[name](...)
end

--- All running ifai clients (the name given in the client configuration is "ifai").
---@return table[]
function M.clients()
  local list = {}
  local get = vim.lsp.get_clients or vim.lsp.get_active_clients
  for _, client in pairs(get()) do
    if client.name == 'ifai' and not M.call(client, 'is_stopped') then
      table.insert(list, client)
    end
  end
  table.sort(list, function(a, b)
    return a.id < b.id
  end)
  return list
end

--- The ifai client for a buffer: the one attached to it, else the first one running.
---@param bufnr integer|nil
---@return table|nil
function M.client(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  local all = M.clients()
  for _, client in ipairs(all) do
    if vim.lsp.buf_is_attached(bufnr, client.id) then
      return client
    end
  end
  return all[1]
end

--- Reports a message through vim.notify (so notification plugins pick it up), prefixed "ifai: ".
---@param msg string
---@param level integer|nil vim.log.levels.*
function M.notify(msg, level)
  vim.notify('ifai: ' .. msg, level or vim.log.levels.INFO)
end

--- Sends `workspace/executeCommand` and calls `on_result(result)`; errors are reported, not raised.
---@param command string
---@param arguments table|nil
---@param on_result fun(result: any)|nil
---@param opts table|nil { bufnr = integer, quiet = boolean }
---@return boolean sent
function M.execute(command, arguments, on_result, opts)
  opts = opts or {}
  local client = M.client(opts.bufnr)
  if not client then
    M.notify('no ifai language server is running (open a file of a configured filetype first)', vim.log.levels.WARN)
    return false
  end
  local params = { command = command, arguments = arguments or {} }
  local ok = M.call(client, 'request', 'workspace/executeCommand', params, function(err, result)
    if err then
      M.notify(command .. ' failed: ' .. (err.message or vim.inspect(err)), vim.log.levels.ERROR)
      return
    end
    if on_result then
      on_result(result)
    end
  end, opts.bufnr or vim.api.nvim_get_current_buf())
  return ok ~= false
end

--- The length of a line in the units of a position encoding ("utf-8", "utf-16" or "utf-32").
---@param line string
---@param encoding string|nil default "utf-16", the LSP default
---@return integer
function M.line_length(line, encoding)
  if encoding == 'utf-8' then
    return #line
  end
  if vim.fn.has('nvim-0.11') == 1 then
    -- 0.11 takes the encoding as an argument and deprecates the old two-result form.
    return vim.str_utfindex(line, encoding == 'utf-32' and 'utf-32' or 'utf-16')
  end
  local utf32, utf16 = vim.str_utfindex(line)
  return encoding == 'utf-32' and utf32 or utf16
end

--- The byte offset in a line of a position's character index in a position encoding (clamped to
--- the line's length, as a position past the end means the end).
---@param line string
---@param index integer
---@param encoding string|nil default "utf-16"
---@return integer
function M.byte_index(line, index, encoding)
  if encoding == 'utf-8' then
    return math.min(index, #line)
  end
  local ok, byte
  if vim.fn.has('nvim-0.11') == 1 then
    ok, byte = pcall(vim.str_byteindex, line, encoding == 'utf-32' and 'utf-32' or 'utf-16', index, false)
  else
    ok, byte = pcall(vim.str_byteindex, line, index, encoding ~= 'utf-32')
  end
  return ok and math.min(byte, #line) or #line
end

--- Formats a byte count for people: 1.2 GB, 380 MB, 12 KB.
function M.bytes(n)
  n = tonumber(n) or 0
  if n >= 1e9 then
    return string.format('%.1f GB', n / 1e9)
  elseif n >= 1e6 then
    return string.format('%.0f MB', n / 1e6)
  elseif n >= 1e3 then
    return string.format('%.0f KB', n / 1e3)
  end
  return string.format('%d B', n)
end

--- A buffer-local mapping for `modes` that runs `fn` and, when it did nothing, the key's own work
--- (fed back with `feed_mode`, as nvim_feedkeys takes it).
function M.map_or_pass(bufnr, modes, lhs, fn, desc, feed_mode)
  if not lhs or lhs == '' then
    return
  end
  vim.keymap.set(modes, lhs, function()
    if not fn() then
      vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes(lhs, true, false, true), feed_mode, false)
    end
  end, { buffer = bufnr, desc = desc })
end

--- A buffer-local autocommand in `group` that calls `fn` with the event's arguments.
function M.autocmd(group, bufnr, events, fn)
  vim.api.nvim_create_autocmd(events, { group = group, buffer = bufnr, callback = fn })
end

--- Calls `cleanup` when the buffer is unloaded or wiped out, then removes the buffer's group.
function M.on_buffer_gone(group, bufnr, cleanup)
  M.autocmd(group, bufnr, { 'BufUnload', 'BufWipeout' }, function()
    cleanup()
    pcall(vim.api.nvim_del_augroup_by_id, group)
  end)
end

return M
