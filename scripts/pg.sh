#!/usr/bin/env bash
# Throwaway PostgreSQL 15 cluster for tests and local runs.
#
#   scripts/pg.sh start DIR   init + start a cluster for DIR on a free 127.0.0.1 port, create
#                             database "agentload", print its URL on stdout (also DIR/url).
#                             Running it again while the cluster is up just prints the URL.
#   scripts/pg.sh stop DIR    stop the cluster and delete DIR (no-op if DIR does not exist).
#   scripts/pg.sh url DIR     print the URL of a running cluster.
#
# Why a script and not a container: CI and dev boxes here have the server binaries but no
# Docker, and an initdb'd cluster with fsync off starts in about a second.
#
# PostgreSQL refuses to run as root, so when run as root the server runs as the existing
# "postgres" system user (or a system user "agentload", created on demand). If that user
# cannot reach DIR (e.g. it sits under a root-only 0700 pytest temp dir), the cluster lives in
# a private mktemp directory whose path is recorded in DIR/datadir.
#
# Environment: PG_BIN (directory of initdb/pg_ctl), PG_PORT (fixed port; default: a free one),
# PG_OS_USER (user to run the server as when root), PG_DB (default: agentload).
set -euo pipefail

die() { echo "pg.sh: error: $*" >&2; exit 2; }
log() { echo "pg.sh: $*" >&2; }

