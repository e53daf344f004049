-- ifai-lsp for Neovim 0.11+ `vim.lsp.config` / `vim.lsp.enable('ifai')` (and nvim-lspconfig 2.x,
-- which reads lsp/*.lua from the runtimepath). Built from the ifai.nvim options, so what
-- require('ifai').setup{...} set is what this returns; without setup(), the defaults.
local cfg = require('ifai.config').client_config()
cfg.name = nil
return cfg
