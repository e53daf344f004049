-- Test driver for test/editors/neovim.test.ts: runs inside a real headless Neovim and uses the
-- ifai.nvim plugin the way a user does (setup, open files, completion, a code action picked by
-- its title, :IfaiChat with @codebase, cancelling with the chat buffer's key, the other commands,
-- the status line), then stops the server and quits. Every step waits on a condition with a
-- deadline; any failure writes the reason to the result file and exits non-zero (cquit).
local spec = vim.fn.json_decode(table.concat(vim.fn.readfile(os.getenv('IFAI_NVIM_SPEC')), '\n'))
local result = { steps = {}, messages = {} }
local api = vim.api

local function write_result()
  -- vim.json keeps NUL bytes of the tiny model's answers as \u0000; json_encode would turn such
  -- strings into byte lists.
  local encode = vim.json and vim.json.encode or vim.fn.json_encode
  vim.fn.writefile({ encode(result) }, spec.result)
end

local function fail(msg)
  error({ ifai_failure = msg }, 0)
end

--- Waits until `cond()` is truthy (Neovim runs its event loop meanwhile), or fails naming `what`.
local function wait_for(what, ms, cond)
  local value
  local ok = vim.wait(ms, function()
    value = cond()
    return value and true or false
  end, 10)
  if not ok then
    fail('timed out after ' .. ms .. ' ms waiting for ' .. what)
  end
  return value
end

local function step(name, fn)
  local started = vim.loop.hrtime()
  local out = fn() or {}
  out.ms = math.floor((vim.loop.hrtime() - started) / 1e6)
  result.steps[name] = out
end

local function buffer_text(buf)
  return table.concat(api.nvim_buf_get_lines(buf, 0, -1, false), '\n')
end

local function message_since(index, pattern)
  for i = index + 1, #result.messages do
    if result.messages[i].msg:find(pattern) then
      return result.messages[i].msg
    end
  end
end

