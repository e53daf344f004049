--- ifai.nvim: handlers for the server's own notifications (`ifai/status`, `ifai/chatDelta`).
---
--- They go into every client configuration the plugin builds, and into the global
--- `vim.lsp.handlers` as well, so a client started some other way (nvim-lspconfig, a hand-written
--- `vim.lsp.start`) still feeds the status line and the chat buffer.
local M = {}

--- `ifai/status`: the state a status line shows (model, backend, index, chat).
function M.status(err, result, ctx)
  if err or type(result) ~= 'table' then
    return
  end
  require('ifai.status').on_status(result, ctx and ctx.client_id)
end

--- `ifai/chatDelta`: one streamed piece of a chat answer.
function M.chat_delta(err, result, ctx)
  if err or type(result) ~= 'table' then
    return
  end
  require('ifai.chat').on_delta(result, ctx and ctx.client_id)
end

--- The handlers, keyed by method, for a client configuration.
function M.table()
  return {
    ['ifai/status'] = M.status,
    ['ifai/chatDelta'] = M.chat_delta,
  }
end

--- Installs the handlers globally unless something else already handles these methods.
function M.install_global()
  for method, fn in pairs(M.table()) do
    if vim.lsp.handlers[method] == nil then
      vim.lsp.handlers[method] = fn
    end
  end
end

return M
