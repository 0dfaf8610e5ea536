#!/usr/bin/env bash
# Installs and starts what Self-Harness needs from the machine: a Docker engine, debootstrap
# and btrfs-progs (Debian packages), then waits until the engine answers. Idempotent; needs
# root.
#
# With SELF_HARNESS_DOCKER_DISK_QUOTA=SIZE (e.g. 64G) an engine this script starts keeps its
# data on a btrfs file system in a sparse file of that size (/var/lib/self-harness-disk-quota,
# see scripts/docker-with-disk-quota.sh), so a task's `storage` limit is enforced; on the
# usual overlay2-on-ext4 it cannot be, and traces say so. Images built before are not there.
set -euo pipefail

log() { printf '==> %s\n' "$*"; }

if ! command -v dockerd >/dev/null 2>&1 || ! command -v debootstrap >/dev/null 2>&1 \
  || ! command -v mkfs.btrfs >/dev/null 2>&1; then
  log "installing docker.io, debootstrap and btrfs-progs"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io debootstrap btrfs-progs >/dev/null
fi

if ! docker version >/dev/null 2>&1 && [ -n "${SELF_HARNESS_DOCKER_DISK_QUOTA:-}" ]; then
  bash "$(dirname "$0")/docker-with-disk-quota.sh" start /var/lib/self-harness-disk-quota \
    "$SELF_HARNESS_DOCKER_DISK_QUOTA" \
    -H unix:///var/run/docker.sock >/dev/null
elif ! docker version >/dev/null 2>&1; then
  log "starting dockerd (log: /var/log/self-harness-dockerd.log)"
  # A machine restored from a snapshot can keep the pid files of an engine that no longer
  # runs; dockerd refuses to start over them.
  if ! pgrep -x dockerd >/dev/null; then
    rm -f /var/run/docker.pid /var/run/docker/containerd/containerd.pid
  fi
  nohup dockerd >/var/log/self-harness-dockerd.log 2>&1 &
  dockerd_pid=$!
  for _ in $(seq 1 180); do
    docker version >/dev/null 2>&1 && break
    kill -0 "$dockerd_pid" 2>/dev/null || break
    sleep 1
  done
fi
if ! docker version --format 'docker engine {{.Server.Version}} (API {{.Server.APIVersion}})'; then
  echo "dockerd did not start; the end of /var/log/self-harness-dockerd.log:" >&2
  tail -n 30 /var/log/self-harness-dockerd.log >&2 || true
  exit 1
fi
