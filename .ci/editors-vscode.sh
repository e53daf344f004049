#!/usr/bin/env bash
# Installs a real VS Code for test/editors/vscode.test.ts: code-server 4.100.3 (VS Code 1.100.3,
# the last code-server release that accepts Node 20) into .cache/code-server, plus the headless
# Debian chromium that opens its workbench (the extension host only starts once a browser connects).
# See ../shared/NOTES.md, "Real editors". Idempotent: a finished install is kept.
#
# Environment: CODE_SERVER_PREFIX overrides the install folder; NPM_CACHE_DIR points npm at another
# cache folder (used to measure a cold install without touching the default cache).
set -euo pipefail
cd "$(dirname "$0")/.."

version=4.100.3
prefix="${CODE_SERVER_PREFIX:-$PWD/.cache/code-server}"
marker="$prefix/.installed-$version"
start=$(date +%s)

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  # kerberos (a VS Code native module) compiles against libkrb5; ripgrep replaces the download.
  if ! dpkg -s chromium libkrb5-dev ripgrep >/dev/null 2>&1; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends chromium libkrb5-dev ripgrep >/dev/null
  fi
else
  echo "editors-vscode.sh: not root or no apt-get; install chromium, libkrb5-dev and ripgrep yourself" >&2
fi

# `code-server --version` writes a default config into ~/.config; a throwaway XDG home keeps it out.
check_version() {
  local xdg
  xdg=$(mktemp -d)
  XDG_CONFIG_HOME="$xdg" XDG_DATA_HOME="$xdg" "$sysnode" "$prefix/node_modules/code-server/out/node/entry.js" --version
  rm -rf "$xdg"
}

# code-server's postinstall refuses any Node but 20, so it must run on the system Node, never on
# the project's Node 24 from node_modules/.bin (which `npm run` would put first on PATH).
sysnode=$(PATH=/usr/local/bin:/usr/bin:/bin command -v node)
sysnpm=$(PATH=/usr/local/bin:/usr/bin:/bin command -v npm)

if [ -f "$marker" ] && check_version >/dev/null 2>&1; then
  echo "code-server $version already installed in $prefix"
  exit 0
fi

if [ "$("$sysnode" -p 'process.versions.node.split(".")[0]')" != 20 ]; then
  echo "editors-vscode.sh: code-server $version needs Node 20, found $("$sysnode" --version)" >&2
  exit 1
fi
rg=$(command -v rg) || { echo "editors-vscode.sh: ripgrep (rg) is missing" >&2; exit 1; }
command -v chromium >/dev/null || { echo "editors-vscode.sh: chromium is missing" >&2; exit 1; }
# The native modules (node-pty, kerberos, spdlog, ...) build with node-gyp against the system
# Node's own headers; without them node-gyp would download headers, which fails offline.
nodedir=$(dirname "$(dirname "$sysnode")")
[ -f "$nodedir/include/node/node_version.h" ] || { echo "editors-vscode.sh: no Node headers in $nodedir/include/node" >&2; exit 1; }

# Staged outside the checkout: npm puts node_modules/.bin of every ancestor folder on the PATH of
# install scripts, and the checkout's one holds Node 24, which code-server's nested installs must not
# use. Not --global/--prefix either: npm exports those to the nested `npm install` in lib/vscode,
# which would then install lib/vscode itself over the package.
stage=$(mktemp -d "${TMPDIR:-/tmp}/ifai-code-server.XXXXXX")
trap 'rm -rf "$stage"' EXIT
echo '{ "private": true }' >"$stage/package.json"

# @vscode/ripgrep's postinstall downloads a prebuilt rg from GitHub, which is unreachable here. It
# first looks in os.tmpdir()/vscode-ripgrep-cache-<package version>/ for the release asset, so a
# tarball of Debian's rg under those names (pinned by code-server 4.100.3's shrinkwrap) satisfies it.
mkdir -p "$stage/tmp/vscode-ripgrep-cache-1.15.11" "$stage/tmp/rg"
cp "$rg" "$stage/tmp/rg/rg"
tar czf "$stage/tmp/vscode-ripgrep-cache-1.15.11/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz" \
  -C "$stage/tmp/rg" rg

cache_args=()
if [ -n "${NPM_CACHE_DIR:-}" ]; then
  cache_args=(--cache "$NPM_CACHE_DIR")
  export npm_config_cache="$NPM_CACHE_DIR"
fi
# As root, code-server's postinstall insists on unsafe-perm (it runs nested npm installs).
# node-pty's postinstall runs `npx node-gyp`, which needs npx's yes (an npmrc with yes=false
# would cancel it).
(cd "$stage" && PATH="$(dirname "$sysnode"):$PATH" TMPDIR="$stage/tmp" npm_config_unsafe_perm=true \
  npm_config_nodedir="$nodedir" npm_config_yes=true "$sysnpm" install "${cache_args[@]}" --no-audit --no-fund --loglevel=error \
  "code-server@$version")
rm -rf "$stage/tmp" "$prefix"
mkdir -p "$(dirname "$prefix")"
mv "$stage" "$prefix"
ln -sfn node_modules/.bin "$prefix/bin"
check_version >/dev/null
touch "$marker"
echo "code-server $version installed in $prefix in $(($(date +%s) - start)) s; $(chromium --version 2>/dev/null)"
