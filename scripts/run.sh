#!/usr/bin/env bash
# The main job, from a fresh Debian machine: install and start Docker, build the base
# images, start the local model, and run the self-improvement loop on the starter suite
# from harnesses/minimal (on a copy in .self-harness/harness, so the repository's harness
# stays as it is). About 30 minutes on 2 cores (28.6 measured, images and weights cached);
# `self-harness report` shows the result.
#   bash scripts/run.sh [extra `loop` flags, e.g. --iterations 3 --repeats 2]
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
echo "==> local model"
$bin model serve --detach
export OPENAI_BASE_URL=http://127.0.0.1:8080/v1
if [ ! -d .self-harness/harness ]; then
  mkdir -p .self-harness && cp -r harnesses/minimal .self-harness/harness
fi
echo "==> the loop (resumes where it stopped if run again)"
$bin loop --harness .self-harness/harness --tasks tasks/ --auto-apply \
  --iterations 2 --repeats 1 --candidates 2 --weaknesses 1 --proposer model+catalog --episode-timeout 90 --parallel 2 "$@"
$bin report --html .self-harness/report.html
echo "==> report: .self-harness/report.html; the improved harness: .self-harness/harness"
