// The side bar's four trees — runs, weaknesses, proposals, ledger — built from the
// `selfHarness/state` result as plain nodes. Pure; sideBar.ts turns nodes into TreeItems.

import { percent } from './statusText';
import type { Job, LedgerEntry, ProposalState, SideBarState, Weakness } from './protocol';

export type Section = 'runs' | 'weaknesses' | 'proposals' | 'ledger';
export const SECTIONS: readonly Section[] = ['runs', 'weaknesses', 'proposals', 'ledger'];

/** A command run when a node is clicked: a command id of this extension and its arguments. */
export interface NodeCommand {
  command: string;
  title: string;
  arguments: unknown[];
}

export interface TreeNode {
  /** Unique within its tree; stable across refreshes so expansion is kept. */
  id: string;
  label: string;
  description?: string;
  tooltip?: string;
  /** A codicon name (`pass`, `warning`, `sync~spin`, …). */
  icon?: string;
  /** For `view/item/context` menus. */
  contextValue?: string;
  command?: NodeCommand;
  children?: TreeNode[];
}

export const PROPOSAL_MARK: Record<ProposalState, { icon: string; text: string }> = {
  proposed: { icon: 'lightbulb', text: 'proposed' },
  validating: { icon: 'sync~spin', text: 'validating…' },
  accepted: { icon: 'pass', text: '✓ accepted' },
  rejected: { icon: 'error', text: '✗ rejected' },
};

const CRITICALITY_ICON: Record<string, string> = { high: 'warning', medium: 'info', low: 'lightbulb' };

function fileName(path: string): string {
  return path.split(/[\\/]/).filter(Boolean).pop() ?? path;
}

/** "run/task/seed" (e.g. `loop-…/fix-git-…/s1000`): the last folders of a trace path, which say where it is from. */
function traceLabel(trace: string): string {
  const parts = trace.split(/[\\/]/).filter(Boolean);
  return parts.slice(Math.max(0, parts.length - 4), parts.length - 1).join('/');
}

function rate(passed: number, total: number): string {
  return total > 0 ? `${passed}/${total} (${percent(passed / total)})` : `${passed}/${total}`;
}

function jobNode(job: Job): TreeNode {
  const icon = { running: 'sync~spin', done: 'check', failed: 'error', cancelled: 'circle-slash' }[job.state];
  return {
    id: `job:${job.id}`,
    label: job.title,
    description: job.message || job.state,
    tooltip: `${job.kind} job ${job.id}: ${job.state}${job.total > 0 ? ` (${job.done}/${job.total})` : ''}`,
    icon,
    contextValue: `job.${job.state}`,
  };
}

function runs(state: SideBarState): TreeNode[] {
  const nodes: TreeNode[] = [];
  const h = state.harness;
  nodes.push({
    id: 'harness',
    label: `Harness ${h.version ? h.version.slice(0, 12) : '(does not load)'}`,
    description: typeof h.passRate === 'number' ? `passes ${percent(h.passRate)}` : 'no episodes yet',
    tooltip: h.dir,
    icon: 'beaker',
  });
  if (state.jobs.length > 0) {
    nodes.push({ id: 'jobs', label: 'Jobs', icon: 'tasklist', children: state.jobs.map(jobNode) });
  }
  for (const run of state.runs) {
    nodes.push({
      id: `run:${run.id}`,
      label: run.label,
      description: rate(run.passed, run.total),
      tooltip: `.self-harness/runs/${run.id}`,
      icon: 'run-all',
    });
  }
  return nodes;
}

function weaknessNode(w: Weakness): TreeNode {
  const c = w.counts;
  const support = c && c.failed_total > 0 ? `${c.failed_with}/${c.failed_total} failed traces` : w.support;
  const evidence = w.evidence.map((e, i) => ({
    id: `weakness:${w.id}:evidence:${i}`,
    label: e.turn !== null && e.turn !== undefined ? `turn ${e.turn}: ${e.detail}` : e.detail,
    description: traceLabel(e.trace),
    tooltip: e.trace,
    icon: 'go-to-file',
    contextValue: 'evidence',
    command: { command: 'selfHarness.openEvidence', title: 'Open evidence', arguments: [e.trace, e.turn ?? null] },
  }));
  const tips = [`${w.title} (${w.id}, ${w.criticality})`, w.description, w.support, `surface: ${w.surface}`];
  if (w.tasks.length > 0) {
    tips.push(`seen in: ${w.tasks.join(', ')}`);
  }
  if (w.keep_passing && w.keep_passing.length > 0) {
    tips.push(`must keep passing: ${w.keep_passing.join(', ')}`);
  }
  return {
    id: `weakness:${w.id}`,
    label: w.title,
    description: `${support} · ${w.surface}`,
    tooltip: tips.filter(Boolean).join('\n'),
    icon: CRITICALITY_ICON[w.criticality] ?? 'lightbulb',
    contextValue: 'weakness',
    children: evidence,
  };
}

