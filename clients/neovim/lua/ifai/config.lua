--- ifai.nvim: options and the LSP client configuration built from them.
---
--- One table of options (defaults merged with what the user gave to `setup`) feeds every way the
--- plugin starts the server: `vim.lsp.config` on 0.11+, `vim.lsp.start` on 0.8-0.10,
--- `vim.lsp.start_client` on 0.7, the nvim-lspconfig entry and `lsp/ifai.lua`.
local M = {}

--- Languages the server indexes and completes well; any filetype works, these are only defaults.
M.default_filetypes = {
  'bash', 'c', 'cpp', 'cs', 'css', 'go', 'html', 'java', 'javascript', 'javascriptreact', 'json',
  'kotlin', 'lua', 'php', 'python', 'ruby', 'rust', 'scala', 'sh', 'swift', 'typescript',
  'typescriptreact', 'zig',
}

M.defaults = {
  --- How to start the server (`npm install -g ifai-lsp`, or node + a clone's bin/ifai-lsp.js).
  cmd = { 'ifai-lsp', '--stdio' },
  filetypes = M.default_filetypes,
  --- Files or folders that mark a project root; the file's own folder is used when none is found.
  root_markers = { '.git', 'package.json', 'pyproject.toml', 'go.mod', 'Cargo.toml', 'pom.xml', 'build.gradle', '.ifaiignore' },
  --- Server settings (docs/configuration.md), sent as initializationOptions and as the
  --- `workspace/configuration` section "ifai".
  settings = {},
  --- Extra initializationOptions merged over `settings` (rarely needed).
  init_options = nil,
  keymaps = {
    --- In the chat buffer: stop the answer being streamed.
    chat_cancel = '<C-c>',
    --- In the chat buffer: stop the answer if one is streaming, else close the window.
    chat_close = 'q',
    --- Insert mode: accept the ghost text (native or the plugin's; false: no mapping). With no
    --- ghost text shown, the key does its usual work.
    inline_accept = '<C-f>',
    --- Insert mode, the plugin's ghost text: accept its next word.
    inline_accept_word = '<M-Right>',
    --- Insert mode, the plugin's ghost text: hide it.
    inline_dismiss = '<C-]>',
    --- Insert mode, Neovim 0.12+: show the next suggestion (false: no mapping).
    inline_next = '<M-]>',
    --- Normal and insert mode: move the cursor to the next-edit suggestion shown (false: no
    --- mapping). With none shown, each of these keys does its usual work.
    next_edit_jump = '<M-n>',
    --- Normal and insert mode: apply the next-edit suggestion shown.
    next_edit_accept = '<M-y>',
    --- Normal and insert mode: hide the next-edit suggestion shown (the server counts it dismissed).
    next_edit_dismiss = '<M-d>',
  },
  --- Inline completion (ghost text): Neovim's own where it has it (0.12+), the plugin's elsewhere.
  inline_completion = true,
  --- The plugin's own ghost text (extmarks): 'auto' uses it where `vim.lsp.inline_completion` is
  --- missing (0.7-0.11) and inline_completion is on; true also on 0.12+ (instead of Neovim's);
  --- false never.
  ghost_text = 'auto',
  --- Wait this long after a keystroke before asking for ghost text (the server debounces too).
  ghost_text_debounce_ms = 75,
  --- Next-edit suggestions (`textDocument/copilotInlineEdit`) after a pause in editing, shown as
  --- a diff with extmarks; false: only when asked (:IfaiNextEdit).
  next_edit = true,
  --- The pause after a change before asking for a next edit.
  next_edit_debounce_ms = 600,
  --- Neovim 0.11+ without inline completion: show the server's items as you type through
  --- `vim.lsp.completion` (off by default, as completion plugins such as nvim-cmp do this themselves).
  autocomplete = false,
  --- Where :IfaiChat opens its buffer: any split command ("botright split", "vertical botright split", "tabnew").
  chat_split = 'botright split',
  --- Called after the plugin's own attach work, with (client, bufnr).
  on_attach = nil,
  --- Called when the server exits, with (code, signal, client_id).
  on_exit = nil,
  --- Extra client capabilities merged over Neovim's.
  capabilities = nil,
}

M.options = vim.deepcopy(M.defaults)

--- Merges user options over the defaults. Lists (cmd, filetypes, root_markers) are replaced, not merged.
---@param opts table|nil
function M.set(opts)
  opts = opts or {}
  local merged = vim.tbl_deep_extend('force', vim.deepcopy(M.defaults), opts)
  for _, key in ipairs({ 'cmd', 'filetypes', 'root_markers' }) do
    if opts[key] ~= nil then
      merged[key] = vim.deepcopy(opts[key])
    end
  end
  M.options = merged
  return merged
end

--- The initializationOptions the server gets: `settings` with `init_options` over it. Unless
--- ghost_text is false, `completion.inline` defaults to "on": Neovim before 0.12 does not advertise
--- inline completion, and the server only offers it to clients that do or that ask this way.
function M.init_options(options)
  options = options or M.options
  local init = vim.tbl_deep_extend('force', vim.deepcopy(options.settings or {}), options.init_options or {})
  if options.ghost_text ~= false then
    init.completion = init.completion or {}
    if init.completion.inline == nil then
      init.completion.inline = 'on'
    end
  end
  return init
end

--- Finds the project root of a file: the nearest folder upward holding a root marker, else the
--- file's folder. Written with libuv only, so it works on 0.7 (vim.fs arrived in 0.8).
---@param path string absolute file name
---@param markers string[]
---@return string
function M.find_root(path, markers)
  local uv = vim.uv or vim.loop
  local dir = vim.fn.fnamemodify(path, ':p:h')
  local start = dir
  while dir and dir ~= '' do
    for _, marker in ipairs(markers) do
      if uv.fs_stat(dir .. '/' .. marker) then
        return dir
      end
    end
    local parent = vim.fn.fnamemodify(dir, ':h')
    if parent == dir then
      break
    end
    dir = parent
  end
  return start
end

--- The client configuration shared by every start path (without root_dir, which each path finds).
---@param options table|nil
---@return table
function M.client_config(options)
  options = options or M.options
  local handlers = require('ifai.handlers')
  local init = M.init_options(options)
  local config = {
    name = 'ifai',
    cmd = vim.deepcopy(options.cmd),
    filetypes = vim.deepcopy(options.filetypes),
    root_markers = vim.deepcopy(options.root_markers),
    init_options = init,
    -- Answers the server's `workspace/configuration` pull with the same settings.
    settings = { ifai = vim.deepcopy(options.settings or {}) },
    handlers = handlers.table(),
    on_attach = function(client, bufnr)
      require('ifai').on_attach(client, bufnr)
    end,
    on_exit = function(code, signal, client_id)
      require('ifai.status').on_exit(code, signal, client_id)
      if options.on_exit then
        options.on_exit(code, signal, client_id)
      end
    end,
  }
  if options.capabilities then
    local base = vim.lsp.protocol.make_client_capabilities()
    config.capabilities = vim.tbl_deep_extend('force', base, options.capabilities)
  end
  return config
end

return M
