-- Self-Harness in Neovim's built-in LSP client (0.11+).
--
--   require('self_harness').setup({
--     cmd = { 'self-harness', 'lsp' },            -- the server (default: from PATH)
--     settings = { harness = 'harnesses/minimal', tasks = 'tasks', repeats = 2 },  -- docs/lsp.md
--     root_dir = nil,                               -- default: found by self-harness.toml, .self-harness, .git
--   })
--
-- Plain LSP gives diagnostics (weaknesses), code actions (proposals), progress and code
-- lenses (marks). This module adds what it lacks: the proposal diff in a split
-- (`selfHarness.previewProposal`), the jobs for a status line (`require('self_harness').status()`),
-- code lenses and inlay hints kept fresh, and `:SelfHarness <command>`.
local M = {}

local jobs = require('self_harness.jobs')
local preview = require('self_harness.preview')

local NAME = 'self_harness'

local function client()
  return vim.lsp.get_clients({ name = NAME })[1]
end

--- Runs a server command (`selfHarness.<name>`) with one argument table.
function M.execute(name, argument, callback)
  local c = client()
  if not c then
    vim.notify('self-harness: the language server is not running', vim.log.levels.ERROR)
    return
  end
  c:request('workspace/executeCommand', { command = 'selfHarness.' .. name, arguments = { argument or {} } },
    function(err, result)
      if err then
        vim.notify('self-harness: ' .. err.message, vim.log.levels.ERROR)
      elseif callback then
        callback(result)
      end
    end)
end

--- One line for a status line.
M.status = jobs.status

local function refresh_marks(bufnr)
  if vim.api.nvim_buf_is_valid(bufnr) then
    vim.lsp.codelens.refresh({ bufnr = bufnr })
  end
end

function M.setup(opts)
  opts = opts or {}
  local settings = opts.settings or {}
  vim.lsp.config(NAME, {
    cmd = opts.cmd or { 'self-harness', 'lsp' },
    filetypes = opts.filetypes or { 'toml', 'markdown', 'sh' },
    root_markers = opts.root_markers or { 'self-harness.toml', '.self-harness', '.git' },
    -- The project folder (where `.self-harness/` is), when the markers would find another.
    root_dir = opts.root_dir,
    init_options = settings,
    settings = { selfHarness = settings },
    handlers = {
      ['selfHarness/jobs'] = jobs.handler,
      ['selfHarness/stateChanged'] = function()
        for _, buf in ipairs(vim.api.nvim_list_bufs()) do
          if vim.api.nvim_buf_is_loaded(buf) and #vim.lsp.get_clients({ bufnr = buf, name = NAME }) > 0 then
            refresh_marks(buf)
          end
        end
      end,
    },
  })
  vim.lsp.commands['selfHarness.previewProposal'] = function(command, ctx)
    preview.show(command.arguments[1], ctx.client_id)
  end
  vim.api.nvim_create_autocmd('LspAttach', {
    group = vim.api.nvim_create_augroup('self_harness', { clear = true }),
    callback = function(args)
      local c = vim.lsp.get_client_by_id(args.data.client_id)
      if not c or c.name ~= NAME then
        return
      end
      vim.lsp.inlay_hint.enable(true, { bufnr = args.buf })
      refresh_marks(args.buf)
    end,
  })
  vim.api.nvim_create_user_command('SelfHarness', function(command)
    local name = command.fargs[1]
    local map = { autoapply = 'autoApply.start', stop = 'autoApply.stop' }
    local argument = {}
    if name == 'propose' then
      argument.weakness = command.fargs[2]
    elseif name == 'validate' then
      argument.proposal = command.fargs[2]
    end
    M.execute(map[name] or name, argument, function(result)
      if result and result.path then
        vim.notify('self-harness: report at ' .. result.path)
      end
    end)
  end, {
    nargs = '+',
    complete = function()
      return { 'eval', 'mine', 'propose', 'validate', 'autoapply', 'stop', 'report' }
    end,
    desc = 'Self-Harness: eval | mine | propose ID | validate [PROPOSAL] | autoapply | stop | report',
  })
  vim.lsp.enable(NAME)
end

return M
