// The environment the language server is started with: only what it needs, never the whole
// of the editor's (which holds tokens for every other tool). Pure, so the list is unit-tested.

/** Variables passed by exact name. */
const NAMES = new Set([
  'PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'LANG', 'TERM', 'TMPDIR', 'TZ',
  'NO_COLOR', 'RUST_LOG', 'RUST_BACKTRACE', 'SSL_CERT_FILE', 'SSL_CERT_DIR',
  'HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'http_proxy', 'https_proxy', 'no_proxy',
]);

/** Families passed by prefix: locale, XDG folders, the Docker engine, the model endpoint
 * (`OPENAI_*`), Self-Harness's own settings and test folders. */
const PREFIXES = ['LC_', 'XDG_', 'DOCKER_', 'OPENAI_', 'SELF_HARNESS_', 'TB2_'];

/** Model keys a project config may name with `api_key_env` (`PROPOSER_API_KEY`, …). */
const SUFFIXES = ['_API_KEY'];

export function serverEnv(parent: NodeJS.ProcessEnv, apiKey: string | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(parent)) {
    if (
      value !== undefined &&
      (NAMES.has(name) || PREFIXES.some((p) => name.startsWith(p)) || SUFFIXES.some((s) => name.endsWith(s)))
    ) {
      env[name] = value;
    }
  }
  if (apiKey) {
    env.OPENAI_API_KEY = apiKey;
  }
  return env;
}
