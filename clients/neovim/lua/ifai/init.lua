--- ifai.nvim: Neovim client for ifai-lsp (local AI completions, code actions, streaming chat).
---
--- `require('ifai').setup(opts)` starts the server for the configured filetypes with whatever
--- Neovim offers: `vim.lsp.config` + `vim.lsp.enable` on 0.11+, `vim.lsp.start` from a FileType
--- autocmd on 0.8-0.10, and `vim.lsp.start_client` + `vim.lsp.buf_attach_client` (one client
--- per project root) on 0.7. Completion is inline (ghost text): Neovim's `vim.lsp.inline_completion`
--- on 0.12+, the plugin's own extmarks (lua/ifai/ghost.lua) elsewhere, with the server's completion
--- items besides; code actions use Neovim's own
--- `vim.lsp.buf.code_action()`. Options: see `:help ifai-options` or lua/ifai/config.lua.
local config = require('ifai.config')
local util = require('ifai.util')

local M = {}

--- 0.7 path: client ids by project root, so every buffer of a project shares one server.
local clients_by_root = {}

--- Work done when the server attaches to a buffer (every start path calls it).
---@param client table
---@param bufnr integer
function M.on_attach(client, bufnr)
  local options = config.options
  local keys = options.keymaps or {}
  -- 0.10+ sets omnifunc itself; older versions leave it to the user, so <C-x><C-o> asks the server.
  if vim.fn.has('nvim-0.10') == 0 and vim.bo[bufnr].omnifunc == '' then
    vim.bo[bufnr].omnifunc = 'v:lua.vim.lsp.omnifunc'
  end
  local inline = vim.lsp.inline_completion
  local caps = client.server_capabilities or {}
  local ghost = require('ifai.ghost')
  local native = inline and inline.enable and caps.inlineCompletionProvider
  if options.inline_completion and native and options.ghost_text ~= true then
    pcall(inline.enable, true, { bufnr = bufnr, client_id = client.id })
    if keys.inline_accept then
      vim.keymap.set('i', keys.inline_accept, function()
        inline.get()
      end, { buffer = bufnr, desc = 'ifai: accept the suggestion' })
    end
    if keys.inline_next and inline.select then
      vim.keymap.set('i', keys.inline_next, function()
        inline.select()
      end, { buffer = bufnr, desc = 'ifai: next suggestion' })
    end
  else
    -- The plugin's own ghost text; with ghost_text = 'auto' and inline_completion off it stays
    -- off until :IfaiGhostText on.
    if options.ghost_text ~= false then
      ghost.attach(client, bufnr)
    end
    if options.autocomplete and vim.lsp.completion and vim.lsp.completion.enable then
      pcall(vim.lsp.completion.enable, true, client.id, bufnr, { autotrigger = true })
    end
  end
  -- Next edits on every version: Neovim has no rendering of its own for them.
  require('ifai.nes').attach(client, bufnr)
  if options.on_attach then
    options.on_attach(client, bufnr)
  end
end

local function executable(cmd)
  if type(cmd) ~= 'table' or vim.fn.executable(cmd[1]) == 1 then
    return true
  end
  if not M._warned then
    M._warned = true
    util.notify(string.format('cannot run %q: install ifai-lsp (npm install -g ifai-lsp) or set `cmd` in setup()', cmd[1]), vim.log.levels.ERROR)
  end
  return false
end

local function real_file(bufnr)
  local name = vim.api.nvim_buf_get_name(bufnr)
  return vim.bo[bufnr].buftype == '' and name ~= '' and not name:match('^%a+://')
end

--- The client config for a buffer's project root, or nil for buffers the server should not see.
local function config_for(bufnr)
  local options = config.options
  if not real_file(bufnr) or not executable(options.cmd) then
    return nil
  end
  local cfg = config.client_config(options)
  cfg.root_dir = config.find_root(vim.api.nvim_buf_get_name(bufnr), options.root_markers)
  cfg.filetypes = nil
  cfg.root_markers = nil
  return cfg
end

--- 0.7: attaches the buffer to its root's client, starting that client first when needed.
local function attach_07(bufnr)
  local cfg = config_for(bufnr)
  if not cfg then
    return
  end
  local root = cfg.root_dir
  local id = clients_by_root[root]
  local client = id and vim.lsp.get_client_by_id(id)
  if not client or client.is_stopped() then
    cfg.workspace_folders = { { uri = vim.uri_from_fname(root), name = root } }
    id = vim.lsp.start_client(cfg)
    if not id then
      return
    end
    clients_by_root[root] = id
  end
  vim.lsp.buf_attach_client(bufnr, id)
end

--- 0.8-0.10: `vim.lsp.start` reuses a client with the same name and root.
local function attach_08(bufnr)
  local cfg = config_for(bufnr)
  if cfg then
    vim.lsp.start(cfg, { bufnr = bufnr })
  end
end

--- Sets the plugin up and starts the server for the configured filetypes.
---@param opts table|nil see lua/ifai/config.lua (cmd, filetypes, root_markers, settings, init_options, keymaps, on_attach, ...)
function M.setup(opts)
  local options = config.set(opts)
  require('ifai.handlers').install_global()
  require('ifai.status').watch_progress()
  require('ifai.commands_def').define()

  if vim.lsp.config and vim.lsp.enable then
    -- 0.11+: the same table lsp/ifai.lua returns, now with the user's options.
    local cfg = config.client_config(options)
    cfg.name = nil
    vim.lsp.config('ifai', cfg)
    vim.lsp.enable('ifai')
    return
  end

  local attach = vim.lsp.start and attach_08 or attach_07
  local group = vim.api.nvim_create_augroup('ifai_start', { clear = true })
  vim.api.nvim_create_autocmd('FileType', {
    group = group,
    pattern = options.filetypes,
    callback = function(args)
      attach(args.buf)
    end,
  })
  -- Buffers already open when setup() runs (lazy loading) get attached now.
  for _, bufnr in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(bufnr) and vim.tbl_contains(options.filetypes, vim.bo[bufnr].filetype) then
      attach(bufnr)
    end
  end
end

--- The status line component: "ifai: local · ready · 35 tok/s" (empty before the server reports).
---@param opts table|nil { bufnr = integer }
function M.statusline(opts)
  return require('ifai.status').statusline(opts)
end

--- The ifai client of a buffer (default: the current one), or nil.
function M.client(bufnr)
  return util.client(bufnr)
end

--- Asks a chat question from Lua; see lua/ifai/chat.lua.
function M.chat(question, opts)
  return require('ifai.chat').ask(question, opts)
end

return M
