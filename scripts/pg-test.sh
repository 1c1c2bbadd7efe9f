#!/usr/bin/env bash
# pg-test.sh — a throwaway PostgreSQL for tests. Prints a DSN on stdout (nothing else goes to stdout).
#
#   scripts/pg-test.sh          ensure the cluster runs, print its DSN
#   scripts/pg-test.sh stop     stop the private cluster if it runs
#   scripts/pg-test.sh status   exit 0 if the private cluster runs
#
# If MCPWARDEN_TEST_POSTGRES_DSN is set, `ensure` just prints it and touches nothing. Otherwise it runs a
# private cluster (initdb/pg_ctl from Debian's /usr/lib/postgresql/*/bin; apt-get installs them if missing)
# in .cache/pg with its socket there, listening on 127.0.0.1 on a free port, trust auth, fsync off. As root
# the server runs as the `postgres` user (or `nobody`), since PostgreSQL refuses to run as root. It never
# touches the machine's own server on port 5432.
#
# The DSN names database mcpwarden_test owned by superuser mcpwarden; tests that want isolation create
# their own databases through it (internal/testenv.PostgresDSN does).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
base="$root/.cache/pg"
cmd=${1:-ensure}

log() { printf 'pg-test: %s\n' "$*" >&2; }
die() { printf 'pg-test: error: %s\n' "$*" >&2; exit 1; }

if [ "$cmd" = ensure ] && [ -n "${MCPWARDEN_TEST_POSTGRES_DSN:-}" ]; then
  printf '%s\n' "$MCPWARDEN_TEST_POSTGRES_DSN"
  exit 0
fi

find_bindir() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then printf '%s' "$d"; return 0; fi
  done
  return 1
}

bindir=$(find_bindir || true)
if [ -z "$bindir" ]; then
  [ "$cmd" = ensure ] || exit 1
  [ "$(id -u)" = 0 ] || die "PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin; install them
  (sudo apt-get install -y postgresql) or set MCPWARDEN_TEST_POSTGRES_DSN to a server you own"
  log "PostgreSQL binaries missing; installing Debian's postgresql package"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 || die "apt-get update failed; install postgresql by hand or set MCPWARDEN_TEST_POSTGRES_DSN"
  apt-get install -y -qq --no-install-recommends postgresql >&2 \
    || die "apt-get install postgresql failed; install it by hand or set MCPWARDEN_TEST_POSTGRES_DSN"
  bindir=$(find_bindir) || die "postgresql installed but no initdb/pg_ctl under /usr/lib/postgresql/*/bin"
fi

# The server cannot run as root: pick an unprivileged owner when we are root.
run_as=()
owner=$(id -un)
if [ "$(id -u)" = 0 ]; then
  if id -u postgres >/dev/null 2>&1; then owner=postgres; else owner=nobody; fi
  run_as=(runuser -u "$owner" --)
fi

# The owner must be able to reach .cache/pg, and a Unix socket path must stay under ~100 bytes; if
# either fails (a deep or private checkout), the cluster lives in a per-checkout folder under /tmp.
mkdir -p "$base"
if [ "${#run_as[@]}" -gt 0 ] && ! "${run_as[@]}" test -x "$base" 2>/dev/null || [ ${#base} -gt 80 ]; then
  base="/tmp/mcpwarden-pg-$(printf '%s' "$root" | cksum | cut -d' ' -f1)"
  mkdir -p "$base"
fi
data="$base/data"
sock="$base/sock"
portfile="$base/port"
logfile="$base/server.log"

# fd 9 (the lock) is closed for pg_ctl so the server it starts does not hold the lock for its lifetime.
pgctl() { "${run_as[@]}" "$bindir/pg_ctl" -D "$data" "$@" 9>&-; }
running() { [ -f "$data/PG_VERSION" ] && pgctl status >/dev/null 2>&1; }
dsn() { printf 'postgres://mcpwarden@127.0.0.1:%s/mcpwarden_test?sslmode=disable\n' "$(cat "$portfile")"; }

# One caller at a time: parallel test runs share the cluster.
exec 9>"$base/lock"
flock -w 120 9 || die "timed out waiting for the lock $base/lock held by another pg-test.sh"

case "$cmd" in
  stop)
    if running; then pgctl stop -m fast -w >/dev/null && log "stopped cluster in $data"; fi
    exit 0 ;;
  status)
    running && { dsn; exit 0; }
    exit 1 ;;
  ensure) ;;
  *) die "unknown command '$cmd'; use: pg-test.sh [ensure|stop|status]" ;;
esac

if running; then dsn; exit 0; fi

if [ ! -f "$data/PG_VERSION" ]; then
  log "initdb in $data ($bindir)"
  rm -rf "$data"
  mkdir -p "$data" "$sock"
  [ "${#run_as[@]}" -eq 0 ] || chown "$owner" "$base" "$data" "$sock"
  chmod 700 "$data"
  "${run_as[@]}" "$bindir/initdb" -D "$data" -U mcpwarden --auth=trust --encoding=UTF8 --no-locale \
    >"$base/initdb.log" 2>&1 || { cat "$base/initdb.log" >&2; die "initdb failed (log above)"; }
  cat >>"$data/postgresql.conf" <<CONF
# pg-test.sh: a throwaway test cluster
listen_addresses = '127.0.0.1'
unix_socket_directories = '$sock'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
CONF
fi
[ "${#run_as[@]}" -eq 0 ] || chown "$owner" "$base" "$sock"
touch "$logfile"
[ "${#run_as[@]}" -eq 0 ] || chown "$owner" "$logfile"

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

started=false
for attempt in 1 2 3 4 5; do
  port=$(( 20000 + (RANDOM * 32768 + RANDOM) % 30000 ))
  port_in_use "$port" && continue
  # -k: the socket folder as it is reached now (the one written at initdb may name a moved or removed
  # checkout, e.g. a git worktree whose .cache was a link to this one).
  if pgctl -l "$logfile" -o "-p $port -k $sock" -w -t 30 start >/dev/null 2>&1; then
    echo "$port" >"$portfile"
    started=true
    break
  fi
  log "start on port $port failed (attempt $attempt); retrying on another port"
done
$started || { tail -n 30 "$logfile" >&2; die "could not start PostgreSQL (server log above, full log $logfile)"; }

# The database the DSN names.
if ! "$bindir/psql" -h 127.0.0.1 -p "$port" -U mcpwarden -d postgres -tAc \
     "SELECT 1 FROM pg_database WHERE datname='mcpwarden_test'" | grep -q 1; then
  "$bindir/psql" -q -h 127.0.0.1 -p "$port" -U mcpwarden -d postgres -c "CREATE DATABASE mcpwarden_test" >&2 \
    || die "could not create database mcpwarden_test (see $logfile)"
fi
log "PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') running on 127.0.0.1:$port (data $data)"
dsn
