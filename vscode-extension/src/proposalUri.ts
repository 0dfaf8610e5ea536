// The virtual documents of the diff preview: `self-harness-proposal:/<file name>?<id>` holds
// the proposed text of proposal <id>. The path ends in the harness file's name so that the
// editor picks its language; the query carries the proposal id.

export const PROPOSAL_SCHEME = 'self-harness-proposal';

export interface ProposalUriParts {
  scheme: string;
  path: string;
  query: string;
}

/** The parts of the URI of proposal `id`'s proposed text for the harness file `file`. */
export function proposalUri(id: string, file: string): ProposalUriParts {
  const name = file.split(/[\\/]/).filter(Boolean).pop() ?? 'proposal';
  return { scheme: PROPOSAL_SCHEME, path: `/${name}`, query: `proposal=${encodeURIComponent(id)}` };
}

/** The proposal id of such a URI, or undefined for any other. */
export function proposalIdOf(uri: { scheme: string; query: string }): string | undefined {
  if (uri.scheme !== PROPOSAL_SCHEME) {
    return undefined;
  }
  const value = new URLSearchParams(uri.query).get('proposal');
  return value ? value : undefined;
}

/** The diff editor's title. */
export function diffTitle(id: string, file: string, rationale: string, others: string[] = []): string {
  const name = file.split(/[\\/]/).filter(Boolean).pop() ?? file;
  const why = rationale.length > 60 ? `${rationale.slice(0, 59)}…` : rationale;
  const more = others.length > 0 ? ` (and ${others.join(', ')})` : '';
  return `${name}${more} ↔ proposal ${id}${why ? ` — ${why}` : ''}`;
}
