// What the server sends and answers beyond plain LSP (docs/lsp.md). Types only, and the
// method and command names, so that every other module spells them one way.

export const STATE_REQUEST = 'selfHarness/state';
export const STATE_CHANGED = 'selfHarness/stateChanged';
export const JOBS_NOTIFICATION = 'selfHarness/jobs';
export const PROPOSED_TEXT_REQUEST = 'selfHarness/proposedText';

/** The server's commands (`workspace/executeCommand`). */
export const ServerCommand = {
  eval: 'selfHarness.eval',
  mine: 'selfHarness.mine',
  propose: 'selfHarness.propose',
  validate: 'selfHarness.validate',
  autoApplyStart: 'selfHarness.autoApply.start',
  autoApplyStop: 'selfHarness.autoApply.stop',
  report: 'selfHarness.report',
  cancel: 'selfHarness.cancel',
} as const;

/** The client command the server's "Preview proposal" code action runs. */
export const PREVIEW_COMMAND = 'selfHarness.previewProposal';

/** The client command a resolved "Apply proposal" runs instead of the server's validate (codeActions.ts). */
export const VALIDATE_APPLIED = 'selfHarness.validateAppliedProposal';

export type JobState = 'running' | 'done' | 'failed' | 'cancelled';

export interface Job {
  id: string;
  kind: string;
  title: string;
  state: JobState;
  message: string;
  done: number;
  total: number;
  passRate?: { parent: number; candidate: number } | null;
}

export interface JobsParams {
  jobs: Job[];
}

export interface Evidence {
  trace: string;
  turn?: number | null;
  detail: string;
}

export interface Weakness {
  id: string;
  title: string;
  description: string;
  criticality: string;
  support: string;
  counts?: { failed_with: number; failed_total: number; passed_with: number; passed_total: number };
  surface: string;
  evidence: Evidence[];
  tasks: string[];
  keep_passing?: string[];
  harness?: string | null;
}

export type ProposalState = 'proposed' | 'validating' | 'accepted' | 'rejected';

export interface ProposalSummary {
  id: string;
  weakness: string;
  file: string;
  rationale: string;
  diff: string;
  state: ProposalState;
}

export interface Run {
  id: string;
  label: string;
  passed: number;
  total: number;
}

/** One ledger line: tagged by `type` (start, evaluation, weaknesses, proposal, …). */
export interface LedgerEntry {
  type: string;
  at?: string;
  iteration?: number;
  [key: string]: unknown;
}

export interface SideBarState {
  harness: { dir: string; version: string | null; passRate: number | null };
  weaknesses: Weakness[];
  proposals: ProposalSummary[];
  jobs: Job[];
  ledger: LedgerEntry[];
  runs: Run[];
}

/** The first file a proposal changes, before and after; every file it touches (the shown
 * one first); a unified diff of them all; and the whole proposal as an LSP workspace edit,
 * which Accept applies. */
export interface ProposedText {
  uri: string;
  original: string;
  proposed: string;
  diff: string;
  title: string;
  files: string[];
  edit: unknown;
}

export interface ReportResult {
  path: string;
  uri: string;
  json: unknown;
}
