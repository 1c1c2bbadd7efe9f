#!/usr/bin/env bash
# bench-smoke.sh — a small `mcpwarden bench` run, HTTP→HTTP with the default protection, that prints the
# gateway's added latency and throughput as ratios against a direct connection measured in the same run.
# It asserts nothing about timing (shared CI machines are too noisy for that); it fails only when the run
# cannot be made or a call fails. scripts/test.sh runs it after the tests; by hand:
#
#   scripts/bench-smoke.sh            (needs .cache/env.sh from scripts/setup-deps.sh)
#   SESSIONS=16 CALLS=400 scripts/bench-smoke.sh
#
# The upstream is the go-sdk conformance everything-server ($MCPWARDEN_EVERYTHING_SERVER) on a free
# loopback port; the gateway is started by `mcpwarden bench --serve-config` with a throwaway data_dir.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=/dev/null
[ -n "${MCPWARDEN_EVERYTHING_SERVER:-}" ] || source .cache/env.sh
server=${MCPWARDEN_EVERYTHING_SERVER:?"bench-smoke: MCPWARDEN_EVERYTHING_SERVER is not set; run scripts/setup-deps.sh first"}
sessions=${SESSIONS:-4}
calls=${CALLS:-100}

work=$(mktemp -d "${TMPDIR:-/tmp}/mcpwarden-bench-smoke.XXXXXX")
upstream_pid=""
cleanup() {
  if [ -n "$upstream_pid" ]; then kill "$upstream_pid" 2>/dev/null || true; wait "$upstream_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "bench-smoke: building mcpwarden"
go build -o "$work/mcpwarden" ./cmd/mcpwarden   # the flags the tests build with: the build cache serves it

# listening reports whether something accepts connections on 127.0.0.1:$1 (bash's /dev/tcp).
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Start the upstream on a free port: pick one nobody listens on, start, wait for it; retry on a lost race.
port=""
for _ in 1 2 3 4 5; do
  p=$(( 20000 + RANDOM % 30000 ))
  listening "$p" && continue
  "$server" -http "127.0.0.1:$p" >"$work/upstream.log" 2>&1 &
  upstream_pid=$!
  for _ in $(seq 1 100); do
    if listening "$p"; then port=$p; break; fi
    kill -0 "$upstream_pid" 2>/dev/null || break
    sleep 0.05
  done
  [ -n "$port" ] && break
  kill "$upstream_pid" 2>/dev/null || true; wait "$upstream_pid" 2>/dev/null || true; upstream_pid=""
done
if [ -z "$port" ]; then
  echo "bench-smoke: error: the everything-server did not start listening; its log:" >&2
  cat "$work/upstream.log" >&2 || true
  exit 1
fi

cat >"$work/mcpwarden.yaml" <<EOF
listen: 127.0.0.1:0
data_dir: $work/data
servers:
  - name: everything
    url: http://127.0.0.1:$port/mcp
EOF

echo "bench-smoke: $sessions sessions × $calls calls, through the gateway (default policy, audit, detectors) and direct, interleaved"
"$work/mcpwarden" bench --serve-config "$work/mcpwarden.yaml" --url /mcp/everything \
  --compare "http://127.0.0.1:$port/mcp" --protocol-version 2025-11-25 \
  --sessions "$sessions" --calls "$calls" --rounds 4
