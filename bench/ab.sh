#!/usr/bin/env bash
# ab.sh: two bank binaries side by side on the same PostgreSQL, alternating
# A, B, A, B… so that a noisy machine weighs on both alike. Each round starts
# the binary's "serve all" on a fresh database, runs "bank bench" once per
# scenario, and stops it. It prints one JSON summary per line, tagged with
# the binary and the round, and a table of medians at the end.
#
#   bench/ab.sh /tmp/bank-before /tmp/bank-after [rounds] [scenario…]
#
# Defaults: 3 rounds; scenarios uniform and batch. Clients, duration and the
# batch size come from BENCH_ARGS (default "-c 64 -d 10s --accounts 1000").
# PGURL is the server to create databases on
# (default postgres://postgres@127.0.0.1:5432/postgres).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
[ $# -ge 2 ] || { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" >&2; exit 2; }
a=$1 b=$2 rounds=${3:-3}
shift $(( $# >= 3 ? 3 : 2 ))
scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(uniform batch)
pgurl=${PGURL:-postgres://postgres@127.0.0.1:5432/postgres}
args=${BENCH_ARGS:--c 64 -d 10s --accounts 1000}
out=$(mktemp)
port=$(free_port 18080)
for round in $(seq 1 "$rounds"); do
  for bin in "$a" "$b"; do
    db=ab_$(date +%s%N)
    psql "$pgurl" -qc "CREATE DATABASE $db"
    url="${pgurl%/*}/$db?sslmode=disable"
    BANK_DATABASE_URL=$url BANK_JWT_SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n') \
      BANK_LOG_LEVEL=warn BANK_RATE_LIMIT=0 "$bin" serve all --http-addr 127.0.0.1:$port &
    pid=$!
    ready=
    for _ in $(seq 1 100); do
      curl -sf 127.0.0.1:$port/actuator/health/readiness >/dev/null && { ready=1; break; }
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    [ -n "$ready" ] || { echo "ab.sh: $bin did not become ready on port $port" >&2; exit 1; }
    for s in "${scenarios[@]}"; do
      # shellcheck disable=SC2086
      BANK_DATABASE_URL=$url "$bin" bench --url http://127.0.0.1:$port --scenario "$s" $args \
        --server-pid $pid -o json | jq -c --arg bin "$bin" --arg s "$s" --argjson r "$round" \
        '{bin: $bin, scenario: $s, round: $r, tps: .transfers_per_second, p50: .p50_ms, p99: .p99_ms,
          server_us: .cpu.server_us_per_transfer, pg_us: .cpu.postgres_us_per_transfer, box_us: .cpu.box_us_per_transfer,
          wal: .storage.wal_bytes_per_transfer, stored: .storage.stored_bytes_per_transfer, errors: .errors, violations: (.ledger_violations | length)}' | tee -a "$out"
    done
    kill "$pid"; wait "$pid" || true
    psql "$pgurl" -qc "DROP DATABASE $db WITH (FORCE)"
  done
done
echo
jq -rs 'group_by([.scenario, .bin]) | .[] | sort_by(.tps) | .[(length/2|floor)] |
  "\(.scenario)\t\(.bin)\tmedian \(.tps|floor)/s\tp50 \(.p50) p99 \(.p99) ms\tµs per transfer: server \(.server_us) pg \(.pg_us) box \(.box_us)\tbytes per transfer: WAL \(.wal) stored \(.stored)"' "$out"
