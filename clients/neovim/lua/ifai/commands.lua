--- ifai.nvim: the user commands' work (:IfaiModels, :IfaiBackend, :IfaiReindex, :IfaiStatus,
--- :IfaiGhostText).
---
--- Each runs a server command through `workspace/executeCommand` and reports the answer with
--- vim.notify. Each also takes an optional callback receiving the raw result, for user code.
local util = require('ifai.util')
local status = require('ifai.status')

local M = {}

M.backends = { 'local', 'cloud', 'auto' }

--- :IfaiModels: the model catalogue and what is installed (`ifai.models.list`).
function M.models(on_result)
  return util.execute('ifai.models.list', {}, function(result)
    local lines = { 'models in ' .. (result.modelsDir or '?') .. ':' }
    for _, m in ipairs(result.models or {}) do
      local flags = {}
      if m.inUse then
        table.insert(flags, 'in use')
      end
      if m.installed then
        table.insert(flags, 'installed ' .. util.bytes(m.installedBytes))
      elseif (m.partialBytes or 0) > 0 then
        table.insert(flags, 'partial ' .. util.bytes(m.partialBytes))
      else
        table.insert(flags, 'not installed, ~' .. util.bytes(m.approxBytes))
      end
      table.insert(lines, string.format('  %s%s  %s [%s]', m.inUse and '* ' or '  ', m.id, m.name or '', table.concat(flags, ', ')))
    end
    util.notify(table.concat(lines, '\n'))
    if on_result then
      on_result(result)
    end
  end)
end

--- :IfaiBackend local|cloud|auto: the router's preference until the setting changes (`ifai.switchBackend`).
function M.backend(name, on_result)
  name = vim.trim(name or ''):lower()
  if not vim.tbl_contains(M.backends, name) then
    util.notify('usage: :IfaiBackend local|cloud|auto', vim.log.levels.ERROR)
    return false
  end
  local arg = name:sub(1, 1):upper() .. name:sub(2)
  return util.execute('ifai.switchBackend', { arg }, function(result)
    local msg = string.format('backend %s (was %s)', result.preference, result.previous)
    if result.summary and #result.summary > 0 then
      msg = msg .. '\n  ' .. table.concat(result.summary, '\n  ')
    end
    util.notify(msg)
    if on_result then
      on_result(result)
    end
  end)
end

--- Completion for :IfaiBackend.
function M.complete_backend(lead)
  return vim.tbl_filter(function(b)
    return b:sub(1, #lead) == lead
  end, M.backends)
end

--- :IfaiReindex: rebuilds the codebase index (`ifai.reindex`); progress shows in the status line.
function M.reindex(on_result)
  return util.execute('ifai.reindex', {}, function(result)
    local folders = #(result.folders or {})
    util.notify(string.format('reindexing %d folder%s (%s search), index %s', folders, folders == 1 and '' or 's', result.mode or '?', result.state or '?'))
    if on_result then
      on_result(result)
    end
  end)
end

--- :IfaiGhostText on|off|toggle (no argument: toggle): the plugin's ghost text.
function M.ghost_text(arg)
  local ghost = require('ifai.ghost')
  arg = vim.trim(arg or ''):lower()
  local on
  if arg == 'on' or arg == 'off' then
    on = arg == 'on'
  elseif arg == '' or arg == 'toggle' then
    on = not ghost.active()
  else
    util.notify('usage: :IfaiGhostText on|off|toggle', vim.log.levels.ERROR)
    return false
  end
  ghost.set_enabled(on)
  local bufnr = vim.api.nvim_get_current_buf()
  if on and util.client(bufnr) and not ghost.inline_client(bufnr) then
    -- The server decides at initialize whether it answers inline completion requests.
    util.notify("ghost text on, but this server does not offer inline completion: set ghost_text = true (or settings.completion.inline = 'on') in setup() and restart it", vim.log.levels.WARN)
    return false
  end
  util.notify('ghost text ' .. (on and 'on' or 'off'))
  return true
end

--- :IfaiStatus: the model (`ifai.modelStatus`) and the last `ifai/status` in a few lines.
function M.status(on_result)
  return util.execute('ifai.modelStatus', {}, function(result)
    local client = util.client()
    local last = (client and status.by_client[client.id]) or status.last or {}
    -- The model part comes from the fresh answer; the rest from the last notification.
    local merged = vim.tbl_extend('force', {}, last, { model = vim.tbl_extend('force', last.model or {}, result) })
    local lines = status.describe(merged)
    if result.loadMs then
      lines[1] = lines[1] .. string.format(', loaded in %d ms', result.loadMs)
    end
    if result.contextSize then
      lines[1] = lines[1] .. string.format(', context %d', result.contextSize)
    end
    if result.notice then
      table.insert(lines, result.notice)
    end
    local p = status.progress
    if p and not p.done then
      table.insert(lines, 'progress: ' .. (p.title or '') .. (p.message and (' — ' .. p.message) or ''))
    end
    util.notify('status\n  ' .. table.concat(lines, '\n  '))
    if on_result then
      on_result(result)
    end
  end)
end

return M
