-- What plain LSP lacks, part 1: the inline diff of a proposal.
-- The server's "Preview proposal" code action runs the client command
-- `selfHarness.previewProposal`; this asks the server for the proposed text
-- (`selfHarness/proposedText`) and shows it beside the file in a diff, in a new tab.
local M = {}

--- Shows the diff of proposal `args.proposal` from the server `client_id`.
function M.show(args, client_id)
  local client = vim.lsp.get_client_by_id(client_id)
  if not client then
    vim.notify('self-harness: the language server is not running', vim.log.levels.ERROR)
    return
  end
  client:request('selfHarness/proposedText', args, function(err, result)
    if err or not result then
      vim.notify('self-harness: ' .. (err and err.message or 'no proposed text'), vim.log.levels.ERROR)
      return
    end
    vim.cmd('tabnew ' .. vim.fn.fnameescape(vim.uri_to_fname(result.uri)))
    vim.cmd('diffthis')
    vim.cmd('rightbelow vnew')
    local buf = vim.api.nvim_get_current_buf()
    vim.api.nvim_buf_set_lines(buf, 0, -1, false, vim.split(result.proposed, '\n', { plain = true }))
    vim.bo[buf].buftype = 'nofile'
    vim.bo[buf].bufhidden = 'wipe'
    vim.bo[buf].modifiable = false
    vim.api.nvim_buf_set_name(buf, 'self-harness://proposal/' .. args.proposal)
    vim.b[buf].self_harness_proposal = args.proposal
    vim.b[buf].self_harness_diff = result.diff
    vim.cmd('diffthis')
  end)
end

return M
