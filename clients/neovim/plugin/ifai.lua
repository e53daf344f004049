-- ifai.nvim: user commands and notification handlers, loaded at startup.
-- The server itself starts from require('ifai').setup() (or nvim-lspconfig, or vim.lsp.enable).
if vim.g.loaded_ifai == 1 then
  return
end
vim.g.loaded_ifai = 1

if vim.api.nvim_create_user_command == nil then
  vim.notify('ifai: Neovim 0.7 or newer is needed', vim.log.levels.WARN)
  return
end

require('ifai.commands_def').define()
require('ifai.handlers').install_global()
require('ifai.status').watch_progress()
