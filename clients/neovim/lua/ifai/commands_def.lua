--- ifai.nvim: defines the user commands (plugin/ifai.lua and setup() both call `define`).
local M = {}

function M.define()
  if M.defined then
    return
  end
  M.defined = true
  local create = vim.api.nvim_create_user_command
  create('IfaiChat', function(cmd)
    require('ifai.chat').command(cmd)
  end, { nargs = '*', range = true, bang = true, desc = 'ifai: ask a question (@codebase searches the project; ! starts a new conversation)' })
  create('IfaiModels', function()
    require('ifai.commands').models()
  end, { nargs = 0, desc = 'ifai: list models' })
  create('IfaiBackend', function(cmd)
    require('ifai.commands').backend(cmd.args)
  end, {
    nargs = 1,
    complete = function(lead)
      return require('ifai.commands').complete_backend(lead)
    end,
    desc = 'ifai: route to local, cloud or auto',
  })
  create('IfaiReindex', function()
    require('ifai.commands').reindex()
  end, { nargs = 0, desc = 'ifai: rebuild the codebase index' })
  create('IfaiGhostText', function(cmd)
    require('ifai.commands').ghost_text(cmd.args)
  end, {
    nargs = '?',
    complete = function(lead)
      return vim.tbl_filter(function(arg)
        return arg:sub(1, #lead) == lead
      end, { 'on', 'off', 'toggle' })
    end,
    desc = 'ifai: ghost text on, off or toggle',
  })
  create('IfaiNextEdit', function(cmd)
    require('ifai.nes').command(cmd.args)
  end, {
    nargs = '?',
    complete = function(lead)
      return vim.tbl_filter(function(arg)
        return arg:sub(1, #lead) == lead
      end, { 'request', 'jump', 'accept', 'dismiss' })
    end,
    desc = 'ifai: ask for a next edit now, or jump to, accept or dismiss the one shown',
  })
  create('IfaiStatus', function()
    require('ifai.commands').status()
  end, { nargs = 0, desc = 'ifai: model, backend and index status' })
end

return M
