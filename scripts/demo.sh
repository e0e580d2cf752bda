#!/usr/bin/env bash
# make demo: the whole system on this machine, end to end, then everything stopped again.
# Starts Redis (free loopback port), migrates the SQLite database, starts a Celery worker,
# Celery beat and the API, preloads the bundled BMad catalog through the worker, calls the
# API, evaluates the scenario suites, runs a benchmark and a short load test as Celery jobs,
# writes the HTML report and prints a summary. Every process it started is stopped on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
VENV="$ROOT/.venv"
PY="$VENV/bin/python"
RUN="$ROOT/var/demo"
SCEN="${AGENTLOAD_SCENARIOS:-$ROOT/../shared/scenarios}"
[[ -d "$SCEN" ]] || SCEN="$ROOT/data/scenarios"  # the bundled copy
REPORT="$ROOT/reports/agentload-report.html"
PIDS=()

log() { printf '\033[1m==> %s\033[0m\n' "$*"; }

cleanup() {
  local code=$?
  log "stopping demo processes"
  for pid in "${PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
    # celery prefork children belong to the same process group
    pkill -KILL -g "$pid" 2>/dev/null || true
  done
  bash "$ROOT/scripts/redis.sh" stop "$RUN/redis" >/dev/null 2>&1 || true
  local left
  left=$(pgrep -af "$RUN" || true)
  if [[ -n "$left" ]]; then echo "warning: still running:"; echo "$left"; else echo "no demo process left running"; fi
  exit "$code"
}
trap cleanup EXIT INT TERM

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_bg() {  # name, command...: own process group so the whole tree can be stopped
  local name=$1; shift
  setsid "$@" >"$RUN/$name.log" 2>&1 &
  PIDS+=("$!")
}

rm -rf "$RUN" && mkdir -p "$RUN" "$ROOT/reports"
log "redis"
REDIS_URL=$(bash scripts/redis.sh start "$RUN/redis" | tail -n1)
API_PORT=$(free_port)
export AGENTLOAD_ENV=development
export AGENTLOAD_REDIS_URL="$REDIS_URL"
export AGENTLOAD_DATABASE_URL="sqlite:///$RUN/agentload.db"
export AGENTLOAD_API_BASE_URL="http://127.0.0.1:$API_PORT"
export AGENTLOAD_REFRESH_INTERVAL_S=10
echo "redis: $REDIS_URL   database: $AGENTLOAD_DATABASE_URL   api: $AGENTLOAD_API_BASE_URL"

log "database migrations"
"$PY" -m models.migrate upgrade

log "worker, beat and API"
start_bg worker "$VENV/bin/celery" -A workers.app worker -Q default,catalog,long -c 2 -l info \
  --without-gossip --without-mingle -n "demo@%h"
# database writes on their own worker: a slow or hung database never delays selections
start_bg worker-metrics "$VENV/bin/celery" -A workers.app worker -Q metrics -c 1 -l info \
  --without-gossip --without-mingle -n "demo-metrics@%h"
start_bg beat "$VENV/bin/celery" -A workers.app beat -l info -s "$RUN/celerybeat-schedule" --pidfile "$RUN/beat.pid"
start_bg api "$PY" -m agentload.api.serve --host 127.0.0.1 --port "$API_PORT" --log-level warning

log "driving the demo (preload, API call, evaluation, benchmark, load test, report)"
"$VENV/bin/agentload" demo --api "$AGENTLOAD_API_BASE_URL" --scenarios "$SCEN" --report "$REPORT" \
  --logs "$RUN"
