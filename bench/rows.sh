#!/usr/bin/env bash
# rows.sh: every row of docs/performance.md's before/after table, for two
# bank binaries on the same box in one go, alternating them round by round so
# that whatever else the box does weighs on both alike.
#
#   bench/rows.sh /tmp/bank-before /tmp/bank-after [rounds]
#
# For each binary it starts `serve all` on a fresh PostgreSQL database and
# runs, with the second binary's `bank bench` as the load generator for both
# (so that only the server differs): uniform, hot-source and uniform at 16
# clients, each beside pgbench (bench/compare.sh); uniform at 256 clients; the
# batch endpoint (100 transfers a request, 16 clients); then `serve all` on
# SQLite, uniform; then bench/replicas.sh (1 against 3 transaction-service
# replicas, behind HAProxy when it is installed). One more run puts each
# binary's own `bank bench` against the second binary's server, for the load
# generator's CPU. Each run prints one JSON line; the medians come last.
#
# WHICH=after measures the second binary alone (to finish a round cut short).
# Clients, duration and accounts: DURATION (default 10s), ACCOUNTS (default
# 1000). PGURL is the PostgreSQL to create databases on
# (default postgres://postgres@127.0.0.1:5432/postgres).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
[ $# -ge 2 ] || { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" >&2; exit 2; }
before=$1 after=$2 rounds=${3:-1}
here=$(cd "$(dirname "$0")" && pwd)
pgurl=${PGURL:-postgres://postgres@127.0.0.1:5432/postgres}
d=${DURATION:-10s}
accounts=${ACCOUNTS:-1000}
out=$(mktemp)
scratch
# Both binaries are run as "bank": the bench finds a server's processes by that name.
mkdir -p "$work/before" "$work/after"
cp "$before" "$work/before/bank"
cp "$after" "$work/after/bank"
gen=$work/after/bank

port=$(free_port 18280)
url=http://127.0.0.1:$port

start() { # start BIN DATABASE_URL
  BANK_DATABASE_URL=$2 BANK_JWT_SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n') \
    BANK_LOG_LEVEL=warn BANK_RATE_LIMIT=0 "$1" serve all --http-addr 127.0.0.1:$port >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do
    curl -sf $url/actuator/health/readiness >/dev/null && return
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "rows.sh: $1 did not become ready" >&2
  exit 1
}
stop() { kill "$pid"; wait "$pid" || true; pid=; }
record() { # record BIN ROW ROUND: one JSON summary on stdin → one line of $out
  jq -c --arg bin "$1" --arg row "$2" --argjson r "$3" '{bin: $bin, row: $row, round: $r,
    tps: .transfers_per_second, pgbench: .pgbench_tps, p50: .p50_ms, p99: .p99_ms,
    server_us: .cpu.server_us_per_transfer, pg_us: .cpu.postgres_us_per_transfer,
    box_us: .cpu.box_us_per_transfer, bench_us: .cpu.bench_us_per_transfer,
    rest_us: (if .cpu then .cpu.box_us_per_transfer - .cpu.server_us_per_transfer - .cpu.postgres_us_per_transfer else null end),
    wal: .storage.wal_bytes_per_transfer, stored: .storage.stored_bytes_per_transfer,
    errors: ([.errors[]] | add // 0), violations: (.ledger_violations | length)}' | tee -a "$out"
}

for round in $(seq 1 "$rounds"); do
  for which in ${WHICH:-before after}; do
    bin=$work/$which/bank
    db=rows_$(date +%s%N)
    psql "$pgurl" -qc "CREATE DATABASE $db"
    export BANK_DATABASE_URL="${pgurl%/*}/$db?sslmode=disable"
    start "$bin" "$BANK_DATABASE_URL"
    for row in "uniform 64" "hot-source 64" "uniform 16"; do
      set -- $row
      BANK=$gen "$here/compare.sh" -s "$1" -c "$2" -d "${d%s}" -a "$accounts" --url $url -o json 2>/dev/null |
        record "$which" "$1 $2" "$round"
    done
    "$gen" bench --url $url --scenario uniform -c 256 -d "$d" --accounts "$accounts" --server-pid "$pid" -o json 2>/dev/null |
      record "$which" "uniform 256" "$round"
    "$gen" bench --url $url --scenario batch -b 100 -c 16 -d "$d" --accounts "$accounts" --server-pid "$pid" -o json 2>/dev/null |
      record "$which" "batch 16" "$round"
    stop
    psql "$pgurl" -qc "DROP DATABASE $db WITH (FORCE)"

    lite="sqlite://$work/$which-$round.db"
    start "$bin" "$lite"
    BANK_DATABASE_URL=$lite "$gen" bench --url $url --scenario uniform -c 64 -d "$d" --accounts "$accounts" \
      --server-pid "$pid" -o json 2>/dev/null | record "$which" "sqlite 64" "$round"
    stop

    BANK=$bin "$here/replicas.sh" 3 -c 64 -d "$d" --accounts "$accounts" 2>/dev/null | grep '^{' |
      jq -c --arg bin "$which" --argjson r "$round" '{bin: $bin, row: "replicas \(.replicas)", round: $r,
        tps, p50, p99, server_us, pg_us, box_us, errors: ([.errors[]] | add // 0), violations}' | tee -a "$out"
  done
  # The load generator's own cost: each binary's bench against the same server.
  db=rows_$(date +%s%N)
  psql "$pgurl" -qc "CREATE DATABASE $db"
  export BANK_DATABASE_URL="${pgurl%/*}/$db?sslmode=disable"
  start "$work/after/bank" "$BANK_DATABASE_URL"
  for which in before after; do
    "$work/$which/bank" bench --url $url --scenario uniform -c 64 -d "$d" --accounts "$accounts" --server-pid "$pid" -o json 2>/dev/null |
      record "$which" "bench itself" "$round"
  done
  stop
  psql "$pgurl" -qc "DROP DATABASE $db WITH (FORCE)"
done

echo
jq -rs 'group_by([.row, .bin]) | .[] | sort_by(.tps) | .[(length/2|floor)] |
  "\(.row)\t\(.bin)\t\(.tps|floor)/s\tpgbench \(.pgbench // "-")\tp50 \(.p50) p99 \(.p99) ms\tµs: server \(.server_us|floor?) pg \(.pg_us|floor?) box \(.box_us|floor?) bench \(.bench_us // "-") rest \(.rest_us // "-")\tWAL \(.wal // "-") stored \(.stored // "-")\terrors \(.errors) violations \(.violations)"' "$out"
