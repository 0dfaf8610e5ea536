// The `selfHarness.*` settings as the server's settings object (docs/lsp.md, "Settings"):
// the same object goes in `initializationOptions` and in `workspace/didChangeConfiguration`.
// Unset or empty settings are left out, so the server falls back to self-harness.toml and
// the OPENAI_* environment. The API key is never among them (see secrets.ts). Beside them
// goes the editor's word on the workspace (Workspace Trust): trusted, the server trusts the
// workspace's self-harness.toml and settings with the key; restricted, it starts no job.

/** Reads one setting under `selfHarness.` (e.g. `model.baseUrl`). */
export type SettingReader = (key: string) => unknown;

export interface ServerSettings {
  harness?: string;
  tasks?: string;
  model?: { baseUrl?: string; model?: string };
  repeats?: number;
  parallel?: number;
  seed?: number;
  policy?: string;
  alpha?: number;
  maxCostRatio?: number;
  candidates?: number;
  maxChangedLines?: number;
  proposer?: string;
  weaknesses?: number;
  finalists?: number;
  episodeTimeoutSecs?: number;
  budgetTokens?: number;
  budgetUsd?: number;
  workspaceTrusted?: boolean;
}

/** Settings that change what the server process is, not what it acts on: a restart applies them. */
export const RESTART_SETTINGS = ['selfHarness.serverPath'];

function text(read: SettingReader, key: string): string | undefined {
  const value = read(key);
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

function whole(read: SettingReader, key: string, min: number): number | undefined {
  const value = read(key);
  return typeof value === 'number' && Number.isInteger(value) && value >= min ? value : undefined;
}

/** A finite number above `above` (and at most `max`), or nothing. */
function real(read: SettingReader, key: string, above: number, max = Infinity): number | undefined {
  const value = read(key);
  return typeof value === 'number' && Number.isFinite(value) && value > above && value <= max ? value : undefined;
}

export function serverSettings(read: SettingReader, workspaceTrusted?: boolean): ServerSettings {
  const settings: ServerSettings = {};
  const put = <K extends keyof ServerSettings>(key: K, value: ServerSettings[K] | undefined) => {
    if (value !== undefined) {
      settings[key] = value;
    }
  };
  put('harness', text(read, 'harness'));
  put('tasks', text(read, 'tasks'));
  const model: { baseUrl?: string; model?: string } = {};
  const baseUrl = text(read, 'model.baseUrl');
  const name = text(read, 'model.model');
  if (baseUrl) {
    model.baseUrl = baseUrl;
  }
  if (name) {
    model.model = name;
  }
  if (baseUrl || name) {
    settings.model = model;
  }
  put('repeats', whole(read, 'repeats', 1));
  put('parallel', whole(read, 'parallel', 1));
  put('seed', whole(read, 'seed', 0));
  const policy = text(read, 'policy');
  put('policy', policy === 'paired' || policy === 'paper' ? policy : undefined);
  put('alpha', real(read, 'alpha', 0, 1));
  put('maxCostRatio', real(read, 'maxCostRatio', 0));
  put('candidates', whole(read, 'candidates', 1));
  put('maxChangedLines', whole(read, 'maxChangedLines', 1));
  const proposer = text(read, 'proposer');
  put('proposer', ['model', 'catalog', 'model+catalog', 'generic', 'random', 'none'].includes(proposer ?? '') ? proposer : undefined);
  put('weaknesses', whole(read, 'weaknesses', 1));
  put('finalists', whole(read, 'finalists', 0));
  put('episodeTimeoutSecs', whole(read, 'episodeTimeoutSecs', 1));
  put('budgetTokens', whole(read, 'budgetTokens', 0));
  const usd = read('budgetUsd');
  put('budgetUsd', typeof usd === 'number' && Number.isFinite(usd) && usd >= 0 ? usd : undefined);
  put('workspaceTrusted', workspaceTrusted);
  return settings;
}
