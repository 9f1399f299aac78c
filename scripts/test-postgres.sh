#!/usr/bin/env bash
# A PostgreSQL for the tests on 127.0.0.1:5432, on a Debian machine, as root:
# installs Debian's postgresql when it is missing, creates a cluster when
# there is none, trusts loopback connections (a fresh cluster asks them for a
# password), starts it and waits until it answers. Prints the URL the tests
# read from BANK_TEST_POSTGRES_URL. Safe to run again.
#
#   export BANK_TEST_POSTGRES_URL=$(sudo ./scripts/test-postgres.sh)
set -euo pipefail

log() { echo "test-postgres: $*" >&2; }

if ! command -v pg_ctlcluster >/dev/null 2>&1 || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  log "installing postgresql from Debian's packages"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql postgresql-client >&2
fi

version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
if ! pg_lsclusters -h 2>/dev/null | awk -v v="$version" '$1 == v && $2 == "main"' | grep -q .; then
  log "creating cluster $version/main"
  pg_createcluster "$version" main --port 5432 >&2
fi
conf=/etc/postgresql/$version/main

# Loopback clients are trusted: the cluster holds only throwaway test data.
hba=$conf/pg_hba.conf
if ! grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
  log "trusting loopback connections in $hba"
  { printf 'host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n'; cat "$hba"; } >"$hba.new"
  chown --reference="$hba" "$hba.new"
  chmod --reference="$hba" "$hba.new"
  mv "$hba.new" "$hba"
  reload=1
fi

# Each test creates its own databases, in parallel: room for them; and
# pg_stat_statements, which the runbook's slow-query steps (4.3) read.
tuning=$conf/conf.d/bank-tests.conf
want=$(printf "max_connections = 400\nshared_preload_libraries = 'pg_stat_statements'\n")
if [ "$(cat "$tuning" 2>/dev/null)" != "$want" ]; then
  printf '%s\n' "$want" >"$tuning"
  restart=1
fi

status=$(pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" { print $4 }')
if [ "$status" != "online" ]; then
  pg_ctlcluster --skip-systemctl-redirect "$version" main start >&2
elif [ -n "${restart:-}" ]; then
  pg_ctlcluster --skip-systemctl-redirect "$version" main restart >&2
elif [ -n "${reload:-}" ]; then
  pg_ctlcluster --skip-systemctl-redirect "$version" main reload >&2
fi

url="postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
for _ in $(seq 1 60); do
  if psql "$url" -qAtc 'SELECT 1' >/dev/null 2>&1; then
    echo "$url"
    exit 0
  fi
  sleep 0.5
done
log "PostgreSQL did not answer on 127.0.0.1:5432 within 30 s; see /var/log/postgresql/"
exit 1
