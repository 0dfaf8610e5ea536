import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

import { serverSettings, RESTART_SETTINGS } from '../src/settings';

const reader = (values: Record<string, unknown>) => (key: string) => values[key];

describe('serverSettings', () => {
  it('maps every setting to the object of docs/lsp.md', () => {
    const settings = serverSettings(
      reader({
        harness: 'harnesses/minimal',
        tasks: 'tasks',
        'model.baseUrl': 'http://127.0.0.1:8080/v1',
        'model.model': 'local',
        repeats: 2,
        parallel: 3,
        seed: 0,
        policy: 'paper',
        alpha: 0.05,
        maxCostRatio: 1.5,
        candidates: 4,
        maxChangedLines: 8,
        proposer: 'generic',
        weaknesses: 1,
        finalists: 2,
        episodeTimeoutSecs: 300,
        budgetTokens: 100000,
        budgetUsd: 1.5,
      }),
    );
    expect(settings).toEqual({
      harness: 'harnesses/minimal',
      tasks: 'tasks',
      model: { baseUrl: 'http://127.0.0.1:8080/v1', model: 'local' },
      repeats: 2,
      parallel: 3,
      seed: 0,
      policy: 'paper',
      alpha: 0.05,
      maxCostRatio: 1.5,
      candidates: 4,
      maxChangedLines: 8,
      proposer: 'generic',
      weaknesses: 1,
      finalists: 2,
      episodeTimeoutSecs: 300,
      budgetTokens: 100000,
      budgetUsd: 1.5,
    });
  });

  it('leaves out what is unset, empty or out of range, so the server falls back', () => {
    const settings = serverSettings(
      reader({
        harness: '',
        tasks: '   ',
        'model.baseUrl': '',
        repeats: null,
        parallel: 0,
        seed: -1,
        policy: '',
        alpha: 1.5,
        maxCostRatio: 0,
        candidates: 0,
        maxChangedLines: 2.5,
        proposer: 'someone',
        weaknesses: null,
        finalists: -1,
        episodeTimeoutSecs: 2.5,
        budgetTokens: null,
        budgetUsd: Number.NaN,
      }),
    );
    expect(settings).toEqual({});
  });

  it('sends only the model keys that are set', () => {
    expect(serverSettings(reader({ 'model.model': 'vim-lover' }))).toEqual({ model: { model: 'vim-lover' } });
  });

  it("carries the editor's word on the workspace, and nothing when it has none", () => {
    expect(serverSettings(reader({}), false)).toEqual({ workspaceTrusted: false });
    expect(serverSettings(reader({}), true)).toEqual({ workspaceTrusted: true });
    expect(serverSettings(reader({}))).toEqual({});
  });

  it('never carries an API key, whatever the settings hold', () => {
    const settings = serverSettings(reader({ apiKey: 'sk-secret', 'model.apiKey': 'sk-secret' }));
    expect(JSON.stringify(settings)).not.toContain('sk-secret');
  });

  it('covers every contributed setting (package.json) that the server reads', () => {
    const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    const keys = Object.keys(manifest.contributes.configuration.properties);
    const clientOnly = new Set([...RESTART_SETTINGS, 'selfHarness.trace.server']);
    expect(keys.some((k) => /apikey|secret|token$/i.test(k))).toBe(false);
    for (const key of keys.filter((k) => !clientOnly.has(k))) {
      const name = key.slice('selfHarness.'.length);
      const schema = manifest.contributes.configuration.properties[key];
      const types = [schema.type].flat();
      const number = Math.min(3, schema.maximum ?? 3);
      const sample = schema.enum ? schema.enum[schema.enum.length - 1] : types.includes('string') ? 'x' : number;
      const mapped = serverSettings(reader({ [name]: sample })) as Record<string, unknown>;
      expect(JSON.stringify(mapped), `${key} reaches the server`).not.toBe('{}');
    }
  });
});
