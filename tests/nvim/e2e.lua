-- Driven by server/tests/nvim.rs: a real, headless Neovim with editors/nvim as its only plugin.
-- Each step waits for what a person would see and records it; the Rust test reads the
-- record (SH_OUT, JSON) and asserts on it. Run: nvim --headless --clean -l e2e.lua
local env = vim.env
vim.opt.runtimepath:append(env.SH_RTP)
local out = {}

local function record(step, ok, detail)
  table.insert(out, { step = step, ok = ok, detail = detail })
end

local function finish()
  local file = assert(io.open(env.SH_OUT, 'w'))
  file:write(vim.json.encode(out))
  file:close()
  vim.cmd('qall!')
end

local function wait(step, ms, condition, detail)
  local ok = vim.wait(ms, condition, 50)
  record(step, ok, detail and detail() or nil)
  if not ok then
    finish()
  end
  return ok
end

local progress = {}
vim.api.nvim_create_autocmd('LspProgress', {
  callback = function(args)
    local value = args.data.params.value
    table.insert(progress, { kind = value.kind, message = value.message, title = value.title })
  end,
})

require('self_harness').setup({
  cmd = { env.SH_BIN, 'lsp' },
  -- The harness lives in its own repository, outside the project that holds the store.
  root_dir = vim.fn.getcwd(),
  settings = {
    harness = env.SH_HARNESS,
    tasks = env.SH_TASKS,
    repeats = 2,
    parallel = 2,
    model = { baseUrl = env.SH_MODEL_URL },
  },
})

-- 1. Open harness.toml: the server attaches.
vim.cmd.edit(env.SH_HARNESS .. '/harness.toml')
local manifest = vim.api.nvim_get_current_buf()
wait('attached', 20000, function()
  return #vim.lsp.get_clients({ bufnr = manifest, name = 'self_harness' }) > 0
end)

local function diagnostics(buf, predicate)
  return vim.tbl_filter(predicate, vim.diagnostic.get(buf))
end

-- 2. A weakness from the prepared store, on the line of the system prompt.
local weakness
wait('weakness diagnostic', 20000, function()
  weakness = diagnostics(manifest, function(d) return d.code == 'interactive-program' end)[1]
  return weakness ~= nil
end, function()
  return weakness and { line = weakness.lnum, message = weakness.message, severity = weakness.severity } or nil
end)

-- 3. A bad edit: a syntax error appears, and goes when the edit is undone.
local name_line = vim.fn.search('^name', 'n') - 1
local original = vim.api.nvim_buf_get_lines(manifest, name_line, name_line + 1, false)[1]
vim.api.nvim_buf_set_lines(manifest, name_line, name_line + 1, false, { 'name = "minimal' })
local syntax
wait('syntax diagnostic', 20000, function()
  syntax = diagnostics(manifest, function(d) return d.severity == vim.diagnostic.severity.ERROR end)[1]
  return syntax ~= nil
end, function()
  return syntax and { line = syntax.lnum, message = syntax.message } or nil
end)
vim.api.nvim_buf_set_lines(manifest, name_line, name_line + 1, false, { original })
wait('syntax diagnostic cleared', 20000, function()
  return #diagnostics(manifest, function(d) return d.severity == vim.diagnostic.severity.ERROR end) == 0
end)

local jobs = require('self_harness.jobs')

-- The jobs listed now, to tell the next one apart.
local function listed()
  local ids = {}
  for _, job in ipairs(jobs.jobs) do
    ids[job.id] = true
  end
  return ids
end

-- The job of `kind` not among `before` once it is in the state `state` (any end, if nil).
local function job_of(kind, before, state)
  for _, job in ipairs(jobs.jobs) do
    if job.kind == kind and not before[job.id] and (state and job.state == state or not state and job.state ~= 'running') then
      return job
    end
  end
  return nil
end

-- Waits (`step`) for the job of `kind` not among `before` to end.
local function job_ends(step, kind, before, ms)
  local job
  wait(step, ms, function()
    job = job_of(kind, before)
    return job ~= nil
  end, function()
    return job
  end)
end

-- 3b. "Preview proposal" on the weakness line: a tab with the file and the proposed text
--     side by side in diff mode.
vim.api.nvim_win_set_cursor(0, { weakness.lnum + 1, 0 })
vim.lsp.buf.code_action({
  filter = function(action)
    return action.title == 'Preview proposal interactive-program-1'
  end,
  apply = true,
})
local shown
wait('preview', 20000, function()
  for _, win in ipairs(vim.api.nvim_tabpage_list_wins(0)) do
    local buf = vim.api.nvim_win_get_buf(win)
    if vim.api.nvim_buf_get_name(buf):find('self-harness://proposal/', 1, true) then
      shown = { name = vim.api.nvim_buf_get_name(buf), diff = vim.wo[win].diff, windows = #vim.api.nvim_tabpage_list_wins(0),
                text = table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), '\n') }
      return true
    end
  end
  return false
end, function()
  return shown
end)
vim.cmd('tabclose')
vim.api.nvim_set_current_buf(manifest)

