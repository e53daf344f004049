#!/usr/bin/env bash
# Installs the real editors the editor-client tests drive headless (see ../shared/NOTES.md):
# Neovim 0.7.2, Emacs 28 with eglot 1.9; and strace + iproute2 for the privacy test, which runs
# the server in a loopback-only network namespace. Needs root and Debian's package mirror.
set -euo pipefail
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
if ! command -v apt-get >/dev/null || { [ -n "$SUDO" ] && ! sudo -n true 2>/dev/null; }; then
  echo "editors.sh: needs apt-get and root; install neovim, emacs-nox, elpa-eglot, strace and iproute2 yourself" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends neovim emacs-nox elpa-eglot strace iproute2 >/dev/null
echo "editors: $(nvim --version | head -1), $(emacs --version | head -1); $(strace -V | head -1)"
