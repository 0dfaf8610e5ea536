import { describe, expect, it } from 'vitest';

import { serverEnv } from '../src/serverEnv';

describe('serverEnv', () => {
  const parent = {
    PATH: '/usr/bin',
    HOME: '/home/a',
    LC_ALL: 'C.UTF-8',
    DOCKER_HOST: 'unix:///run/docker.sock',
    OPENAI_BASE_URL: 'https://api.example/v1',
    GROQ_API_KEY: 'gsk',
    SELF_HARNESS_TRUSTED_ENDPOINTS: 'https://api.example/v1',
    GITHUB_TOKEN: 'ghp_secret',
    AWS_SECRET_ACCESS_KEY: 'aws_secret',
    NPM_TOKEN: 'npm_secret',
  };

  it('passes what the server needs and nothing else', () => {
    expect(serverEnv(parent, undefined)).toEqual({
      PATH: '/usr/bin',
      HOME: '/home/a',
      LC_ALL: 'C.UTF-8',
      DOCKER_HOST: 'unix:///run/docker.sock',
      OPENAI_BASE_URL: 'https://api.example/v1',
      GROQ_API_KEY: 'gsk',
      SELF_HARNESS_TRUSTED_ENDPOINTS: 'https://api.example/v1',
    });
  });

  it('adds the key kept in SecretStorage as OPENAI_API_KEY', () => {
    expect(serverEnv({ OPENAI_API_KEY: 'old' }, 'sk-new')).toEqual({ OPENAI_API_KEY: 'sk-new' });
    expect(serverEnv({ OPENAI_API_KEY: 'env' }, undefined)).toEqual({ OPENAI_API_KEY: 'env' });
  });
});
