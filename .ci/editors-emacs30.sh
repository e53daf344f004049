#!/usr/bin/env bash
# Installs Emacs 30.1 (which bundles eglot 1.17 and jsonrpc 1.0.25) from bookworm-backports into
# /opt/emacs30, beside the system's Emacs 28, for test/editors/emacs.test.ts. The .debs are
# unpacked with dpkg -x rather than installed, so the system Emacs and apt's state stay as they
# are; apt reads a private sources list and package lists kept in a temporary folder.
# Idempotent: a working /opt/emacs30/bin/emacs is left alone. Needs root and Debian's mirror.
set -euo pipefail
PREFIX=/opt/emacs30
WRAPPER="$PREFIX/bin/emacs"
started=$(date +%s)

if [ -x "$WRAPPER" ] && "$WRAPPER" --batch -Q --eval '(princ emacs-version)' 2>/dev/null | grep -q '^30\.'; then
  echo "editors-emacs30: already installed ($("$WRAPPER" --version | head -1))"
  exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
if ! command -v apt-get >/dev/null || { [ -n "$SUDO" ] && ! sudo -n true 2>/dev/null; }; then
  echo "editors-emacs30: needs apt-get and root; the Emacs 30 tests need $WRAPPER (see this script)" >&2
  exit 0
fi

work=$(mktemp -d)
trap '$SUDO rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/debs"
cat >"$work/sources.list" <<'EOF'
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm-backports main
EOF
apt_opts=(-o "Dir::Etc::sourcelist=$work/sources.list" -o Dir::Etc::sourceparts=- -o "Dir::State::Lists=$work/lists"
  -o "Dir::Cache=$work/cache" -o APT::Sandbox::User=root)
$SUDO apt-get "${apt_opts[@]}" update -qq
(cd "$work/debs" && $SUDO apt-get "${apt_opts[@]}" download -qq \
  emacs-nox/bookworm-backports emacs-bin-common/bookworm-backports emacs-common/bookworm-backports)

$SUDO rm -rf "$PREFIX"
$SUDO mkdir -p "$PREFIX/bin"
for deb in "$work"/debs/*.deb; do $SUDO dpkg -x "$deb" "$PREFIX"; done
# The libraries emacs-nox links against (libgccjit0, libtree-sitter0…) are in bookworm main and
# mostly present already (Emacs 28 and Neovim from .ci/editors.sh); install any that are missing.
if ldd "$PREFIX/usr/bin/emacs-nox" | grep -q 'not found'; then
  deps=$(dpkg-deb -f "$work"/debs/emacs-nox_*.deb Depends | tr ',' '\n' | sed 's/(.*)//; s/|.*//; s/ //g' | grep -v '^emacs-')
  $SUDO apt-get update -qq
  # shellcheck disable=SC2086
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends --no-upgrade $deps >/dev/null
fi
if ldd "$PREFIX/usr/bin/emacs-nox" | grep 'not found' >&2; then
  echo "editors-emacs30: libraries still missing (above)" >&2
  exit 1
fi

root="$PREFIX/usr"
version=$(ls "$root/share/emacs" | grep '^30\.' | head -1)
dump=$(ls "$root/libexec/emacs/$version"/*/emacs-*.pdmp | head -1)
# Emacs looks for its Lisp, data and dump files under /usr; the wrapper points it at the copy.
$SUDO tee "$WRAPPER" >/dev/null <<EOF
#!/bin/sh
# Emacs $version unpacked from bookworm-backports by .ci/editors-emacs30.sh.
export EMACSDATA="$root/share/emacs/$version/etc"
export EMACSDOC="$root/share/emacs/$version/etc"
export EMACSPATH="$(dirname "$dump")"
export EMACSLOADPATH="$root/share/emacs/$version/lisp:$root/share/emacs/$version/site-lisp"
exec "$root/bin/emacs-nox" --dump-file="$dump" "\$@"
EOF
$SUDO chmod +x "$WRAPPER"
"$WRAPPER" --batch -Q --eval '(progn (require (quote eglot)) (princ (format "emacs %s, eglot %s\n" emacs-version (cdr (assq (quote eglot) package--builtin-versions)))))'
echo "editors-emacs30: installed into $PREFIX in $(($(date +%s) - started)) s"
