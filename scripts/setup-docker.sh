#!/usr/bin/env bash
# Installs and starts what Self-Harness needs from the machine: a Docker engine and
# debootstrap (Debian packages), then waits until the engine answers. Idempotent; needs root.
set -euo pipefail

log() { printf '==> %s\n' "$*"; }

if ! command -v dockerd >/dev/null 2>&1 || ! command -v debootstrap >/dev/null 2>&1; then
  log "installing docker.io and debootstrap"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io debootstrap >/dev/null
fi

if ! docker version >/dev/null 2>&1; then
  log "starting dockerd (log: /var/log/self-harness-dockerd.log)"
  nohup dockerd >/var/log/self-harness-dockerd.log 2>&1 &
  for _ in $(seq 1 60); do
    docker version >/dev/null 2>&1 && break
    sleep 1
  done
fi
docker version --format 'docker engine {{.Server.Version}} (API {{.Server.APIVersion}})' \
  || { echo "dockerd did not start; see /var/log/self-harness-dockerd.log" >&2; exit 1; }