local function main()
  -- What a user's config has: filetype detection, the plugin on the runtimepath (the test puts it
  -- there with --cmd), loaded as a plugin manager loads it.
  vim.cmd('filetype on')
  vim.cmd('runtime! plugin/ifai.lua')
  local original_notify = vim.notify
  vim.notify = function(msg, level, opts)
    table.insert(result.messages, { msg = tostring(msg), level = level or vim.log.levels.INFO })
    return original_notify(msg, level, opts)
  end

  local ifai = require('ifai')
  ifai.setup({
    cmd = { spec.node, spec.bin, '--stdio' },
    settings = spec.settings,
    on_exit = function(code, signal)
      result.server_exit = { code = code, signal = signal }
    end,
  })

  local client
  step('attach', function()
    vim.cmd('edit ' .. vim.fn.fnameescape(spec.files.scale))
    local buf = api.nvim_get_current_buf()
    client = wait_for('the ifai client to attach', 20000, function()
      local c = ifai.client(buf)
      return c and c.initialized and vim.lsp.buf_is_attached(buf, c.id) and c
    end)
    -- Recorded at once so the test can kill the server if a later step fails.
    result.server_pid = client.rpc and client.rpc.pid
    vim.fn.writefile({ tostring(result.server_pid) }, spec.pidfile)
    -- A second file of the same project shares the client.
    vim.cmd('edit ' .. vim.fn.fnameescape(spec.files.math))
    local math_buf = api.nvim_get_current_buf()
    wait_for('math.ts to attach', 5000, function()
      return vim.lsp.buf_is_attached(math_buf, client.id)
    end)
    local status = wait_for('ifai/status with the index ready', 30000, function()
      local s = require('ifai.status').last
      return s and s.index and s.index.state == 'ready' and (s.index.chunks or 0) > 0 and s
    end)
    return {
      filetype = api.nvim_buf_get_option(buf, 'filetype'),
      clients = #require('ifai.util').clients(),
      pid = result.server_pid,
      omnifunc = api.nvim_buf_get_option(math_buf, 'omnifunc'),
      index = status.index,
      model_state = status.model and status.model.state,
    }
  end)

  step('completion', function()
    vim.cmd('buffer ' .. vim.fn.fnameescape(spec.files.scale))
    local buf = api.nvim_get_current_buf()
    local row = spec.completion.line
    local line = api.nvim_buf_get_lines(buf, row, row + 1, false)[1]
    -- The user types at the end of the line in insert mode; headless Neovim stays in normal mode,
    -- where the cursor cannot go past the last character, so the position is set explicitly.
    api.nvim_win_set_cursor(0, { row + 1, #line - 1 })
    local params = vim.lsp.util.make_position_params()
    params.position.character = #line
    local responses = vim.lsp.buf_request_sync(buf, 'textDocument/completion', params, 20000)
    if not responses or not responses[client.id] then
      fail('no completion response')
    end
    local response = responses[client.id]
    if response.err then
      fail('completion failed: ' .. vim.inspect(response.err))
    end
    local metrics = vim.lsp.buf_request_sync(buf, 'ifai/completionMetrics', { last = 1 }, 5000)
    local record = metrics[client.id].result.records[1]
    return {
      position = params.position,
      isIncomplete = response.result.isIncomplete,
      items = response.result.items,
      metrics = { source = record.source, generatedTokens = record.generatedTokens, promptTokens = record.promptTokens },
    }
  end)

  step('code_action', function()
    vim.cmd('buffer ' .. vim.fn.fnameescape(spec.files.math))
    local buf = api.nvim_get_current_buf()
    local before = buffer_text(buf)
    local tick = api.nvim_buf_get_changedtick(buf)
    api.nvim_win_set_cursor(0, { spec.action.line + 1, spec.action.character })
    local titles
    -- The user picks the action by its title from the menu Neovim shows.
    vim.ui.select = function(items, opts, on_choice)
      titles = {}
      local chosen
      for _, item in ipairs(items) do
        local title = opts.format_item and opts.format_item(item) or tostring(item)
        table.insert(titles, title)
        if title == spec.action.title then
          chosen = item
        end
      end
      on_choice(chosen)
    end
    vim.lsp.buf.code_action()
    wait_for('the code action menu', 10000, function()
      return titles
    end)
    if not vim.tbl_contains(titles, spec.action.title) then
      fail('no action titled "' .. spec.action.title .. '" in the menu: ' .. table.concat(titles, ', '))
    end
    wait_for('the edit of "' .. spec.action.title .. '" in the buffer', 20000, function()
      return api.nvim_buf_get_changedtick(buf) ~= tick
    end)
    return { titles = titles, before = before, after = buffer_text(buf) }
  end)

  local chat_buf
  step('chat', function()
    vim.cmd('IfaiChat ' .. spec.chat.question)
    local chat = require('ifai.chat')
    chat_buf = chat.buf
    local turn = chat.current
    local changes = 0
    api.nvim_buf_attach(chat_buf, false, {
      on_lines = function()
        changes = changes + 1
      end,
    })
    local streaming_snapshot
    wait_for('the chat answer', 30000, function()
      if not streaming_snapshot and turn.deltas > 0 and not turn.done then
        streaming_snapshot = buffer_text(chat_buf)
      end
      return turn.done
    end)
    return {
      windows = #api.nvim_tabpage_list_wins(0),
      current_is_chat = api.nvim_get_current_buf() == chat_buf,
      deltas = turn.deltas,
      buffer_changes = changes,
      streaming_snapshot = streaming_snapshot,
      text = buffer_text(chat_buf),
      result = turn.result,
      error = turn.error,
    }
  end)

  step('chat_cancel', function()
    vim.cmd('IfaiChat! ' .. spec.cancel.question)
    local chat = require('ifai.chat')
    local turn = chat.current
    wait_for('the first streamed words of the second answer', 30000, function()
      return turn.deltas > 0 or turn.done
    end)
    local done_before_key = turn.done
    if api.nvim_get_current_buf() ~= chat.buf then
      fail('the chat window is not the current one')
    end
    api.nvim_feedkeys(api.nvim_replace_termcodes(spec.cancel.key, true, false, true), 'x', false)
    wait_for('the cancelled answer', 15000, function()
      return turn.done
    end)
    return {
      done_before_key = done_before_key,
      cancelled = turn.cancelled,
      deltas = turn.deltas,
      text = buffer_text(chat.buf),
      result = turn.result,
      error = turn.error,
    }
  end)

  -- Back to the source window, as a user would before asking about its lines.
  vim.cmd('wincmd p')

  local function backend(name)
    local n = #result.messages
    vim.cmd('IfaiBackend ' .. name)
    local msg = wait_for(':IfaiBackend ' .. name .. ' answer', 10000, function()
      return message_since(n, 'backend')
    end)
    local status = wait_for('ifai/status with the preference ' .. name, 10000, function()
      local s = require('ifai.status').last
      return s and s.backend and s.backend.source == 'command' and s.backend.preference == name and s
    end)
    return msg, status.backend
  end

  step('chat_range', function()
    local source_buf = api.nvim_get_current_buf()
    local cloud_msg = backend('cloud')
    vim.cmd(spec.range.lines .. 'IfaiChat! ' .. spec.range.question)
    local chat = require('ifai.chat')
    local turn = chat.current
    wait_for('the answer about the selected lines', 30000, function()
      return turn.done
    end)
    return {
      source = api.nvim_buf_get_name(source_buf),
      backend_message = cloud_msg,
      text = buffer_text(chat.buf),
      result = turn.result,
      error = turn.error,
    }
  end)

  step('backend', function()
    local msg, state = backend('local')
    return { message = msg, backend = state, completions = vim.fn.getcompletion('IfaiBackend ', 'cmdline') }
  end)

  step('status', function()
    local n = #result.messages
    vim.cmd('IfaiStatus')
    return { message = wait_for(':IfaiStatus answer', 10000, function()
      return message_since(n, 'status')
    end) }
  end)

  step('models', function()
    local n = #result.messages
    vim.cmd('IfaiModels')
    return { message = wait_for(':IfaiModels answer', 10000, function()
      return message_since(n, 'models in')
    end) }
  end)

  step('reindex', function()
    local status = require('ifai.status')
    local seen = #status.progress_log
    local n = #result.messages
    vim.cmd('IfaiReindex')
    local msg = wait_for(':IfaiReindex answer', 10000, function()
      return message_since(n, 'reindexing')
    end)
    -- The new pass reports work-done progress, which Neovim hands to the plugin.
    wait_for('indexing progress to end', 20000, function()
      for i = seen + 1, #status.progress_log do
        if status.progress_log[i].kind == 'end' then
          return true
        end
      end
    end)
    local titles = {}
    for _, p in ipairs(status.progress_log) do
      titles[#titles + 1] = p.title .. ':' .. p.kind
    end
    return { message = msg, progress = titles }
  end)

  step('statusline', function()
    return { text = ifai.statusline() }
  end)

  step('shutdown', function()
    local pid = result.server_pid
    vim.lsp.stop_client(client.id)
    wait_for('the client to stop', 15000, function()
      return result.server_exit ~= nil
    end)
    local alive = vim.loop.kill(pid, 0) == 0
    return { alive_after_stop = alive, exit = result.server_exit }
  end)

  -- Errors Neovim reported (E-messages, failed handlers) fail the run.
  result.errmsg = vim.v.errmsg
end

vim.v.errmsg = ''
local ok, err = xpcall(main, function(e)
  if type(e) == 'table' and e.ifai_failure then
    return e.ifai_failure
  end
  return debug.traceback(tostring(e), 2)
end)
if not ok then
  result.error = err
  io.stderr:write('driver failed: ' .. tostring(err) .. '\n')
  write_result()
  vim.cmd('cquit 3')
else
  result.ok = true
  write_result()
  vim.cmd('qa!')
end
