#!/usr/bin/env bash
# Installs the real editors the editor-client tests drive headless (see ../shared/NOTES.md):
# Neovim 0.7.2, Emacs 28 with eglot 1.9. Needs root and Debian's package mirror.
set -euo pipefail
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
if ! command -v apt-get >/dev/null || { [ -n "$SUDO" ] && ! sudo -n true 2>/dev/null; }; then
  echo "editors.sh: needs apt-get and root; install neovim, emacs-nox and elpa-eglot yourself" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends neovim emacs-nox elpa-eglot >/dev/null
echo "editors: $(nvim --version | head -1), $(emacs --version | head -1)"
