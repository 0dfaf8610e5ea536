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
local COMMANDS

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

--- A whole number from `text`, or nil after saying what `name` expected.
local function count(name, text, what)
  if text == nil then
    return nil, true
  end
  local n = tonumber(text)
  if not n or n < 1 or n % 1 ~= 0 then
    vim.notify(('self-harness: %s takes a number of %s, not %q'):format(name, what, text), vim.log.levels.ERROR)
    return nil, false
  end
  return n, true
end

--- The report in a tab of its own (Markdown), and where its HTML page is.
local function show_report(result)
  vim.cmd('tabnew')
  local buf = vim.api.nvim_get_current_buf()
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, vim.split(result.markdown or '', '\n', { plain = true }))
  vim.bo[buf].buftype = 'nofile'
  vim.bo[buf].bufhidden = 'wipe'
  vim.bo[buf].filetype = 'markdown'
  vim.bo[buf].modifiable = false
  vim.api.nvim_buf_set_name(buf, 'self-harness://report')
  vim.notify('self-harness: the report with its plot is ' .. result.path)
end

--- `:SelfHarness NAME [ARGUMENT]`: each name, the server command it runs and its argument.
COMMANDS = {
  eval = function(arg)
    local repeats, ok = count('eval', arg, 'episodes per task')
    return ok and 'eval', { repeats = repeats }
  end,
  mine = function()
    return 'mine', {}
  end,
  propose = function(arg)
    if not arg then
      vim.notify('self-harness: propose needs a weakness (its diagnostic code)', vim.log.levels.ERROR)
      return nil
    end
    return 'propose', { weakness = arg }
  end,
  validate = function(arg)
    return 'validate', { proposal = arg }
  end,
  autoapply = function(arg)
    local iterations, ok = count('autoapply', arg, 'iterations')
    return ok and 'autoApply.start', { iterations = iterations }
  end,
  stop = function()
    return 'autoApply.stop', {}
  end,
  cancel = function(arg)
    local job = arg or jobs.running()
    if not job then
      vim.notify('self-harness: no job is running', vim.log.levels.WARN)
      return nil
    end
    return 'cancel', { job = job }
  end,
  report = function()
    return 'report', {}, show_report
  end,
}

--- Runs `:SelfHarness name argument`.
function M.command(name, argument)
  local make = COMMANDS[name]
  if not make then
    vim.notify('self-harness: no command ' .. tostring(name), vim.log.levels.ERROR)
    return
  end
  local command, params, callback = make(argument)
  if command then
    M.execute(command, params, callback)
  end
end

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
    M.command(command.fargs[1], command.fargs[2])
  end, {
    nargs = '+',
    complete = function(lead, line)
      if #vim.split(line, '%s+') > 2 then
        return {}
      end
      local names = vim.tbl_filter(function(name)
        return name:find(lead, 1, true) == 1
      end, vim.tbl_keys(COMMANDS))
      table.sort(names)
      return names
    end,
    desc = 'Self-Harness: eval [TRIALS] | mine | propose WEAKNESS | validate [PROPOSAL] | autoapply [ITERATIONS] '
      .. '| stop | cancel [JOB] | report',
  })
  vim.lsp.enable(NAME)
end

return M
