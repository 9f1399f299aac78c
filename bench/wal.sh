#!/usr/bin/env bash
# wal.sh: where the WAL of a transfer goes. It starts one bank binary's
# `serve all` (as shipped: the notification consumer on, unless
# BANK_NOTIFICATION_CONSUMER=false) on a fresh database, runs `bank bench`
# once, waits for the queue to empty, and reads the WAL written meanwhile
# with pg_waldump: bytes per transfer by relation (table or index) and
# record type, largest first. Run it on the machine of the PostgreSQL server,
# as a user that can read its pg_wal (postgres, or root).
#
#   bench/wal.sh ./bank [scenario] [bench args…]
#
# Defaults: scenario uniform; bench args "-c 64 -d 10s --accounts 1000"
# (batch: "-c 16 -d 10s --accounts 1000 -b 100"). PGURL is a superuser's
# connection to the server (default postgres://postgres@127.0.0.1:5432/postgres);
# TOP how many lines to print (default 25).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
[ $# -ge 1 ] || { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" >&2; exit 2; }
bin=$(realpath "$1") scenario=${2:-uniform}
shift $(( $# >= 2 ? 2 : 1 ))
args=("$@")
if [ ${#args[@]} -eq 0 ]; then
  args=(-c 64 -d 10s --accounts 1000)
  [ "$scenario" = batch ] && args=(-c 16 -d 10s --accounts 1000 -b 100)
fi
pgurl=${PGURL:-postgres://postgres@127.0.0.1:5432/postgres}
waldump=$(ls /usr/lib/postgresql/*/bin/pg_waldump 2>/dev/null | tail -1)
[ -n "$waldump" ] || waldump=pg_waldump
pgwal=$(psql "$pgurl" -qAtc "SHOW data_directory")/pg_wal
db=wal_$(date +%s%N)
psql "$pgurl" -qc "CREATE DATABASE $db"
url="${pgurl%/*}/$db?sslmode=disable"
pid=
names=$(mktemp)
cleanup() {
  [ -z "$pid" ] || kill "$pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -f "$names"
  psql "$pgurl" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)"
}
trap cleanup EXIT
port=$(free_port 18480)
BANK_DATABASE_URL=$url BANK_JWT_SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n') BANK_LOG_LEVEL=warn \
  BANK_RATE_LIMIT=0 "$bin" serve all --http-addr 127.0.0.1:$port >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 100); do curl -sf 127.0.0.1:$port/actuator/health/readiness >/dev/null && break; sleep 0.1; done

# The bench opens and funds its accounts first: count from the first
# transfer's WAL on would need the bench's help, so the count covers the
# setup too, a few percent of a 10 s run.
start=$(psql "$pgurl" -qAtc "SELECT pg_current_wal_lsn()")
summary=$(BANK_DATABASE_URL=$url "$bin" bench --url http://127.0.0.1:$port --scenario "$scenario" "${args[@]}" -o json 2>/dev/null)
for _ in $(seq 1 300); do
  BANK_DATABASE_URL=$url "$bin" queue stats -o json |
    jq -e 'map(select(.queue == "notifications")) | .[0] | .visible + .in_flight == 0' >/dev/null && break
  sleep 0.1
done
end=$(psql "$pgurl" -qAtc "SELECT pg_current_wal_lsn()")
n=$(psql "$url" -qAtc "SELECT count(*) FROM transactions")
echo "$summary" | jq -c --argjson n "$n" --arg s "$scenario" '{scenario: $s, transfers: $n, tps: .transfers_per_second,
  wal_per_transfer: .storage.wal_bytes_per_transfer, stored_per_transfer: .storage.stored_bytes_per_transfer}'

# pg_waldump names a relation by its file node: map them to names.
psql "$url" -qAtF' ' -c "SELECT relfilenode, relname FROM pg_class WHERE relfilenode <> 0" >"$names"
"$waldump" -p "$pgwal" -s "$start" -e "$end" 2>/dev/null | awk -v n="$n" -v top="${TOP:-25}" '
  FNR == NR { name[$1] = $2; next }
  {
    if (!match($0, /len \(rec\/tot\): *[0-9]+\/ *[0-9]+/)) next
    len = substr($0, RSTART, RLENGTH); sub(/.*\/ */, "", len)
    rel = "(no relation)"
    if (match($0, /rel [0-9]+\/[0-9]+\/[0-9]+/)) {
      split(substr($0, RSTART + 4, RLENGTH - 4), f, "/")
      rel = (f[3] in name) ? name[f[3]] : "relfilenode " f[3]
    }
    split($0, d, "desc: "); kind = d[2]; sub(/ .*/, "", kind)
    if ($0 ~ /FPW/) kind = kind "+FPW"
    bytes[rel " " kind] += len; all += len
  }
  END {
    for (k in bytes) printf "%8.0f %5.1f%%  %s\n", bytes[k] / n, 100 * bytes[k] / all, k | "sort -rn | head -" top
    close("sort -rn | head -" top)
    printf "%8.0f bytes per transfer in all\n", all / n
  }' "$names" -
