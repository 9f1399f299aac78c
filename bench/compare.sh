#!/usr/bin/env bash
# compare.sh: how close a transfer through the bank comes to the cheapest
# transfer-shaped transaction PostgreSQL can run, measured on the same
# PostgreSQL in one go.
#
# First pgbench runs bench/transfer.sql (2 UPDATE + 2 INSERT, one durable
# commit each, synchronous_commit left on) against a scratch database, then
# "bank bench" drives the running server with the same scenario, client count
# and duration. It prints both rates and bank/pgbench.
#
# Reading the ratio: pgbench opens one connection per client, while the server
# funnels its clients into a small pool (16 by default) and commits several
# transfers at once. On a 2-core box pgbench's rate falls as its connection
# count grows past a few dozen, and with one hot row far more so; try a smaller
# -c to see PostgreSQL nearer its best.
#
# It does not start the server. Start one first, on the same PostgreSQL:
#
#   BANK_DATABASE_URL=postgres://postgres@127.0.0.1:5432/bank \
#   BANK_JWT_SECRET=$(openssl rand -hex 32) BANK_RATE_LIMIT=0 bank serve all --http-addr 127.0.0.1:8080
#
# then, with BANK_DATABASE_URL naming the server's database:
#
#   BANK_DATABASE_URL=postgres://postgres@127.0.0.1:5432/bank \
#   bench/compare.sh [-c 64] [-d 10] [-s uniform|hot-source|hot-dest] [--url http://localhost:8080]
#
# Options:
#   -c N        concurrent clients, for both (default 64)
#   -d SECONDS  measured duration, for both (default 10)
#   -s NAME     scenario: uniform, hot-source or hot-dest (default uniform)
#   -a N        accounts the transfers spread over, for both (default 1000)
#   -w SECONDS  warm-up before measuring, for both (default 2)
#   --url URL   the server's API (default http://localhost:8080)
#   -o json     print bank bench's JSON summary with pgbench_tps added, one line
#
# Environment:
#   BANK_DATABASE_URL  the server's database; "bank bench" needs it (required)
#   PGBENCH_URL        a database on the same PostgreSQL to create the scratch
#                      database from (default postgres://postgres@127.0.0.1:5432/postgres)
#   PGBENCH_DB         the scratch database, dropped at the end (default bench_pgbench)
#   BANK               a bank binary to use; without it one is built from this
#                      repository into a temporary folder
#   PGBENCH            the pgbench binary (default: on PATH, else the newest
#                      /usr/lib/postgresql/*/bin/pgbench)
set -euo pipefail

clients=64
duration=10
scenario=uniform
accounts=1000
warmup=2
url=http://localhost:8080
output=table

usage() {
  sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" >&2
  exit 2
}
die() {
  echo "compare.sh: $*" >&2
  exit 1
}

while [ $# -gt 0 ]; do
  case "$1" in
    -c) clients=${2:?-c needs a value}; shift 2 ;;
    -d) duration=${2:?-d needs a value}; shift 2 ;;
    -s) scenario=${2:?-s needs a value}; shift 2 ;;
    -a) accounts=${2:?-a needs a value}; shift 2 ;;
    -w) warmup=${2:?-w needs a value}; shift 2 ;;
    --url) url=${2:?--url needs a value}; shift 2 ;;
    --url=*) url=${1#--url=}; shift ;;
    -o) output=${2:?-o needs a value}; shift 2 ;;
    -h | --help) usage ;;
    *) echo "compare.sh: unknown argument $1" >&2; usage ;;
  esac
done
duration=${duration%s}
warmup=${warmup%s}
case "$output" in table | json) ;; *) die "-o must be table or json, not $output" ;; esac
for v in clients duration accounts warmup; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number, not ${!v}"
done
[ "$clients" -ge 1 ] || die "clients must be at least 1"
[ "$duration" -ge 1 ] || die "duration must be at least 1 second"
[ "$accounts" -ge 2 ] || die "accounts must be at least 2"
case "$scenario" in
  uniform) hot=0 ;;
  hot-source) hot=1 ;;
  hot-dest) hot=2 ;;
  *) die "scenario must be uniform, hot-source or hot-dest, not $scenario" ;;
