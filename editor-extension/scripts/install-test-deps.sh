#!/usr/bin/env bash
# Installs what the extension's end-to-end test needs, outside the repository, under
# ${BATON_CACHE_DIR:-$HOME/.cache/baton}:
#   node24/       Node.js 24 (npm package node-linux-<arch>), which code-server needs
#   code-server/  VS Code served to a browser (npm package code-server)
# and, from Debian, chromium (driven by Playwright) and libkrb5-dev (code-server's
# native modules build against it). Idempotent: what is there already is kept, so a
# second run returns at once.
set -euo pipefail

CACHE_DIR="${BATON_CACHE_DIR:-$HOME/.cache/baton}"
NODE24_DIR="$CACHE_DIR/node24"
CODE_SERVER_DIR="$CACHE_DIR/code-server"
CODE_SERVER_VERSION="${CODE_SERVER_VERSION:-4.139.1}"

case "$(uname -m)" in
  x86_64 | amd64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) echo "install-test-deps: no Node.js 24 package for $(uname -m)" >&2; exit 1 ;;
esac

say() { echo "install-test-deps: $*"; }

# Debian packages: chromium for the browser, libkrb5-dev for code-server's build.
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
dpkg -s libkrb5-dev >/dev/null 2>&1 || missing+=(libkrb5-dev)
if [ ${#missing[@]} -gt 0 ]; then
  say "apt-get install ${missing[*]}"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Node.js 24, with a stable path: node24/current -> the package.
node24="$NODE24_DIR/current"
if ! "$node24/bin/node" --version 2>/dev/null | grep -q '^v24\.'; then
  say "node-linux-$arch@24 into $NODE24_DIR"
  mkdir -p "$NODE24_DIR"
  npm install --no-audit --no-fund --loglevel=error --prefix "$NODE24_DIR" "node-linux-$arch@24"
  ln -sfn "node_modules/node-linux-$arch" "$node24"
fi
node_version="$("$node24/bin/node" --version)"

# code-server, built with Node.js 24: its postinstall compiles native modules, which
# needs that Node's headers (npm_config_nodedir) and an npm user agent naming it.
stamp="$CODE_SERVER_DIR/.installed-$CODE_SERVER_VERSION-$node_version"
if [ ! -f "$stamp" ] || [ ! -x "$CODE_SERVER_DIR/node_modules/.bin/code-server" ]; then
  say "code-server@$CODE_SERVER_VERSION into $CODE_SERVER_DIR (a few minutes)"
  mkdir -p "$CODE_SERVER_DIR"
  # Start clean: a half-finished install would otherwise count as up to date.
  rm -rf "$CODE_SERVER_DIR/node_modules" "$CODE_SERVER_DIR"/.installed-*
  PATH="$node24/bin:$PATH" \
    npm_config_nodedir="$(cd "$node24" && pwd -P)" \
    npm_config_user_agent="npm/11 node/$node_version linux $arch" \
    npm install --no-audit --no-fund --loglevel=error --prefix "$CODE_SERVER_DIR" "code-server@$CODE_SERVER_VERSION"
  touch "$stamp"
fi

say "ready: node $node_version, code-server $CODE_SERVER_VERSION, $(/usr/bin/chromium --version 2>/dev/null | head -1)"
