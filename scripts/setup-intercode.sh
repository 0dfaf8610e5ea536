#!/usr/bin/env bash
# Installs InterCode-ALFA (PyPI `icalfa`, pinned; MIT) into a venv at .venv-intercode/ in the
# repository, with its wheel kept in .venv-intercode/wheels/. Self-Harness reads only the
# package's data (its tasks, Dockerfiles and set-up scripts), never imports it, so its Python
# dependencies are not installed. Idempotent.
#
# Progress goes to stderr; the last line on stdout is the venv's python, e.g.
#   PY=$(scripts/setup-intercode.sh) && self-harness tasks import intercode --python "$PY" --out intercode
#
# With --suite DIR it also writes the suite there (`tasks import intercode`, byte-identical
# each time) and, the first time, checks every task's reference (`tasks check --oracle
# --write-exclusions`: about 15 minutes, mostly waiting for the clock's minute to turn), so
# the tasks whose reference cannot judge here are left out. Needs `self-harness` (BIN, or
# target/release, or target/debug) and a Docker engine for that. With --exclusions FILE as
# well, that file is the suite's excluded.toml instead of a check: the exclusions a set of
# splits was made with (the check's timing-dependent verdicts would move a task or two).
set -euo pipefail

ICALFA_VERSION=0.3.6
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${INTERCODE_VENV:-$root/.venv-intercode}"

log() { printf '==> %s\n' "$*" >&2; }

if [ -z "${PIP_CERT:-}" ] && [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  export PIP_CERT=/etc/ssl/certs/ca-certificates.crt
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1

installed() {
  "$venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('icalfa') != '$ICALFA_VERSION')" 2>/dev/null
}
if ! installed; then
  log "installing icalfa==$ICALFA_VERSION into $venv (data only, no dependencies)"
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install -q --no-deps "icalfa==$ICALFA_VERSION" >&2
fi
wheel="$venv/wheels/icalfa-$ICALFA_VERSION-py3-none-any.whl"
if [ ! -f "$wheel" ]; then
  "$venv/bin/pip" download -q --no-deps "icalfa==$ICALFA_VERSION" -d "$venv/wheels" >&2
fi

if [ "${1:-}" = "--suite" ]; then
  suite="${2:?--suite needs a folder}"
  bin="${BIN:-}"
  [ -n "$bin" ] || for b in "$root/target/release/self-harness" "$root/target/debug/self-harness"; do
    [ -x "$b" ] && { bin="$b"; break; }
  done
  [ -n "$bin" ] || { echo "setup-intercode: no self-harness binary; build it or set BIN" >&2; exit 1; }
  exclusions=""
  [ "${3:-}" = "--exclusions" ] && exclusions="${4:?--exclusions needs a file}"
  "$bin" tasks import intercode --python "$venv/bin/python" --out "$suite" >&2
  if [ -n "$exclusions" ]; then
    cmp -s "$exclusions" "$suite/excluded.toml" || cp "$exclusions" "$suite/excluded.toml"
  elif [ ! -f "$suite/excluded.toml" ]; then
    log "checking every task's reference once (tasks check --oracle --write-exclusions)"
    "$bin" tasks check "$suite" --oracle --parallel 24 --write-exclusions --logs "$suite.check" >&2
  fi
fi
echo "$venv/bin/python"
