#!/usr/bin/env bash
# Starts a Docker engine that can cap a container's disk (`--storage-opt size=…`, which a
# task's `storage` limit asks for): its data root is a btrfs file system, in a sparse file
# (loop-mounted), with Docker's btrfs storage driver. Docker's usual overlay2 on ext4
# cannot cap a disk; overlay2 on xfs could, with project quotas, but this machine's kernel
# has none ("XFS: quota support not available in this kernel"), while btrfs quota groups
# work. On btrfs the cap is the container's whole root file system, image included, as a
# Terminal-Bench sandbox's disk is. Nothing is formatted but that file. Needs root and
# btrfs-progs (scripts/setup-docker.sh installs it).
#
#   scripts/docker-with-disk-quota.sh start DIR SIZE [DOCKERD-ARG…]   prints its DOCKER_HOST
#   scripts/docker-with-disk-quota.sh stop DIR                         stop it, unmount, remove the file
#
# With no DOCKERD-ARG the engine listens on DIR/docker.sock beside the machine's own engine,
# on a bridge of its own without NAT (its containers and builds reach no network). Not
# `--bridge none`: dockerd then deletes the host's docker0, the other engine's bridge.
# scripts/setup-docker.sh uses it for the machine's engine when
# SELF_HARNESS_DOCKER_DISK_QUOTA=SIZE is set; server/tests/storage.rs for a second one.
set -euo pipefail

log() { printf '==> %s\n' "$*" >&2; }
# The bridge of the engine kept in DIR: a name of at most 15 characters, from DIR.
bridge_of() { printf 'shq%s' "$(printf %s "$1" | sha256sum | cut -c1-8)"; }

case "${1:-}" in
  start)
    dir=$(realpath -m "${2:?start needs DIR}")
    size=${3:?start needs SIZE, e.g. 64G}
    shift 3
    command -v mkfs.btrfs >/dev/null || { echo "mkfs.btrfs not found: apt-get install -y btrfs-progs" >&2; exit 1; }
    mkdir -p "$dir/root"
    if ! mountpoint -q "$dir/root"; then
      if [ ! -f "$dir/btrfs.img" ]; then
        log "making a $size btrfs file system in $dir/btrfs.img (sparse)"
        truncate -s "$size" "$dir/btrfs.img"
        mkfs.btrfs -q "$dir/btrfs.img" >/dev/null
      fi
      mount -o loop "$dir/btrfs.img" "$dir/root"
    fi
    args=("$@")
    if [ ${#args[@]} -eq 0 ]; then
      bridge=$(bridge_of "$dir")
      if ! ip link show "$bridge" >/dev/null 2>&1; then
        hash=$(printf %s "$dir" | sha256sum)
        ip link add name "$bridge" type bridge
        ip addr add "10.250.$((16#${hash:0:2})).1/24" dev "$bridge"
        ip link set "$bridge" up
      fi
      args=(-H "unix://$dir/docker.sock" --exec-root "$dir/exec" --pidfile "$dir/dockerd.pid"
        --bridge "$bridge" --iptables=false --ip6tables=false --ip-masq=false)
    fi
    log "starting dockerd on $dir/root (log: $dir/dockerd.log)"
    nohup dockerd --data-root "$dir/root/docker" --storage-driver btrfs "${args[@]}" >"$dir/dockerd.log" 2>&1 &
    echo $! >"$dir/dockerd.launcher"
    host=unix:///var/run/docker.sock
    for ((i = 0; i < ${#args[@]}; i++)); do
      [ "${args[i]}" = -H ] && host=${args[i + 1]}
    done
    for _ in $(seq 1 60); do
      DOCKER_HOST=$host docker version >/dev/null 2>&1 && break
      sleep 1
    done
    DOCKER_HOST=$host docker info --format 'storage driver: {{.Driver}}' >&2 \
      || { echo "dockerd did not start; see $dir/dockerd.log" >&2; exit 1; }
    echo "$host"
    ;;
  stop)
    dir=$(realpath -m "${2:?stop needs DIR}")
    if [ -f "$dir/dockerd.launcher" ]; then
      pid=$(cat "$dir/dockerd.launcher")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 30); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 1
      done
      kill -9 "$pid" 2>/dev/null || true
      rm -f "$dir/dockerd.launcher"
    fi
    if mountpoint -q "$dir/root"; then
      umount "$dir/root" || umount -l "$dir/root"
    fi
    rm -f "$dir/btrfs.img"
    ip link delete "$(bridge_of "$dir")" 2>/dev/null || true
    ;;
  *)
    echo "usage: $0 start DIR SIZE [DOCKERD-ARG…] | stop DIR" >&2
    exit 2
    ;;
esac
