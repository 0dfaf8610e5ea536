#!/usr/bin/env bash
# The main job, from a fresh Debian machine: install and start Docker, build the base
# images, and run the starter suite in real containers. (Today the oracle agent acts; the
# model-driven agent and the self-improvement loop replace it as they land.)
#   bash scripts/run.sh [extra `tasks check` flags, e.g. --parallel 2 --json]
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup-docker.sh
if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo is not installed: install Rust (e.g. apt-get install -y cargo, or rustup)" >&2
  exit 3
fi
echo "==> building self-harness (release)"
cargo build --locked --release
echo "==> base images"
target/release/self-harness images build
echo "==> starter suite, oracle agent"
exec target/release/self-harness tasks check tasks/ --oracle "$@"