-- 4. Pick the proposal's code action on the weakness line: the system prompt changes.
vim.api.nvim_win_set_cursor(0, { weakness.lnum + 1, 0 })
vim.lsp.buf.code_action({
  filter = function(action)
    return action.title:find('^Apply proposal') ~= nil
  end,
  apply = true,
})
local system = vim.fn.bufadd(env.SH_HARNESS .. '/system.md')
wait('buffer changed', 20000, function()
  if not vim.api.nvim_buf_is_loaded(system) then
    return false
  end
  local text = table.concat(vim.api.nvim_buf_get_lines(system, 0, -1, false), '\n')
  return text:find(env.SH_FIX, 1, true) ~= nil
end, function()
  return { modified = vim.api.nvim_buf_is_loaded(system) and vim.bo[system].modified,
           text = vim.api.nvim_buf_is_loaded(system) and table.concat(vim.api.nvim_buf_get_lines(system, 0, -1, false), '\n') or nil }
end)

-- 5. Applying it started its validation: progress arrives.
wait('validation progress', 120000, function()
  for _, p in ipairs(progress) do
    if p.kind == 'report' and p.message and p.message:find('^validate') then
      return true
    end
  end
  return false
end, function()
  return progress
end)

-- 6. It ends, and the edit gets its mark: a code lens on the edited line.
wait('validation ended', 300000, function()
  for _, job in ipairs(jobs.jobs) do
    if job.kind == 'validate' and job.state ~= 'running' then
      return true
    end
  end
  return false
end, function()
  return jobs.jobs
end)
local lens
wait('accepted mark', 20000, function()
  vim.lsp.codelens.refresh({ bufnr = system })
  vim.wait(200)
  for _, l in ipairs(vim.lsp.codelens.get(system)) do
    if l.command and l.command.title:find('accepted') then
      lens = l
      return true
    end
  end
  return false
end, function()
  return lens and { line = lens.range.start.line, title = lens.command.title, status = jobs.status(),
                   lines_on_disk = #vim.fn.readfile(env.SH_HARNESS .. '/system.md') } or nil
end)

-- 6b. A person commits the accepted edit, adds a sentence that helps nothing and runs
--     :SelfHarness validate (the working edit against that commit): it is rejected, the
--     rejected edit gets its diagnostic, and its "Revert rejected edit" action undoes it.
vim.cmd.edit(env.SH_HARNESS .. '/system.md')
vim.cmd('write')
vim.fn.system({ 'git', '-C', env.SH_HARNESS, 'commit', '-qam', 'the accepted edit' })
local before = listed()
local useless = 'Think about the task before you act.'
vim.api.nvim_buf_set_lines(system, -1, -1, false, { useless })
vim.cmd('write')
vim.cmd('SelfHarness validate')
job_ends('working edit validated', 'validate', before, 300000)
local rejected
wait('rejected mark', 20000, function()
  rejected = diagnostics(system, function(d) return d.code == 'rejected-edit' end)[1]
  return rejected ~= nil
end, function()
  return rejected and { line = rejected.lnum, message = rejected.message } or nil
end)
vim.api.nvim_win_set_cursor(0, { rejected.lnum + 1, 0 })
vim.lsp.buf.code_action({
  filter = function(action)
    return action.title == 'Revert rejected edit'
  end,
  apply = true,
})
wait('reverted', 20000, function()
  local text = table.concat(vim.api.nvim_buf_get_lines(system, 0, -1, false), '\n')
  return text:find(useless, 1, true) == nil and text:find(env.SH_FIX, 1, true) ~= nil
end, function()
  return { lines = vim.api.nvim_buf_line_count(system), modified = vim.bo[system].modified }
end)
vim.cmd('write')

-- 6c. :SelfHarness propose WEAKNESS: the proposer is asked again for that weakness.
before = listed()
vim.cmd('SelfHarness propose interactive-program')
job_ends('propose', 'propose', before, 120000)

-- 7. :SelfHarness report: the report in a tab of its own, its HTML page written.
vim.cmd('SelfHarness report')
local report
wait('report', 20000, function()
  for _, buf in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_get_name(buf):find('self-harness://report', 1, true) then
      report = table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), '\n')
      return report ~= ''
    end
  end
  return false
end, function()
  return { text = report, html = vim.fn.filereadable(vim.fn.getcwd() .. '/.self-harness/report.html') == 1 }
end)

-- 8. :SelfHarness eval 1: every split, one trial a task.
before = listed()
vim.cmd('SelfHarness eval 1')
job_ends('eval', 'eval', before, 300000)

-- 9. :SelfHarness mine.
before = listed()
vim.cmd('SelfHarness mine')
job_ends('mine', 'mine', before, 300000)

-- 10. :SelfHarness cancel while an evaluation with new seeds runs: it ends cancelled.
before = listed()
vim.cmd('SelfHarness eval 3')
wait('eval running', 20000, function()
  return job_of('eval', before, 'running') ~= nil
end)
vim.cmd('SelfHarness cancel')
job_ends('eval cancelled', 'eval', before, 60000)

-- 11. :SelfHarness autoapply 1, then :SelfHarness stop.
before = listed()
vim.cmd('SelfHarness autoapply 1')
wait('loop running', 20000, function()
  return job_of('loop', before, 'running') ~= nil
end)
vim.cmd('SelfHarness stop')
job_ends('loop stopped', 'loop', before, 60000)

finish()
