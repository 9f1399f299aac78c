#!/usr/bin/env bash
# replicas.sh: the same load against one and against N replicas of
# transaction-service, on one PostgreSQL, one run after the other.
#
# It starts auth-service, account-service and notification-service (its
# consumer on, as a cluster runs it) once, then N
# `bank serve transaction` processes, and runs `bank bench` first against
# one replica and then against all N. With HAProxy installed (Debian's
# haproxy) both runs go through the same HAProxy, round robin, as in a
# cluster; without it `bank bench` spreads its clients over the replicas
# itself (LB=bench forces that). HAProxy sends to a replica only while its
# readiness (/actuator/health/readiness) answers 200, checked every 100ms,
# as TestRollingRestart's HAProxy does. It prints one JSON summary per run
# and the ratio of the two rates.
#
#   bench/replicas.sh [N] [bench args…]
#
# Defaults: N=3; bench args "-c 64 -d 10s --accounts 1000". BANK is the bank
# binary (default: built from this repository); PGURL the server to create
# the scratch database on (default postgres://postgres@127.0.0.1:5432/postgres).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
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

# start SERVICE: sets started to its URL once it is ready. Not called as
# $(start …): in that subshell its pid would never reach pids, and the
# process would outlive the script.
start() {
  local p; p=$(free_port 18180)
  "$BANK" serve "$1" --http-addr 127.0.0.1:$p >/dev/null 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do
    curl -sf 127.0.0.1:$p/actuator/health/readiness >/dev/null && { started="http://127.0.0.1:$p"; return; }
    sleep 0.1
  done
  echo "replicas.sh: $1 did not become ready" >&2
  exit 1
}
start auth; auth=$started
start account; account=$started
start notification
urls=()
for _ in $(seq 1 "$n"); do start transaction; urls+=("$started"); done

log=$(mktemp)
lb=${LB:-haproxy}
command -v haproxy >/dev/null 2>&1 || lb=bench
haproxy_pid=
balance() { # balance COUNT: starts an HAProxy over the first COUNT replicas; sets lb_url
  local p cfg; p=$(free_port 18180); cfg=$(mktemp)
  {
    printf 'global\n  maxconn 4096\ndefaults\n  mode http\n  timeout connect 5s\n  timeout client 60s\n  timeout server 60s\n'
    printf 'frontend api\n  bind 127.0.0.1:%s\n  default_backend transaction\nbackend transaction\n  balance roundrobin\n' "$p"
    printf '  option httpchk GET /actuator/health/readiness\n  http-check expect status 200\n  timeout check 2s\n  default-server inter 100ms fall 1 rise 2\n'
    for u in "${urls[@]:0:$1}"; do printf '  server s%s %s check\n' "${u##*:}" "${u#http://}"; done
  } >"$cfg"
  haproxy -q -f "$cfg" >/dev/null 2>&1 &
  haproxy_pid=$!
  pids+=($haproxy_pid)
  for _ in $(seq 1 50); do
    (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null && { lb_url="http://127.0.0.1:$p"; return; }
    sleep 0.1
  done
  echo "replicas.sh: haproxy did not start" >&2
  exit 1
}
run() { # run COUNT: bench against the first COUNT replicas
  local list
  if [ "$lb" = haproxy ]; then
    balance "$1"
    list=$lb_url
  else
    list=$(IFS=,; echo "${urls[*]:0:$1}")
  fi
  "$BANK" bench --url "$list" --auth-url "$auth" --account-url "$account" "${args[@]}" -o json 2>"$log" |
    jq -c --argjson r "$1" --arg lb "$lb" '{replicas: $r, balancer: $lb, tps: .transfers_per_second, p50: .p50_ms, p99: .p99_ms,
      server_us: .cpu.server_us_per_transfer, pg_us: .cpu.postgres_us_per_transfer, box_us: .cpu.box_us_per_transfer, errors: .errors,
      violations: (.ledger_violations | length)}'
  if [ -n "$haproxy_pid" ]; then kill "$haproxy_pid"; wait "$haproxy_pid" 2>/dev/null || true; haproxy_pid=; fi
}
one=$(run 1)
echo "$one"
many=$(run "$n" || true)
echo "$many"
[ -n "$many" ] || { echo "replicas.sh: the bench over $n replicas failed:" >&2; tail -3 "$log" >&2; exit 1; }
jq -rn --argjson a "$one" --argjson b "$many" '"\($b.replicas) replicas / 1: \($b.tps / $a.tps * 100 | floor)% of the rate"'
