-- Test driver for test/editors/neovim.test.ts: runs inside a real headless Neovim and uses the
-- ifai.nvim plugin the way a user does (setup, open files, completion, ghost text typed in insert
-- mode, a code action picked by its title, :IfaiChat with @codebase, cancelling with the chat
-- buffer's key, the other commands, the status line), then stops the server and quits. Every step waits on a condition with a
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

--- Runs `scenario(wait, feed)` as a coroutine while Neovim is in insert mode, entered with
--- `start_keys`. Headless Neovim handles typed keys only in its own input loop, so the scenario
--- yields in `wait(what, ms, cond)` and the insert loop meanwhile handles what `feed(keys)` typed
--- (mappings apply) and every event (timers, the server's answers). The scenario's end leaves insert
--- mode, which ends the nvim_feedkeys call; its failure fails the step.
local function in_insert_mode(start_keys, scenario)
  local outcome, failure
  local function wait(what, ms, cond)
    local deadline = vim.loop.now() + ms
    while true do
      local value = cond()
      if value then
        return value
      end
      if vim.loop.now() > deadline then
        fail('timed out after ' .. ms .. ' ms waiting for ' .. what)
      end
      coroutine.yield()
    end
  end
  local function feed(keys)
    api.nvim_feedkeys(api.nvim_replace_termcodes(keys, true, false, true), 'm', false)
  end
  local co = coroutine.create(function()
    outcome = scenario(wait, feed)
  end)
  local timer = vim.loop.new_timer()
  timer:start(0, 10, vim.schedule_wrap(function()
    -- Not while the scenario itself waits inside vim.wait (buf_request_sync).
    if coroutine.status(co) ~= 'suspended' then
      return
    end
    local ok, err = coroutine.resume(co)
    if not ok then
      failure = (type(err) == 'table' and err) or { ifai_failure = debug.traceback(co, tostring(err)) }
    end
    if coroutine.status(co) == 'dead' then
      timer:stop()
      timer:close()
      api.nvim_feedkeys(api.nvim_replace_termcodes('<Esc>', true, false, true), 'n', false)
    end
  end))
  api.nvim_feedkeys(start_keys, 'nx!', false)
  if failure then
    error(failure, 0)
  end
  return outcome
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
    -- Automatic next edits are turned on by the step that tests them.
    next_edit = false,
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
    -- Entering this buffer (`:buffer` above) sent ifai/didFocus, and the server started a prefill.
    local all = vim.lsp.buf_request_sync(buf, 'ifai/completionMetrics', { last = 500 }, 5000)
    local focus_prefills = 0
    for _, p in ipairs(all[client.id].result.prefills or {}) do
      if p.reason == 'focus' and p.uri == vim.uri_from_bufnr(buf) then
        focus_prefills = focus_prefills + 1
      end
    end
    -- The cursor rests on another line in normal mode: the plugin names the new position.
    local function focus_count()
      local n = 0
      local result = vim.lsp.buf_request_sync(buf, 'ifai/completionMetrics', { last = 500 }, 5000)
      for _, p in ipairs(result[client.id].result.prefills or {}) do
        if p.reason == 'focus' and p.uri == vim.uri_from_bufnr(buf) then
          n = n + 1
        end
      end
      return n
    end
    -- Whether the focus prefills grow past `count` within 20 s.
    -- (No vim.wait around focus_count: it waits itself, and vim.wait does not nest.)
    local function grows_past(count)
      for _ = 1, 400 do
        if focus_count() > count then
          return true
        end
        vim.wait(50)
      end
      return false
    end
    local before_rest = focus_count()
    -- (Not the first line: entering the buffer named that one already.)
    api.nvim_win_set_cursor(0, { row + 1, 0 })
    vim.cmd('doautocmd <nomodeline> CursorHold')
    local rested = grows_past(before_rest)
    -- Resting again where it already was names nothing new.
    vim.cmd('doautocmd <nomodeline> CursorHold')
    local after_same = focus_count()
    -- Neovim gets the terminal's focus back: the plugin names the buffer again, though the
    -- cursor stayed (a shared engine then serves this window first).
    vim.cmd('doautocmd <nomodeline> FocusGained')
    local regained = grows_past(after_same)
    return {
      focus_prefills = focus_prefills,
      rest_focus = rested,
      rest_again_prefills = after_same - before_rest,
      regained_focus = regained,
      position = params.position,
      isIncomplete = response.result.isIncomplete,
      items = response.result.items,
      metrics = { source = record.source, generatedTokens = record.generatedTokens, promptTokens = record.promptTokens },
    }
  end)

  step('ghost', function()
    vim.cmd('buffer ' .. vim.fn.fnameescape(spec.files.scale))
    local buf = api.nvim_get_current_buf()
    local ghost = require('ifai.ghost')
    local keys = spec.ghost
    local row = spec.ghost.line
    local line = api.nvim_buf_get_lines(buf, row, row + 1, false)[1]
    api.nvim_win_set_cursor(0, { row + 1, 0 })
    -- Every method the client sends, recorded on the way through.
    local sent = {}
    local request = client.request
    client.request = function(...)
      local args = { ... }
      table.insert(sent, type(args[1]) == 'string' and args[1] or args[2])
      return request(...)
    end
    local function count_sent(method)
      return #vim.tbl_filter(function(m)
        return m == method
      end, sent)
    end
    local function marks()
      return api.nvim_buf_get_extmarks(buf, ghost.ns, 0, -1, { details = true })
    end
    -- What the buffer and the ghost text were at each TextChangedI (after the plugin's own handler).
    local changes = {}
    local group = api.nvim_create_augroup('ifai_test_ghost', { clear = true })
    api.nvim_create_autocmd('TextChangedI', {
      group = group,
      buffer = buf,
      callback = function()
        table.insert(changes, { lines = api.nvim_buf_get_lines(buf, 0, -1, false), marks = #marks(), requests = ghost.stats.requests })
      end,
    })
    local out = in_insert_mode('A', function(wait, feed)
      local r = {}
      -- The tiny model's answer at a position may be empty (its greedy output is not the same on
      -- every run), so while an answer shows nothing, the next character is typed and the
      -- plugin asks again, as it does when a user types.
      local attempts = 0
      while true do
        local answered = ghost.stats.responses
        wait('ghost text or an empty answer at the end of the line', 20000, function()
          return ghost.visible(buf) or (ghost.stats.responses > answered and not ghost.busy(buf))
        end)
        if ghost.visible(buf) then
          break
        end
        attempts = attempts + 1
        if attempts > #keys.retry then
          fail('no ghost text after ' .. attempts .. ' answers: ' .. api.nvim_get_current_line())
        end
        feed(keys.retry:sub(attempts, attempts))
      end
      r.attempts = attempts
      line = api.nvim_get_current_line()
      local cursor = api.nvim_win_get_cursor(0)
      vim.cmd('redraw')
      local screen_row = vim.fn.win_screenpos(0)[1] + vim.fn.winline() - 1
      local function screen(srow)
        local chars = {}
        for c = 1, vim.o.columns do
          chars[c] = vim.fn.screenstring(srow, c)
        end
        return (table.concat(chars):gsub('%s+$', ''))
      end
      r.shown = { cursor = cursor, marks = marks(), text = ghost.text(buf), screen = { screen(screen_row), screen(screen_row + 1) } }
      -- The same request, sent directly: what the server suggests here.
      local params = {
        textDocument = { uri = vim.uri_from_bufnr(buf) },
        position = { line = row, character = #line },
        context = { triggerKind = 2 },
      }
      local responses = vim.lsp.buf_request_sync(buf, 'textDocument/inlineCompletion', params, 10000)
      r.direct = responses and responses[client.id] and responses[client.id].result
      r.position = params.position

      feed(keys.dismiss)
      wait('the dismissed ghost text to go', 5000, function()
        return not ghost.visible(buf)
      end)
      r.dismissed = { marks = #marks(), line = api.nvim_get_current_line() }

      -- Typing a character and deleting it asks again; the server answers from its cache.
      feed('x<BS>')
      wait('the ghost text again', 20000, function()
        return ghost.visible(buf)
      end)
      r.again = ghost.text(buf)

      -- The first request after accepting (at the new end of the line) is overtaken by a keystroke
      -- typed the moment it is sent, so the plugin cancels it. These two go to the cloud fixture,
      -- which never answers the first: it cannot end before its cancel, however busy the machine.
      local function route(preference)
        local answer = vim.lsp.buf_request_sync(buf, 'workspace/executeCommand', { command = 'ifai.switchBackend', arguments = { preference } }, 5000)
        if not answer or not answer[client.id] or answer[client.id].err then
          fail('ifai.switchBackend ' .. preference .. ' failed: ' .. vim.inspect(answer))
        end
      end
      route('Cloud')
      local armed, cancelled_id = true, nil
      api.nvim_create_autocmd('User', {
        group = group,
        pattern = 'IfaiGhostRequest',
        callback = function()
          if armed then
            armed = false
            cancelled_id = ghost.pending_id(buf)
            feed(keys.typed)
          end
        end,
      })
      local n = #changes
      feed(keys.accept)
      wait('the accepted text in the buffer', 5000, function()
        return #changes > n
      end)
      r.accepted = { change = changes[n + 1], cursor = api.nvim_win_get_cursor(0) }
      wait('the keystroke overtaking the next request', 20000, function()
        return cancelled_id and #changes > n + 1
      end)
      local requests = ghost.stats.requests
      wait('the request after the keystroke to be answered', 20000, function()
        return ghost.stats.requests > requests and not ghost.busy(buf)
      end)
      local metrics = vim.lsp.buf_request_sync(buf, 'ifai/completionMetrics', { last = 6 }, 5000)
      r.cancel = {
        id = cancelled_id,
        client_cancelled = vim.tbl_contains(ghost.stats.cancelled, cancelled_id),
        line = api.nvim_get_current_line(),
        sources = vim.tbl_map(function(rec)
          return rec.source
        end, metrics[client.id].result.records),
      }
      route('Local')

      -- Off: typing asks nothing. The plugin would send its request when its debounce timer fires;
      -- a timer of the same length started later fires after it.
      local messages = #result.messages
      vim.cmd('IfaiGhostText off')
      local before = { requests = ghost.stats.requests, sent = count_sent('textDocument/inlineCompletion') }
      n = #changes
      feed(keys.typed)
      wait('the keystroke with ghost text off', 5000, function()
        return #changes > n
      end)
      local barrier = false
      vim.defer_fn(function()
        barrier = true
      end, require('ifai.config').options.ghost_text_debounce_ms)
      wait('the debounce time to pass', 5000, function()
        return barrier
      end)
      r.off = {
        before = before,
        after = { requests = ghost.stats.requests, sent = count_sent('textDocument/inlineCompletion') },
        marks = #marks(),
        busy = ghost.busy(buf),
        message = message_since(messages, 'ghost text'),
      }
      return r
    end)
    out.after_insert = { marks = #marks(), mode = api.nvim_get_mode().mode }
    out.inline_sent = count_sent('textDocument/inlineCompletion')
    out.line = line
    out.stats = vim.deepcopy(ghost.stats)
    -- The ghost text's options reach the server: inline completion is offered.
    out.provider = client.server_capabilities.inlineCompletionProvider ~= nil
    out.init_inline = client.config.init_options.completion.inline
    out.init_without = require('ifai.config').init_options(vim.tbl_extend('force', require('ifai.config').options, { ghost_text = false })).completion.inline == nil
    vim.cmd('IfaiGhostText on')
    client.request = request
    api.nvim_del_augroup_by_id(group)
    -- Back to the file as it is on disk, for the steps that follow.
    vim.cmd('edit!')
    return out
  end)

  step('next_edit', function()
    local nes = require('ifai.nes')
    local options = require('ifai.config').options
    vim.fn.writefile(vim.split((spec.next_edit.source:gsub('\n$', '')), '\n', { plain = true }), spec.files.area)
    vim.cmd('edit ' .. vim.fn.fnameescape(spec.files.area))
    local buf = api.nvim_get_current_buf()
    wait_for('area.ts to attach', 5000, function()
      return vim.lsp.buf_is_attached(buf, client.id)
    end)
    local function marks()
      return api.nvim_buf_get_extmarks(buf, nes.ns, 0, -1, { details = true })
    end
    local function lines()
      return api.nvim_buf_get_lines(buf, 0, -1, false)
    end
    -- What the plugin sent, recorded on the way through.
    local sent = {}
    local request, notify = client.request, client.notify
    client.request = function(...)
      local args = { ... }
      local method = type(args[1]) == 'string' and args[1] or args[2]
      local params = type(args[1]) == 'string' and args[2] or args[3]
      table.insert(sent, { method = method, params = params })
      return request(...)
    end
    client.notify = function(...)
      local args = { ... }
      local method = type(args[1]) == 'string' and args[1] or args[2]
      local params = type(args[1]) == 'string' and args[2] or args[3]
      table.insert(sent, { method = method, params = params })
      return notify(...)
    end
    local function sent_of(method)
      return vim.tbl_filter(function(m)
        return m.method == method
      end, sent)
    end
    -- Automatic next edits on for this step only (the others would ask the fixture after every change).
    options.next_edit = true
    options.next_edit_debounce_ms = spec.next_edit.debounce_ms
    local keys = spec.next_edit
    api.nvim_win_set_cursor(0, { 1, keys.rename_col })
    local out = in_insert_mode('a', function(wait, feed)
      local r = { before = lines() }
      -- The user renames the parameter; after the pause the plugin asks, and the suggestion (the
      -- use of the old name on the next line) is shown away from the cursor.
      feed(keys.typed)
      wait('the next edit to show after the pause', 20000, function()
        return nes.visible(buf)
      end)
      local auto = sent_of('textDocument/copilotInlineEdit')
      r.shown = { cursor = api.nvim_win_get_cursor(0), marks = marks(), lines = lines(), edits = nes.edits(buf), params = auto[#auto].params }
      r.show_sent = #sent_of('textDocument/didShowCompletion')

      -- Dismissed with its key: gone, nothing applied, the server told.
      feed(keys.dismiss)
      wait('the dismissed suggestion to go', 5000, function()
        return not nes.visible(buf)
      end)
      r.dismissed = { marks = #marks(), lines = lines(), notified = #sent_of('ifai/didDismissSuggestion'), mode = api.nvim_get_mode().mode }

      -- Asked for twice at once (as :IfaiNextEdit does): the first request is cancelled, the second shown.
      local first = nes.request(buf, true)
      local second = nes.request(buf, true)
      wait('the suggestion asked for to show', 20000, function()
        return nes.visible(buf)
      end)
      r.latest = { first = first, second = second, params = sent_of('textDocument/copilotInlineEdit')[#sent_of('textDocument/copilotInlineEdit')].params }

      -- The buffer changes under the suggestion: accepting it now applies nothing.
      local tick = api.nvim_buf_get_changedtick(buf)
      api.nvim_buf_set_text(buf, 2, 0, 2, 0, { '// x' })
      r.stale = { accepted = nes.accept(buf), refused = nes.stats.refused, marks = #marks(), lines = lines() }
      api.nvim_buf_set_text(buf, 2, 0, 2, 4, { '' })
      -- The change restarts the pause; the suggestion comes back for the new state.
      wait('the suggestion after the change', 20000, function()
        return nes.visible(buf) and api.nvim_buf_get_changedtick(buf) > tick + 1
      end)

      -- Jump to it, then accept it: the buffer is exactly the suggested text.
      feed(keys.jump)
      wait('the cursor on the suggestion', 5000, function()
        return api.nvim_win_get_cursor(0)[1] == keys.edit_line + 1
      end)
      r.jumped = { cursor = api.nvim_win_get_cursor(0), visible = nes.visible(buf) }
      local requests = nes.stats.requests
      feed(keys.accept)
      wait('the accepted edit in the buffer', 5000, function()
        return nes.stats.accepted == 1
      end)
      r.accepted = { lines = lines(), marks = #marks(), cursor = api.nvim_win_get_cursor(0) }
      -- Accepting is a change too: the plugin asks again after the pause, and nothing more is suggested.
      wait('the request after accepting to be answered', 20000, function()
        return nes.stats.requests > requests and not nes.busy(buf)
      end)
      r.after_accept = { visible = nes.visible(buf), lines = lines() }
      r.commands = vim.tbl_map(function(m)
        return m.params
      end, sent_of('workspace/executeCommand'))
      return r
    end)
    options.next_edit = false
    client.request, client.notify = request, notify
    out.stats = vim.deepcopy(nes.stats)
    vim.cmd('edit!')
    return out
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

  -- An action whose edit the server refuses (the scripted reply is no test and does not parse):
  -- Neovim resolves it once, applies nothing, and shows the reason the server sends.
  step('refused_action', function()
    local buf = api.nvim_get_current_buf()
    local before = buffer_text(buf)
    -- Neovim 0.7 echoes window/showMessage itself: its handler is wrapped to see the reason.
    local shown = {}
    local show = vim.lsp.handlers['window/showMessage']
    vim.lsp.handlers['window/showMessage'] = function(err, params, ctx, config)
      table.insert(shown, params.message)
      return show(err, params, ctx, config)
    end
    local picked
    vim.ui.select = function(items, opts, on_choice)
      local chosen
      for _, item in ipairs(items) do
        if (opts.format_item and opts.format_item(item) or tostring(item)) == spec.refused.title then
          chosen = item
        end
      end
      picked = chosen ~= nil
      on_choice(chosen)
    end
    vim.lsp.buf.code_action()
    local reason = wait_for('the reason the edit was refused', 20000, function()
      for _, m in ipairs(shown) do
        if m:find('nothing was changed', 1, true) then
          return m
        end
      end
    end)
    vim.lsp.handlers['window/showMessage'] = show
    return { picked = picked, reason = reason, unchanged = buffer_text(buf) == before }
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

  -- The cancelled answer comes from the cloud fixture, whose stream stays open until the server
  -- closes it: it cannot end before the key is pressed, however busy the machine is.
  step('chat_cancel', function()
    local cloud_msg = backend('cloud')
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
      backend_message = cloud_msg,
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

  step('chat_range', function()
    local source_buf = api.nvim_get_current_buf()
    vim.cmd(spec.range.lines .. 'IfaiChat! ' .. spec.range.question)
    local chat = require('ifai.chat')
    local turn = chat.current
    wait_for('the answer about the selected lines', 30000, function()
      return turn.done
    end)
    return {
      source = api.nvim_buf_get_name(source_buf),
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
