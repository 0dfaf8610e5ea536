-- What plain LSP lacks, part 2: the state of the server's jobs (validation, mining, the
-- loop) for a status line. The server sends `selfHarness/jobs` on every change; Neovim
-- shows `$/progress` itself (`vim.lsp.status()`), this keeps the richer list.
local M = { jobs = {} }

--- The notification handler for `selfHarness/jobs`.
function M.handler(_, params)
  M.jobs = (params and params.jobs) or {}
  vim.api.nvim_exec_autocmds('User', { pattern = 'SelfHarnessJobs', modeline = false })
end

--- The id of the running job, if one runs.
function M.running()
  for _, job in ipairs(M.jobs) do
    if job.state == 'running' then
      return job.id
    end
  end
  return nil
end

--- One line for a status line: the running job, else how the last one ended.
function M.status()
  local last
  for _, job in ipairs(M.jobs) do
    if job.state == 'running' then
      local text = job.kind .. ': ' .. (job.message ~= '' and job.message or job.title)
      return text
    end
    last = job
  end
  if last then
    return last.kind .. ' ' .. last.state .. ': ' .. last.message
  end
  return ''
end

return M
