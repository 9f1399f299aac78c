#!/usr/bin/env bash
# drain.sh: the notification consumer's CPU per event, alone. For one bank
# binary, `serve all` with BANK_NOTIFICATION_CONSUMER=false under `bank
# bench` leaves a backlog of events in the table queue; `serve all` as
# shipped then drains it with nothing else running. It prints the events
# (counted by the consumer) and the messages that held them, how long they
# took, and the CPU per event of the bank process and (on PostgreSQL, on
# this host) of every PostgreSQL process, from /proc.
#
#   bench/drain.sh ./bank [rounds]
#
# DB=postgres (default) or DB=sqlite. FILL is how long the load runs
# (default 15s). PGURL is the PostgreSQL to create databases on
# (default postgres://postgres@127.0.0.1:5432/postgres).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
[ $# -ge 1 ] || { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" >&2; exit 2; }
bin=$(realpath "$1") rounds=${2:-1}
pgurl=${PGURL:-postgres://postgres@127.0.0.1:5432/postgres}
db=${DB:-postgres}
scratch
port=$(free_port 18480)
tck=$(getconf CLK_TCK)

ticks() { # ticks PID: its user + system CPU ticks
  awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0
}
declare -A before
postgres_ticks() { # the ticks every PostgreSQL process spent since postgres_mark
  local t=0 p
  for p in $(pgrep -u postgres); do t=$((t + $(ticks "$p") - ${before[$p]:-0})); done
  echo "$t"
}
postgres_mark() {
  local p
  before=()
  for p in $(pgrep -u postgres); do before[$p]=$(ticks "$p"); done
}
serve() { # serve URL CONSUMER
  BANK_DATABASE_URL=$1 BANK_JWT_SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n') BANK_LOG_LEVEL=warn \
    BANK_RATE_LIMIT=0 BANK_NOTIFICATION_CONSUMER=$2 "$bin" serve all --http-addr 127.0.0.1:$port >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do curl -sf 127.0.0.1:$port/actuator/health/readiness >/dev/null && return; sleep 0.1; done
  echo "drain.sh: serve all did not become ready" >&2
  exit 1
}
waiting() { # waiting URL: messages of the main queue not yet consumed
  BANK_DATABASE_URL=$1 "$bin" queue stats -o json | jq 'map(select(.queue == "notifications")) | .[0] | .visible + .in_flight'
}

for round in $(seq 1 "$rounds"); do
  name=drain_$(date +%s%N)
  if [ "$db" = postgres ]; then
    psql "$pgurl" -qc "CREATE DATABASE $name"
    url="${pgurl%/*}/$name?sslmode=disable"
  else
    url="sqlite://$work/$name.db"
  fi
  serve "$url" false
  BANK_DATABASE_URL=$url "$bin" bench --url http://127.0.0.1:$port -c 64 -d "${FILL:-15s}" --accounts 1000 -o json >/dev/null
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
  messages=$(waiting "$url")
  sleep 1 # the loading server's connections close
  postgres_mark
  start=$(date +%s.%N)
  serve "$url" true
  while [ "$(waiting "$url")" != 0 ]; do sleep 0.2; done
  took=$(echo "$(date +%s.%N) - $start" | bc)
  # Events, not messages: a group (one commit's events) is one message.
  events=$(curl -sf 127.0.0.1:$port/actuator/prometheus |
    awk '/^bank_notification_messages_processed_total/ {n += $2} END {printf "%d", n}')
  bank=$(ticks "$pid")
  pg=$(postgres_ticks)
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
  jq -nc --arg db "$db" --argjson r "$round" --argjson n "$events" --argjson m "$messages" --argjson s "$took" \
    --argjson bank "$bank" --argjson pg "$pg" --argjson tck "$tck" \
    '{db: $db, round: $r, events: $n, messages: $m, seconds: $s, events_per_second: ($n / $s | floor),
      bank_us_per_event: ($bank * 1e6 / $tck / $n * 10 | floor / 10),
      postgres_us_per_event: (if $db == "postgres" then ($pg * 1e6 / $tck / $n * 10 | floor / 10) else null end)}'
  [ "$db" = postgres ] && psql "$pgurl" -qc "DROP DATABASE $name WITH (FORCE)"
done