esac
[ -n "${BANK_DATABASE_URL:-}" ] || die "set BANK_DATABASE_URL to the database the server uses"

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
pgbench_url=${PGBENCH_URL:-postgres://postgres@127.0.0.1:5432/postgres}
scratch=${PGBENCH_DB:-bench_pgbench}
[[ $scratch =~ ^[a-z_][a-z0-9_]*$ ]] || die "PGBENCH_DB must be a plain lower-case name, not $scratch"

pgbench=${PGBENCH:-$(command -v pgbench || ls -d /usr/lib/postgresql/*/bin/pgbench 2>/dev/null | sort -V | tail -n 1 || true)}
[ -n "$pgbench" ] && [ -x "$pgbench" ] || die "pgbench not found: install postgresql-contrib or set PGBENCH"
command -v psql >/dev/null || die "psql not found"
command -v curl >/dev/null || die "curl not found"

# psql, quiet: its notices ("database … does not exist, skipping") are noise here.
pg() {
  PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 "$@"
}

tmp=$(mktemp -d)
created=
cleanup() {
  if [ -n "$created" ]; then
    pg "$pgbench_url" -c "DROP DATABASE IF EXISTS $scratch" >/dev/null 2>&1 || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# The scratch database's URL: PGBENCH_URL with its database name replaced.
with_db() {
  local u=$1 db=$2 query=""
  if [[ $u == *\?* ]]; then
    query="?${u#*\?}"
    u=${u%%\?*}
  fi
  local rest=${u#*://}
  if [[ $rest == */* ]]; then
    u=${u%/*}
  fi
  echo "$u/$db$query"
}
scratch_url=$(with_db "$pgbench_url" "$scratch")

# Is the server there at all? Any HTTP answer will do.
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "${url%/}/api/v1/auth/me" || true)
[ "$code" != "000" ] || die "no server answers at $url: start 'bank serve all' first (see the header of $0)"

bank=${BANK:-}
if [ -z "$bank" ]; then
  echo "building bank…" >&2
  (cd "$repo" && go build -o "$tmp/bank" ./cmd/bank) || die "go build ./cmd/bank failed; set BANK to a built binary"
  bank=$tmp/bank
fi

# --- pgbench -----------------------------------------------------------------
echo "pgbench: creating $scratch with $accounts accounts…" >&2
pg "$pgbench_url" -c "DROP DATABASE IF EXISTS $scratch" -c "CREATE DATABASE $scratch" >/dev/null
created=1
# Like the bank's own tables: balances updated in place with room for HOT
# updates, postings appended with a history index.
pg "$scratch_url" >/dev/null <<SQL
CREATE TABLE accounts (id int PRIMARY KEY, balance bigint NOT NULL) WITH (fillfactor = 50);
INSERT INTO accounts SELECT g, 1000000000000000 FROM generate_series(1, $accounts) g;
CREATE TABLE postings (
  id         bigserial PRIMARY KEY,
  account_id int NOT NULL,
  amount     bigint NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX postings_history ON postings (account_id, created_at DESC);
VACUUM ANALYZE accounts;
SQL
sc=$(pg -At "$scratch_url" -c "SHOW synchronous_commit")
[ "$sc" = "on" ] || echo "compare.sh: warning: synchronous_commit is $sc, not on: pgbench's figure is not durable" >&2

# pgbench needs a connection per client, on top of what the server and
# anything else on this PostgreSQL already hold.
free=$(pg -At "$scratch_url" -c "SELECT current_setting('max_connections')::int - count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'")
[ "$free" -ge "$clients" ] || die "pgbench needs $clients connections but PostgreSQL has $free free (max_connections); lower -c"

run_pgbench() {
  "$pgbench" -n -M prepared -c "$clients" -j 2 -T "$1" \
    -D naccounts="$accounts" -D hot="$hot" -f "$here/transfer.sql" "$scratch_url"
}
if [ "$warmup" -gt 0 ]; then
  echo "pgbench: ${warmup}s warm-up…" >&2
  run_pgbench "$warmup" >/dev/null 2>&1 || true
fi
echo "pgbench: $scenario, $clients clients, ${duration}s…" >&2
if ! run_pgbench "$duration" >"$tmp/pgbench.out" 2>&1; then
  cat "$tmp/pgbench.out" >&2
  die "pgbench failed"
fi
# pgbench 14 and later print one tps line, without the connection time;
# older ones print two, of which the second leaves it out.
pg_tps=$(awk '/^tps = / { t = $3 } /^tps = .*without/ { w = $3 } END { print (w != "" ? w : t) }' "$tmp/pgbench.out")
pg_lat=$(awk '/^latency average = / { print $4 }' "$tmp/pgbench.out")
pg_failed=$(awk '/^number of failed transactions: / { print $5 }' "$tmp/pgbench.out")
[ -n "$pg_tps" ] || { cat "$tmp/pgbench.out" >&2; die "no tps line in pgbench's output"; }

# --- bank bench --------------------------------------------------------------
echo "bank bench: $scenario, $clients clients, ${warmup}s warm-up, ${duration}s…" >&2
set +e
"$bank" bench --url "$url" --scenario "$scenario" -c "$clients" -d "${duration}s" \
  --warmup "${warmup}s" --accounts "$accounts" -o json >"$tmp/bank.json" 2>"$tmp/bank.err"
bank_rc=$?
set -e
if [ ! -s "$tmp/bank.json" ]; then
  tr '\r' '\n' <"$tmp/bank.err" >&2
  die "bank bench failed (exit $bank_rc)"
fi
[ "$bank_rc" -eq 0 ] || { tr '\r' '\n' <"$tmp/bank.err" >&2; echo "compare.sh: warning: bank bench exited $bank_rc" >&2; }

# Fields: transfers/s, p50, p99, errors, ledger violations, measured seconds.
if command -v jq >/dev/null; then
  read -r bank_tps bank_p50 bank_p99 bank_errors bank_violations bank_measured < <(jq -r \
    '[.transfers_per_second, .p50_ms, .p99_ms, ([.errors[]] | add // 0), (.ledger_violations | length), .duration_seconds] | @tsv' \
    "$tmp/bank.json")
else
  read -r bank_tps bank_p50 bank_p99 bank_errors bank_violations bank_measured < <(python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
print(s["transfers_per_second"], s["p50_ms"], s["p99_ms"], sum((s.get("errors") or {}).values()),
      len(s.get("ledger_violations") or []), s["duration_seconds"], sep="\t")' "$tmp/bank.json")
fi

# --- report ------------------------------------------------------------------
if [ "$output" = json ]; then
  jq -c --argjson pg "$pg_tps" '. + {pgbench_tps: $pg}' "$tmp/bank.json"
  exit 0
fi
ratio=$(awk -v b="$bank_tps" -v p="$pg_tps" 'BEGIN { printf "%.2f", (p > 0 ? b / p : 0) }')
printf '%-11s %7s %12s %17s %16s\n' scenario clients "pgbench tps" "bank transfers/s" "ratio bank/pgb"
printf '%-11s %7d %12.0f %17.0f %16s\n' "$scenario" "$clients" "$pg_tps" "$bank_tps" "$ratio"
printf 'pgbench: latency avg %s ms, %s failed; bank: p50 %s ms, p99 %s ms, %s errors, %s ledger violations, %ss measured\n' \
  "${pg_lat:-?}" "${pg_failed:-0}" "$bank_p50" "$bank_p99" "$bank_errors" "$bank_violations" "$bank_measured"