function proposals(state: SideBarState): TreeNode[] {
  return state.proposals.map((p) => {
    const mark = PROPOSAL_MARK[p.state] ?? PROPOSAL_MARK.proposed;
    return {
      id: `proposal:${p.id}`,
      label: p.id,
      description: `${mark.text} · ${fileName(p.file)} · for ${p.weakness}`,
      tooltip: `${p.rationale}\n\n${p.diff}`,
      icon: mark.icon,
      contextValue: `proposal.${p.state}`,
      command: { command: 'selfHarness.previewProposal', title: 'Preview', arguments: [{ proposal: p.id }] },
    };
  });
}

interface ScoreLike {
  passed?: number;
  counted?: number;
}

function score(value: unknown): string {
  const s = (value ?? {}) as ScoreLike;
  return rate(s.passed ?? 0, s.counted ?? 0);
}

function list(value: unknown): string {
  return Array.isArray(value) ? value.join(', ') : '';
}

/** One ledger line as a node (without id). */
export function ledgerLine(e: LedgerEntry): Omit<TreeNode, 'id'> {
  const s = (key: string) => (typeof e[key] === 'string' ? (e[key] as string) : '');
  switch (e.type) {
    case 'start':
      return { label: `Start: ${s('model')}`, description: `harness ${s('harness_version').slice(0, 12)} · ${s('policy')}`, icon: 'debug-start' };
    case 'evaluation':
      return { label: `Evaluated ${s('harness_version').slice(0, 12)} on ${s('split')}`, description: score(e.score), icon: 'run-all' };
    case 'weaknesses':
      return { label: `Mined ${Array.isArray(e.ids) ? e.ids.length : 0} weakness(es)`, description: list(e.titles), icon: 'search' };
    case 'spent': {
      const spend = (e.spend ?? {}) as { tokens?: number; cost_usd?: number };
      const usd = typeof spend.cost_usd === 'number' && spend.cost_usd > 0 ? ` · $${spend.cost_usd.toFixed(2)}` : '';
      return { label: `Model calls: ${s('stage')}`, description: `${spend.tokens ?? 0} tokens${usd}`, icon: 'credit-card' };
    }
    case 'proposal':
      return { label: `Proposed ${s('id')}`, description: `for ${s('weakness')} · ${s('file')}`, tooltip: s('rationale'), icon: 'lightbulb' };
    case 'discarded':
      return { label: `Discarded ${s('id')}`, description: s('reason'), icon: 'trash' };
    case 'decision': {
      const accepted = e.accepted === true;
      const p = typeof e.p_value === 'number' ? ` · p=${e.p_value.toFixed(3)}` : '';
      return {
        label: `${accepted ? '✓ accepted' : '✗ rejected'} ${list(e.proposals)}`,
        description: `${score(e.parent)} → ${score(e.candidate)}${p}`,
        tooltip: s('reason'),
        icon: accepted ? 'pass' : 'error',
      };
    }
    case 'applied':
      return { label: `Applied ${list(e.proposals)}`, description: `→ ${s('harness_version').slice(0, 12)}${e.commit ? ` (${String(e.commit).slice(0, 8)})` : ''}`, icon: 'git-commit' };
    case 'iteration_end':
      return { label: 'Iteration ended', description: `harness ${s('harness_version').slice(0, 12)}`, icon: 'check' };
    case 'finish':
      return { label: 'Finished', description: s('reason'), icon: 'debug-stop' };
    default:
      return { label: e.type, icon: 'circle-small' };
  }
}

/** The ledger grouped by iteration, in the order it was written. */
function ledger(state: SideBarState): TreeNode[] {
  const nodes: TreeNode[] = [];
  let group: TreeNode | undefined;
  state.ledger.forEach((entry, i) => {
    const line = ledgerLine(entry);
    const node: TreeNode = { id: `ledger:${i}`, ...line, tooltip: line.tooltip ?? entry.at };
    if (typeof entry.iteration !== 'number') {
      group = undefined;
      nodes.push(node);
      return;
    }
    if (!group || group.id !== `iteration:${entry.iteration}`) {
      group = { id: `iteration:${entry.iteration}`, label: `Iteration ${entry.iteration}`, icon: 'history', children: [] };
      nodes.push(group);
    }
    group.children?.push(node);
  });
  return nodes;
}

/** The root nodes of one section. */
export function sectionNodes(state: SideBarState | undefined, section: Section): TreeNode[] {
  if (!state) {
    return [];
  }
  switch (section) {
    case 'runs':
      return runs(state);
    case 'weaknesses':
      return state.weaknesses.map(weaknessNode);
    case 'proposals':
      return proposals(state);
    case 'ledger':
      return ledger(state);
  }
}
