#!/usr/bin/env bash
# Installs mini-swe-agent (PyPI `mini-swe-agent`, pinned; MIT) into a venv at .venv-mini/ in
# the repository: its configurations are what `self-harness harness import mini-swe-agent`
# reads, and its CLI (`mini`) is what runs an exported harness in the round-trip test.
# Idempotent.
#
# Progress goes to stderr; the last line on stdout is the venv's python, e.g.
#   PY=$(scripts/setup-mini-swe-agent.sh) && self-harness harness import mini-swe-agent --python "$PY" --out imported
set -euo pipefail

MINI_VERSION=2.4.6
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${MINI_VENV:-$root/.venv-mini}"

log() { printf '==> %s\n' "$*" >&2; }

if [ -z "${PIP_CERT:-}" ] && [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  export PIP_CERT=/etc/ssl/certs/ca-certificates.crt
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1

installed() {
  "$venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('mini-swe-agent') != '$MINI_VERSION')" 2>/dev/null \
    && [ -x "$venv/bin/mini" ]
}
if ! installed; then
  log "installing mini-swe-agent==$MINI_VERSION into $venv"
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install -q "mini-swe-agent==$MINI_VERSION" >&2
fi
echo "$venv/bin/python"
