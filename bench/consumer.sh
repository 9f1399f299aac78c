#!/usr/bin/env bash
# consumer.sh: what the notification consumer costs the ledger. For one bank
# binary, `serve all` with BANK_NOTIFICATION_CONSUMER=false and as shipped
# (the consumer on), back to back (alternating which runs first from one
# round to the next), on PostgreSQL and on SQLite, for the
# uniform scenario and the batch endpoint (100 transfers a request, 16
# clients); after each run with the consumer on, how long the queue took to
# empty once the load stopped. One JSON line per run, then the ratios.
#
#   bench/consumer.sh ./bank [rounds]
#
# Duration and accounts: DURATION (default 20s), ACCOUNTS (default 1000).
# PGURL is the PostgreSQL to create databases on
# (default postgres://postgres@127.0.0.1:5432/postgres); DBS=postgres or
# DBS=sqlite runs one of them.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
[ $# -ge 1 ] || { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" >&2; exit 2; }
bin=$(realpath "$1") rounds=${2:-1}
pgurl=${PGURL:-postgres://postgres@127.0.0.1:5432/postgres}
d=${DURATION:-20s}
accounts=${ACCOUNTS:-1000}
dbs=${DBS:-postgres sqlite}
out=$(mktemp)
scratch
port=$(free_port 18280)

run() { # run DB SCENARIO CONSUMER ROUND
  local url db=c_$(date +%s%N) args=(-c 64 -d "$d" --accounts "$accounts")
  if [ "$1" = postgres ]; then
    psql "$pgurl" -qc "CREATE DATABASE $db"
    url="${pgurl%/*}/$db?sslmode=disable"
  else
    url="sqlite://$work/$db.db"
  fi
  [ "$2" = batch ] && args=(-c 16 -d "$d" --accounts "$accounts" -b 100)
  BANK_DATABASE_URL=$url BANK_JWT_SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n') BANK_LOG_LEVEL=warn \
    BANK_RATE_LIMIT=0 BANK_NOTIFICATION_CONSUMER=$3 "$bin" serve all --http-addr 127.0.0.1:$port >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do curl -sf 127.0.0.1:$port/actuator/health/readiness >/dev/null && break; sleep 0.1; done
  local res; res=$(BANK_DATABASE_URL=$url "$bin" bench --url http://127.0.0.1:$port --scenario "$2" "${args[@]}" \
    --server-pid $pid -o json)
  local drain=null
  if [ "$3" = true ]; then
    local start; start=$(date +%s.%N)
    drain=-1
    for _ in $(seq 1 600); do
      if BANK_DATABASE_URL=$url "$bin" queue stats -o json | jq -e 'map(select(.queue == "notifications")) | .[0] | .visible + .in_flight == 0' >/dev/null; then
        drain=$(echo "$(date +%s.%N) - $start" | bc)
        break
      fi
      sleep 0.1
    done
  fi
  echo "$res" | jq -c --arg db "$1" --arg s "$2" --arg c "$3" --argjson r "$4" --argjson drain "$drain" \
    '{db: $db, scenario: $s, consumer: $c, round: $r, tps: .transfers_per_second, p99: .p99_ms,
      server_us: .cpu.server_us_per_transfer, pg_us: .cpu.postgres_us_per_transfer, box_us: .cpu.box_us_per_transfer,
      wal: .storage.wal_bytes_per_transfer, stored: .storage.stored_bytes_per_transfer, drain_s: $drain, errors: .errors}' | tee -a "$out"
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
  [ "$1" = postgres ] && psql "$pgurl" -qc "DROP DATABASE $db WITH (FORCE)"
  return 0
}
for round in $(seq 1 "$rounds"); do
  for db in $dbs; do
    for s in uniform batch; do
      # Odd rounds run the consumer off first, even rounds on first: a
      # machine that slows down or speeds up over a pair favours neither.
      if [ $((round % 2)) = 1 ]; then
        run "$db" "$s" false "$round"
        run "$db" "$s" true "$round"
      else
        run "$db" "$s" true "$round"
        run "$db" "$s" false "$round"
      fi
    done
  done
done
echo
jq -rs 'group_by([.db, .scenario]) | .[] | (map(select(.consumer == "false")) | sort_by(.tps) | .[(length/2|floor)]) as $off
  | (map(select(.consumer == "true")) | sort_by(.tps) | .[(length/2|floor)]) as $on
  | "\($on.db)\t\($on.scenario)\toff \($off.tps|floor)/s\ton \($on.tps|floor)/s\t\($on.tps / $off.tps * 100 | floor)%\tbox µs \($off.box_us|floor) → \($on.box_us|floor)\tWAL \($off.wal // 0|floor) → \($on.wal // 0|floor)\tstored \($off.stored // 0|floor) → \($on.stored // 0|floor)\tdrained in \($on.drain_s) s"' "$out"
