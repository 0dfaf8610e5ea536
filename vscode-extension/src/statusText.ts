// The status bar item's text: the job in progress (else how the last one ended) and the
// pass rate of the current harness version. Pure; statusBar.ts shows it.

import type { Job } from './protocol';

export interface StatusText {
  text: string;
  tooltip: string;
}

const ENDED_ICON: Record<string, string> = { done: '$(check)', failed: '$(error)', cancelled: '$(circle-slash)' };

export function percent(rate: number): string {
  return `${Math.round(rate * 100)}%`;
}

/** Status bar room for a job's message; the tooltip has all of it. */
export const MESSAGE_ROOM = 48;

function short(text: string): string {
  return text.length > MESSAGE_ROOM ? `${text.slice(0, MESSAGE_ROOM - 1).trimEnd()}…` : text;
}

function progress(job: Job): string {
  if (job.message) {
    return short(job.message);
  }
  return job.total > 0 ? `${job.done}/${job.total}` : short(job.title);
}

/** The running job first (the newest when several run), else the last one that ended. */
export function currentJob(jobs: readonly Job[]): Job | undefined {
  const running = jobs.filter((j) => j.state === 'running');
  return running.length > 0 ? running[running.length - 1] : jobs[jobs.length - 1];
}

export function statusText(jobs: readonly Job[], passRate: number | null | undefined): StatusText {
  const parts: string[] = [];
  const tips: string[] = [];
  const job = currentJob(jobs);
  if (job) {
    const running = jobs.filter((j) => j.state === 'running').length;
    if (job.state === 'running') {
      const more = running > 1 ? ` (+${running - 1})` : '';
      parts.push(`$(sync~spin) ${job.kind}: ${progress(job)}${more}`);
    } else {
      parts.push(`${ENDED_ICON[job.state] ?? ''} ${job.kind} ${job.state}${job.message ? `: ${short(job.message)}` : ''}`.trim());
    }
    tips.push(`${job.title} — ${job.state}${job.message ? `: ${job.message}` : ''}`);
    if (job.passRate) {
      tips.push(`pass rate: parent ${percent(job.passRate.parent)}, candidate ${percent(job.passRate.candidate)}`);
    }
  }
  if (typeof passRate === 'number') {
    parts.push(`$(beaker) ${percent(passRate)}`);
    tips.push(`current harness version passes ${percent(passRate)} of its episodes`);
  }
  if (parts.length === 0) {
    return { text: '$(beaker) Self-Harness', tooltip: 'Self-Harness: no jobs yet' };
  }
  return { text: parts.join('  '), tooltip: tips.join('\n') };
}
