#!/bin/bash
# Self-Harness's stand-in for ubuntu:* is a Debian root, so a package pinned to Ubuntu's
# version (`jq=1.7.1-3build1`) would not install. This `apt-get` (and `apt`) installs
# Debian's version of such a package instead and says so on a line of its own, which the
# build log keeps; everything else goes to the real program unchanged.
real=/usr/bin/${0##*/}
note() { echo "self-harness stand-in: $*"; }
args=()
install=false
takes_value=false
for arg in "$@"; do
  if $takes_value; then
    takes_value=false
  elif [[ $arg == -o || $arg == -c || $arg == -t || $arg == --option || $arg == --config-file ||
    $arg == --target-release || $arg == --default-release ]]; then
    takes_value=true
  elif [[ $arg == install || $arg == reinstall ]]; then
    install=true
  elif $install && [[ $arg != -* && $arg == ?*=?* ]]; then
    package=${arg%%=*} version=${arg#*=}
    if ! apt-cache madison "$package" 2>/dev/null | cut -d'|' -f2 | tr -d ' ' | grep -qxF -- "$version"; then
      candidate=$(apt-cache policy "$package" 2>/dev/null | sed -n 's/^ *Candidate: //p')
      if [[ -n $candidate && $candidate != "(none)" ]]; then
        note "$package=$version is not a version Debian carries; installing Debian's $package $candidate instead"
        arg=$package
      else
        note "$package=$version is not in Debian's package lists; left as it is"
      fi
    fi
  fi
  args+=("$arg")
done
exec "$real" "${args[@]}"