usage() { echo "usage: $0 start|stop|url DIR" >&2; exit 64; }
[[ $# -eq 2 ]] || usage
ACTION=$1
DIR=$2
DB=${PG_DB:-agentload}

find_bin() {
    if [[ -n "${PG_BIN:-}" ]]; then
        [[ -x "$PG_BIN/pg_ctl" && -x "$PG_BIN/initdb" ]] \
            || die "PG_BIN=$PG_BIN has no pg_ctl/initdb (install: apt-get install -y postgresql-15)"
        echo "$PG_BIN"; return
    fi
    local ctl
    if ctl=$(command -v pg_ctl) && command -v initdb >/dev/null; then
        dirname "$(readlink -f "$ctl")"; return
    fi
    local candidate
    for candidate in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin /usr/pgsql-15/bin /usr/local/pgsql/bin; do
        if [[ -x "$candidate/pg_ctl" && -x "$candidate/initdb" ]]; then echo "$candidate"; return; fi
    done
    die "PostgreSQL server binaries (initdb, pg_ctl) not found on PATH or in /usr/lib/postgresql/*/bin.
  Install them:  apt-get install -y postgresql-15   (or set PG_BIN=/path/to/postgresql/bin)"
}

# Pick the OS user the server runs as and how to run commands as that user.
RUN_AS=()
PG_USER=$(id -un)
choose_user() {
    [[ $EUID -eq 0 ]] || return 0
    local user=${PG_OS_USER:-}
    if [[ -z "$user" ]]; then
        if id postgres >/dev/null 2>&1; then user=postgres; else user=agentload; fi
    fi
    if ! id "$user" >/dev/null 2>&1; then
        command -v useradd >/dev/null || die "running as root and no user '$user'; create one or run as non-root"
        log "creating system user '$user' to run PostgreSQL (it refuses to run as root)"
        useradd --system --no-create-home --shell /usr/sbin/nologin "$user" 2>/dev/null || id "$user" >/dev/null 2>&1 \
            || die "could not create user '$user'"
    fi
    if command -v runuser >/dev/null; then
        RUN_AS=(runuser -u "$user" --)
    elif command -v setpriv >/dev/null; then
        RUN_AS=(setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups --)
    else
        die "running as root but neither runuser nor setpriv is available"
    fi
    PG_USER=$user
}

as_pg() { (cd / && "${RUN_AS[@]}" "$@"); }

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

free_port() {
    local port tries=0
    while (( tries++ < 200 )); do
        port=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
        port_in_use "$port" || { echo "$port"; return; }
    done
    die "no free port found"
}

datadir_of() { [[ -f "$DIR/datadir" ]] && cat "$DIR/datadir"; }

# pg_ctl thinks a postmaster is alive (may be fooled by an unreaped zombie)
cluster_alive() {
    local data=$1
    [[ -n "$data" && -f "$data/data/PG_VERSION" ]] || return 1
    as_pg "$BIN/pg_ctl" -D "$data/data" status >/dev/null 2>&1
}

# alive, and its recorded port really accepts connections
is_running() {
    local url port
    cluster_alive "$1" && [[ -f "$DIR/url" ]] || return 1
    url=$(cat "$DIR/url")
    port=${url##*:}
    port=${port%%/*}
    port_in_use "$port"
}

# Only ever delete what this script created: DIR/pg or one of its mktemp dirs.
safe_rm_base() {
    local base=$1
    [[ -n "$base" ]] || return 0
    case "$base" in
        "$DIR/pg" | */agentload-pg.*) rm -rf "$base" ;;
        *) log "not deleting unexpected data dir '$base'" ;;
    esac
}

# A directory the server user owns: DIR/pg when reachable by that user, else a private temp dir.
make_base() {
    local base="$DIR/pg"
    mkdir -p "$base"
    if [[ $EUID -eq 0 ]]; then
        chown "$PG_USER" "$base"; chmod 700 "$base"
        if ! as_pg test -w "$base" 2>/dev/null; then
            rm -rf "$base"
            base=$(mktemp -d "${TMPDIR:-/tmp}/agentload-pg.XXXXXX")
            chown "$PG_USER" "$base"; chmod 700 "$base"
        fi
    fi
    echo "$base"
}

start() {
    mkdir -p "$DIR"
    DIR=$(cd "$DIR" && pwd)
    local data
    data=$(datadir_of || true)
    if is_running "$data"; then
        cat "$DIR/url"; return 0
    fi
    if cluster_alive "$data"; then   # up but unusable: stop it before starting afresh
        as_pg "$BIN/pg_ctl" -D "$data/data" -m immediate -w -t 10 stop >/dev/null 2>&1 || true
    fi
    safe_rm_base "$data"   # stale cluster from a dead run: it is throwaway, start afresh
    rm -rf "$DIR/pg" "$DIR/url" "$DIR/datadir"

    data=$(make_base)
    echo "$data" >"$DIR/datadir"
    as_pg "$BIN/initdb" -D "$data/data" -U "$PG_USER" --auth=trust --encoding=UTF8 --locale=C \
        --no-sync >"$data/initdb.log" 2>&1 || { cat "$data/initdb.log" >&2; die "initdb failed"; }
    cat >>"$data/data/postgresql.conf" <<EOF
# throwaway test cluster: speed over durability
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 100
shared_buffers = 32MB
log_min_messages = warning
EOF
    local port attempt started=0
    for attempt in 1 2 3 4 5; do
        port=${PG_PORT:-$(free_port)}
        if as_pg "$BIN/pg_ctl" -D "$data/data" -l "$data/server.log" -o "-p $port" -w -t 60 start >/dev/null; then
            started=1; break
        fi
        [[ -n "${PG_PORT:-}" ]] && break   # a fixed port that failed will keep failing
        log "start on port $port failed (attempt $attempt), retrying on another port"
    done
    if (( ! started )); then
        tail -n 20 "$data/server.log" >&2 || true
        die "PostgreSQL did not start (log: $data/server.log)"
    fi
    as_pg "$BIN/createdb" -h 127.0.0.1 -p "$port" -U "$PG_USER" "$DB" \
        || die "createdb $DB failed"
    local url="postgresql://$PG_USER@127.0.0.1:$port/$DB"
    echo "$url" >"$DIR/url"
    echo "$url"
}

stop() {
    [[ -d "$DIR" ]] || return 0
    local data
    data=$(datadir_of || true)
    if cluster_alive "$data"; then
        as_pg "$BIN/pg_ctl" -D "$data/data" -m fast -w -t 60 stop >/dev/null 2>&1 \
            || as_pg "$BIN/pg_ctl" -D "$data/data" -m immediate -w -t 10 stop >/dev/null 2>&1 || true
    fi
    safe_rm_base "$data"
    rm -rf "$DIR"
}

# stopping something that is not there needs no binaries: always succeed
[[ "$ACTION" == stop && ! -d "$DIR" ]] && exit 0
BIN=$(find_bin)
choose_user
case "$ACTION" in
    start) start ;;
    stop) stop ;;
    url) [[ -f "$DIR/url" ]] && is_running "$(datadir_of || true)" && cat "$DIR/url" || die "no cluster running in $DIR" ;;
    *) usage ;;
esac
