#!/usr/bin/env bash
# profile.sh: one "serve all" on a fresh database, one "bank bench" against
# it, then where PostgreSQL's time went (pg_stat_statements, which the server
# must preload: shared_preload_libraries = 'pg_stat_statements'), and the
# queue's backlog once the load stopped.
#
#   PGURL=postgres://postgres@127.0.0.1:5433 bench/profile.sh ./bank [15s] [uniform]
#
# Settings of the server (BANK_NOTIFICATION_CONSUMER=false, …) pass through
# the environment.
set -euo pipefail
[ $# -ge 1 ] || { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" >&2; exit 2; }
bin=$1 dur=${2:-15s} scenario=${3:-uniform}
pg=${PGURL:-postgres://postgres@127.0.0.1:5432}
db=profile_$(date +%s%N)
psql "$pg/postgres" -qc "CREATE DATABASE $db"
url="$pg/$db?sslmode=disable"
port=18099
BANK_DATABASE_URL=$url BANK_JWT_SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n') BANK_LOG_LEVEL=warn \
  BANK_RATE_LIMIT=0 "$bin" serve all --http-addr 127.0.0.1:$port >/dev/null 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; psql "$pg/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)"' EXIT
for _ in $(seq 1 100); do curl -sf 127.0.0.1:$port/actuator/health/readiness >/dev/null && break; sleep 0.1; done
psql "$url" -qc "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" -c "SELECT pg_stat_statements_reset()" >/dev/null
BANK_DATABASE_URL=$url "$bin" bench --url http://127.0.0.1:$port --scenario "$scenario" -c 64 -d "$dur" \
  --accounts 1000 --server-pid $pid -o json |
  jq -c '{tps: .transfers_per_second, cpu: .cpu, wal: .storage.wal_bytes_per_transfer, stored: .storage.stored_bytes_per_transfer}'
# The bench's WAL figure is the whole server's (other databases' writes
# count); this one is the WAL the statements of this database wrote (not
# autovacuum's), per transaction the ledger wrote, setup included.
psql "$url" -Atc "SELECT 'WAL of this database''s statements: ' || round(sum(wal_bytes) / greatest((SELECT count(*) FROM transactions), 1))
  || ' bytes per transaction, ' || round(sum(wal_fpi)::numeric / greatest((SELECT count(*) FROM transactions), 1), 3) || ' full-page images'
  FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
BANK_DATABASE_URL=$url "$bin" queue stats
psql "$url" -c "SELECT calls, round(total_exec_time::numeric) AS ms, round(mean_exec_time::numeric, 3) AS mean, rows,
  left(regexp_replace(query, '\s+', ' ', 'g'), 110) AS query FROM pg_stat_statements
  WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) ORDER BY total_exec_time DESC LIMIT 14"
