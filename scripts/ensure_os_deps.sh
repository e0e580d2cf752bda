#!/usr/bin/env bash
# Make sure the OS packages the test suite needs are present (Debian/Ubuntu).
# As root: installs what is missing with apt-get (one 'apt-get update', only if needed).
# Otherwise: prints what to install and exits 1.
#   redis-server   real Redis for integration tests (scripts/redis.sh)
#   postgresql-15  only if pg_ctl/initdb are neither on PATH nor under /usr/lib/postgresql/*/bin
#   make, python3-venv  only if missing (fresh CI machines)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)

have() { command -v "$1" >/dev/null 2>&1; }

have_postgres() {
  if have pg_ctl && have initdb; then return 0; fi
  local bin
  for bin in /usr/lib/postgresql/*/bin; do
    [[ -x "$bin/pg_ctl" && -x "$bin/initdb" ]] && return 0
  done
  return 1
}

have_venv() {
  # an existing project venv with pip is enough; otherwise check that python3 can make one
  if [[ -x "$root/.venv/bin/python" ]] && "$root/.venv/bin/python" -m pip --version >/dev/null 2>&1; then
    return 0
  fi
  have python3 || return 1
  local tmp rc=0
  tmp=$(mktemp -d)
  python3 -m venv "$tmp/v" >/dev/null 2>&1 || rc=1
  rm -rf "$tmp"
  return $rc
}

missing=()
have make || missing+=(make)
have_venv || missing+=(python3-venv)
have redis-server || missing+=(redis-server)
have_postgres || missing+=(postgresql-15)

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "ensure_os_deps: all OS dependencies present"
  exit 0
fi

if [[ $(id -u) -ne 0 ]] || ! have apt-get; then
  echo "ensure_os_deps: missing OS packages: ${missing[*]}" >&2
  echo "  install them with: sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  echo "  (or re-run this script as root on Debian/Ubuntu)" >&2
  exit 1
fi

echo "ensure_os_deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${missing[@]}"
