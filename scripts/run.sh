#!/usr/bin/env bash
# The main job, from a fresh Debian machine: install and start Docker, build the base
# images, check the starter tasks, start the local model, and run the minimal harness with
# it on the starter suite.
#   bash scripts/run.sh [extra `eval` flags, e.g. --trials 2 --parallel 2 --json]
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup-docker.sh
if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo is not installed: install Rust (e.g. apt-get install -y cargo, or rustup)" >&2
  exit 3
fi
echo "==> building self-harness (release)"
cargo build --locked --release
bin=target/release/self-harness
echo "==> base images"
$bin images build
echo "==> starter tasks, oracle"
$bin tasks check tasks/ --oracle --parallel 2
echo "==> local model"
$bin model serve --detach
export OPENAI_BASE_URL=http://127.0.0.1:8080/v1
echo "==> the minimal harness with the local model on the starter suite"
exec $bin eval --harness harnesses/minimal --tasks tasks/ "$@"
