#!/usr/bin/env bash
# search-lag.sh: how far the OpenSearch index falls behind the ledger under
# load. Starts a fresh OpenSearch node (internal/search/opensearchnode), then
# `serve all` on a fresh PostgreSQL database with BANK_SEARCH_URL at it, runs
# `bank bench -c 64 -d DURATION` (which first funds its accounts: 1,000
# deposits) and reads the indexer's lag (`bank search status`: the age of
# the oldest transaction event not yet indexed) twice a second from the
# bench's start until the queue is empty. Prints "seconds lag" lines, then
# the peak lag in the first 5 s, the peak after, and the documents against
# the transactions. KEEP_LOG=file keeps the server's log.
#
#   bench/search-lag.sh ./bank
#
# DURATION (default 30s); PGURL, the PostgreSQL to create the database on
# (default postgres://postgres@127.0.0.1:5432/postgres); NODE_URL, a node
# already running (default: start one, and stop it at the end).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
[ $# -ge 1 ] || { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" >&2; exit 2; }
bin=$(realpath "$1")
pgurl=${PGURL:-postgres://postgres@127.0.0.1:5432/postgres}
d=${DURATION:-30s}
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -z "${KEEP_LOG:-}" ] || cp "$work/serve.log" "$KEEP_LOG" 2>/dev/null || true
  [ -z "${db:-}" ] || psql "$pgurl" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" || true
  rm -rf "$work"
}
trap cleanup EXIT
node=${NODE_URL:-}
if [ -z "$node" ]; then
  nport=$(free_port 19200)
  mkfifo "$work/node.in"
  "$(dirname "$0")/../internal/search/opensearchnode/start.sh" "$work/node" "$nport" <"$work/node.in" >"$work/node.out" 2>"$work/node.err" &
  pids+=($!)
  exec 4>"$work/node.in" # held open: the node stops when it closes
  for _ in $(seq 1 600); do grep -q '^started' "$work/node.out" && break; sleep 0.5; done
  grep -q '^started' "$work/node.out" || { cat "$work/node.err" >&2; exit 1; }
  node=http://127.0.0.1:$nport
fi
db=lag_$(date +%s%N)
psql "$pgurl" -qc "CREATE DATABASE $db"
export BANK_DATABASE_URL="${pgurl%/*}/$db?sslmode=disable" BANK_SEARCH_URL=$node BANK_SEARCH_INDEX=$db
port=$(free_port 18380)
BANK_JWT_SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n') BANK_LOG_LEVEL=warn BANK_RATE_LIMIT=0 \
  "$bin" serve all --http-addr 127.0.0.1:$port >"$work/serve.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do curl -sf 127.0.0.1:$port/actuator/health/readiness >/dev/null && break; sleep 0.1; done
start=$(date +%s.%N)
"$bin" bench --url http://127.0.0.1:$port -c 64 -d "$d" -o json >"$work/bench.json" &
bench=$!
pids+=($bench)
: >"$work/lag"
while :; do
  s=$("$bin" search status -o json 2>/dev/null || true)
  if [ -n "$s" ]; then
    echo "$(echo "$(date +%s.%N) - $start" | bc | xargs printf '%.1f') $(echo "$s" | jq -r '.lag_seconds')" | tee -a "$work/lag"
  fi
  if ! kill -0 "$bench" 2>/dev/null && [ "$(echo "$s" | jq -r '.waiting_events')" = 0 ]; then break; fi
  sleep 0.5
done
wait "$bench" || true
echo "bench: $(jq -c '{transfers_per_second, p99_ms, errors}' "$work/bench.json")"
awk '$1 <= 5 && $2 > a { a = $2 } $1 > 5 && $2 > b { b = $2 } END { printf "peak lag: %.1f s in the first 5 s, %.1f s after\n", a, b }' "$work/lag"
sleep 2 # the index's refresh interval (1 s): then documents equal transactions
"$bin" search status
