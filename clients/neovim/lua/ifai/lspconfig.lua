--- ifai.nvim: an nvim-lspconfig entry for ifai-lsp.
---
--- nvim-lspconfig 2.x on Neovim 0.11+ finds lsp/ifai.lua on the runtimepath by itself
--- (`vim.lsp.enable('ifai')`). Older nvim-lspconfig needs custom servers registered in
--- `lspconfig.configs`; `register()` does that, after which `require('lspconfig').ifai.setup{}` works.
local M = {}

--- Registers "ifai" with nvim-lspconfig (a no-op when it is already known).
---@param opts table|nil ifai.nvim options (cmd, filetypes, root_markers, settings...) for the defaults
---@return boolean registered
function M.register(opts)
  local ok, configs = pcall(require, 'lspconfig.configs')
  if not ok then
    vim.notify('ifai: nvim-lspconfig is not installed', vim.log.levels.WARN)
    return false
  end
  local config = require('ifai.config')
  local options = opts and config.set(opts) or config.options
  require('ifai.handlers').install_global()
  require('ifai.status').watch_progress()
  require('ifai.commands_def').define()
  if rawget(configs, 'ifai') then
    return true
  end
  local base = config.client_config(options)
  local markers = options.root_markers
  configs.ifai = {
    default_config = {
      cmd = base.cmd,
      filetypes = base.filetypes,
      root_dir = function(fname)
        return config.find_root(fname, markers)
      end,
      single_file_support = true,
      init_options = base.init_options,
      settings = base.settings,
      handlers = base.handlers,
      on_attach = base.on_attach,
      on_exit = base.on_exit,
    },
    docs = {
      description = 'ifai-lsp: local AI completions, code actions and chat. Install with `npm install -g ifai-lsp`.',
    },
  }
  return true
end

return M
