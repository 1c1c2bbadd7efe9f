#!/usr/bin/env bash
# test.sh — THE test command for mcpwarden. Works on a fresh clone: it installs what the tests need under
# .cache/ (scripts/setup-deps.sh), starts a throwaway PostgreSQL (scripts/pg-test.sh), then runs
#   1. gofmt check        (fails listing the unformatted files)
#   2. go vet ./...
#   3. staticcheck ./...  (pinned in scripts/setup-deps.sh)
#   4. go test -race -timeout 25m ./...   (through gotestsum, which prints failures with their output)
#   5. bench smoke (scripts/bench-smoke.sh): a small `mcpwarden bench` run that prints the gateway's
#      ratios against a direct connection; no timing assertions (full runs only)
# and prints a summary. Exits non-zero if any step failed.
#
#   ./scripts/test.sh                          everything
#   ./scripts/test.sh -run TestX ./internal/foo   extra args go to `go test`; with no package given, ./...
#   MCPWARDEN_TEST_LINT=0 ./scripts/test.sh ...   skip steps 1-3 (quick iteration on one package)
#   MCPWARDEN_TEST_BENCH=0 ./scripts/test.sh      skip step 5
#
# Environment: MCPWARDEN_TEST_POSTGRES_DSN (use that server instead of a private one); everything else it
# exports for the tests (MCPWARDEN_NODE, MCPWARDEN_CONFORMANCE_*, MCPWARDEN_EVERYTHING_SERVER,
# MCPWARDEN_SERVER_EVERYTHING_NPM) comes from .cache/env.sh. Test logs: .cache/test-results.jsonl.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 2
export PATH="$PATH:/usr/local/go/bin"
command -v go >/dev/null 2>&1 || { echo "test.sh: error: go is not on PATH; install Go 1.26" >&2; exit 2; }

say() { printf '\n==> %s\n' "$*"; }
now() { date +%s; }

steps=()     # "name|status|seconds"
failed=0
record() { steps+=("$1|$2|$3"); [ "$2" = ok ] || [ "$2" = skipped ] || failed=1; }

t_all=$(now)

# 0. Dependencies and the test database.
say "setup: dependencies (scripts/setup-deps.sh)"
t=$(now)
if ! scripts/setup-deps.sh; then
  record setup-deps FAIL $(( $(now) - t ))
  echo "test.sh: error: scripts/setup-deps.sh failed (see above); fix that first, nothing else was run" >&2
  exit 1
fi
# shellcheck source=/dev/null
source .cache/env.sh
record setup-deps ok $(( $(now) - t ))

say "setup: PostgreSQL for tests (scripts/pg-test.sh)"
t=$(now)
pg_started=false
if [ -z "${MCPWARDEN_TEST_POSTGRES_DSN:-}" ] && ! scripts/pg-test.sh status >/dev/null 2>&1; then
  pg_started=true
fi
if dsn=$(scripts/pg-test.sh); then
  export MCPWARDEN_TEST_POSTGRES_DSN="$dsn"
  echo "MCPWARDEN_TEST_POSTGRES_DSN=$dsn"
  record postgres ok $(( $(now) - t ))
else
  record postgres FAIL $(( $(now) - t ))
  echo "test.sh: error: no PostgreSQL for tests; see the message above (or set MCPWARDEN_TEST_POSTGRES_DSN)" >&2
  pg_started=false
fi
# Stop the cluster on the way out only if this run started it (a developer's running one is left alone).
cleanup() { if $pg_started; then scripts/pg-test.sh stop >/dev/null 2>&1 || true; fi; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# Split args: package patterns vs flags for go test.
test_args=("$@")
have_pkg=false
for a in "$@"; do
  case "$a" in ./*|../*|.|github.com/mcpwarden/*) have_pkg=true ;; esac
done
$have_pkg || test_args+=(./...)

if [ "${MCPWARDEN_TEST_LINT:-1}" = 0 ]; then
  record gofmt skipped 0; record "go vet" skipped 0; record staticcheck skipped 0
else
  say "gofmt -l"
  t=$(now)
  mapfile -t gofiles < <(git ls-files -co --exclude-standard -- '*.go' 2>/dev/null || find . -name '*.go' -not -path './.cache/*')
  existing=()
  for f in "${gofiles[@]}"; do [ -f "$f" ] && existing+=("$f"); done
  unformatted=""
  if [ "${#existing[@]}" -gt 0 ]; then unformatted=$(gofmt -l "${existing[@]}" 2>&1); fi
  if [ -n "$unformatted" ]; then
    echo "these files need gofmt (run: gofmt -w FILE):"
    printf '  %s\n' $unformatted
    record gofmt FAIL $(( $(now) - t ))
  else
    echo "all ${#existing[@]} Go files formatted"
    record gofmt ok $(( $(now) - t ))
  fi

  say "go vet ./..."
  t=$(now)
  if go vet ./...; then record "go vet" ok $(( $(now) - t )); else record "go vet" FAIL $(( $(now) - t )); fi

  say "staticcheck ./..."
  t=$(now)
  if "$MCPWARDEN_TOOLS_BIN/staticcheck" ./...; then
    record staticcheck ok $(( $(now) - t ))
  else
    record staticcheck FAIL $(( $(now) - t ))
  fi
fi

say "go test -race -timeout 25m ${test_args[*]}"
t=$(now)
jsonfile=.cache/test-results.jsonl
if "$MCPWARDEN_TOOLS_BIN/gotestsum" --format pkgname-and-test-fails --jsonfile "$jsonfile" \
     -- -race -timeout 25m "${test_args[@]}"; then
  record "go test" ok $(( $(now) - t ))
else
  record "go test" FAIL $(( $(now) - t ))
fi

# 5. The bench smoke run: only on full runs (no arguments), since it measures the whole gateway.
if [ "$#" -eq 0 ] && [ "${MCPWARDEN_TEST_BENCH:-1}" != 0 ]; then
  say "bench smoke (scripts/bench-smoke.sh)"
  t=$(now)
  if scripts/bench-smoke.sh; then record "bench smoke" ok $(( $(now) - t )); else record "bench smoke" FAIL $(( $(now) - t )); fi
else
  record "bench smoke" skipped 0
fi

# Counts of tests (subtests included) from the JSON event stream.
count() { grep -c "\"Action\":\"$1\",\"Package\":\"[^\"]*\",\"Test\":" "$jsonfile" 2>/dev/null || true; }
n_pass=$(count pass); n_fail=$(count fail); n_skip=$(count skip)

echo
echo "==================== summary ===================="
for s in "${steps[@]}"; do
  IFS='|' read -r name status secs <<<"$s"
  printf '  %-12s %-8s %4ss\n' "$name" "$status" "$secs"
done
printf '  %-12s          %4ss\n' total $(( $(now) - t_all ))
if [ "$failed" = 0 ]; then echo "RESULT: all steps passed"; else echo "RESULT: FAILED (see the steps marked FAIL above)"; fi
echo "tests: ${n_pass:-0} passed, ${n_fail:-0} failed, ${n_skip:-0} skipped"
exit "$failed"
