#!/usr/bin/env bash
# Throw-away Redis for tests and local runs: free port on 127.0.0.1, no persistence.
#   scripts/redis.sh start DIR   -> prints redis://127.0.0.1:PORT/0 (also written to DIR/url)
#   scripts/redis.sh stop DIR    -> shuts it down and removes DIR
set -euo pipefail

usage() { echo "usage: $0 start|stop DIR" >&2; exit 2; }
die() { echo "redis.sh: $*" >&2; exit 1; }

[[ $# -eq 2 ]] || usage
cmd=$1
dir=$2

require() {
  command -v redis-server >/dev/null 2>&1 || die "redis-server not found on PATH.
  Install it: sudo apt-get install -y redis-server   (Debian/Ubuntu; or run 'make deps')
              brew install redis                      (macOS)"
  command -v redis-cli >/dev/null 2>&1 || die "redis-cli not found (Debian: apt-get install -y redis-tools)"
}

free_port() {
  python3 - <<'PY'
import socket
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])
PY
}

answers() { [[ "$(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" == "PONG" ]]; }

start() {
  require
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  if [[ -f "$dir/port" ]] && answers "$(cat "$dir/port")"; then
    die "a redis started from $dir is already running on port $(cat "$dir/port")"
  fi
  local attempt port
  for attempt in 1 2 3 4 5; do
    port=$(free_port)
    rm -f "$dir/redis.pid"
    # another process may grab the port between free_port and bind: retry with a new one
    if redis-server --bind 127.0.0.1 --port "$port" --daemonize yes \
        --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --dir "$dir" \
        --save '' --appendonly no >/dev/null; then
      local i
      for i in $(seq 1 100); do
        if answers "$port"; then
          echo "$port" >"$dir/port"
          echo "redis://127.0.0.1:$port/0" | tee "$dir/url"
          return 0
        fi
        sleep 0.1
      done
    fi
    [[ -f "$dir/redis.pid" ]] && kill "$(cat "$dir/redis.pid")" 2>/dev/null || true
    echo "redis.sh: attempt $attempt on port $port failed, retrying" >&2
  done
  tail -n 20 "$dir/redis.log" >&2 2>/dev/null || true
  die "redis-server did not answer PING (log: $dir/redis.log)"
}

stop() {
  [[ -d "$dir" ]] || return 0
  local pid=""
  [[ -f "$dir/redis.pid" ]] && pid=$(cat "$dir/redis.pid")
  if [[ -f "$dir/port" ]]; then
    redis-cli -h 127.0.0.1 -p "$(cat "$dir/port")" shutdown nosave >/dev/null 2>&1 || true
  fi
  if [[ -n "$pid" ]]; then
    local i
    for i in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      kill -9 "$pid" 2>/dev/null || true
    fi
  fi
  rm -rf "$dir"
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  *) usage ;;
esac
