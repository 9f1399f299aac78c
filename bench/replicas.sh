#!/usr/bin/env bash
# replicas.sh: the same load against one and against N replicas of
# transaction-service, on one PostgreSQL, one run after the other.
#
# It starts auth-service and account-service once, then for each count
# (1, then N) that many `bank serve transaction` processes, and runs
# `bank bench` with its clients spread over them (as a round-robin balancer
# with keep-alive connections would spread them). It prints one JSON summary
# per run and the ratio of the two rates.
#
#   bench/replicas.sh [N] [bench args…]
#
# Defaults: N=3; bench args "-c 64 -d 10s --accounts 1000". BANK is the bank
# binary (default: built from this repository); PGURL the server to create
# the scratch database on (default postgres://postgres@127.0.0.1:5432/postgres).
set -euo pipefail
n=${1:-3}
shift || true
args=("$@")
[ ${#args[@]} -gt 0 ] || args=(-c 64 -d 10s --accounts 1000)
pgurl=${PGURL:-postgres://postgres@127.0.0.1:5432/postgres}
cd "$(dirname "$0")/.."
if [ -z "${BANK:-}" ]; then
  BANK=$(mktemp -d)/bank
  go build -o "$BANK" ./cmd/bank
fi
db=replicas_$(date +%s%N)
psql "$pgurl" -qc "CREATE DATABASE $db"
export BANK_DATABASE_URL="${pgurl%/*}/$db?sslmode=disable"
export BANK_JWT_SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
export BANK_LOG_LEVEL=warn BANK_RATE_LIMIT=0 BANK_MIGRATE=false
pids=()
cleanup() {
  kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  psql "$pgurl" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)"
}
trap cleanup EXIT
"$BANK" migrate >/dev/null

port=18180
free_port() {
  while (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; do port=$((port + 1)); done
  echo $port
  port=$((port + 1))
}
start() { # start SERVICE: echoes its URL once it is ready
  local p; p=$(free_port)
  "$BANK" serve "$1" --http-addr 127.0.0.1:$p >/dev/null 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do
    curl -sf 127.0.0.1:$p/actuator/health/readiness >/dev/null && { echo "http://127.0.0.1:$p"; return; }
    sleep 0.1
  done
  echo "replicas.sh: $1 did not become ready" >&2
  exit 1
}
auth=$(start auth)
account=$(start account)
urls=()
for _ in $(seq 1 "$n"); do urls+=("$(start transaction)"); done

log=$(mktemp)
run() { # run COUNT: bench against the first COUNT replicas
  local list; list=$(IFS=,; echo "${urls[*]:0:$1}")
  "$BANK" bench --url "$list" --auth-url "$auth" --account-url "$account" "${args[@]}" -o json 2>"$log" |
    jq -c --argjson r "$1" '{replicas: $r, tps: .transfers_per_second, p50: .p50_ms, p99: .p99_ms,
      pg_us: .cpu.postgres_us_per_transfer, box_us: .cpu.box_us_per_transfer, errors: .errors,
      violations: (.ledger_violations | length)}'
}
one=$(run 1)
echo "$one"
many=$(run "$n" || true)
echo "$many"
[ -n "$many" ] || { echo "replicas.sh: the bench over $n replicas failed:" >&2; tail -3 "$log" >&2; exit 1; }
jq -rn --argjson a "$one" --argjson b "$many" '"\($b.replicas) replicas / 1: \($b.tps / $a.tps * 100 | floor)% of the rate"'
