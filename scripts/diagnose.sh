#!/usr/bin/env bash
# Quick health check of the platform (runbook 3.1): every service's liveness
# and readiness, the database, the ledger invariant and certificate expiry,
# graded OK / WARN / CRIT / UNKNOWN. Arguments go to "bank diagnose"; run
# "./scripts/diagnose.sh --help" for them.
#
# Exit status: 0 OK, 1 warning, 2 critical, 3 unknown.
#
# Where it runs "bank":
#   DIAGNOSE_IN_CLUSTER=1  in a running pod, through kubectl exec (namespace
#                          $NAMESPACE, default fintech-banking; deployment
#                          $DEPLOYMENT, default auth-service), where the
#                          pod's own BANK_* settings and the Kubernetes
#                          service names apply;
#   BANK_BIN=/path/to/bank that binary;
#   otherwise              "bank" on the PATH, else one built from this
#                          checkout ("go run" would turn every status into 1).
set -uo pipefail

if [ "${DIAGNOSE_IN_CLUSTER:-}" = 1 ]; then
  exec kubectl exec -n "${NAMESPACE:-fintech-banking}" "deploy/${DEPLOYMENT:-auth-service}" -- bank diagnose "$@"
fi
if [ -n "${BANK_BIN:-}" ]; then
  exec "$BANK_BIN" diagnose "$@"
fi
if command -v bank >/dev/null 2>&1; then
  exec bank diagnose "$@"
fi
cd "$(dirname "$0")/.." || exit 3
bin="$(mktemp -d)/bank"
go build -o "$bin" ./cmd/bank || exit 3
"$bin" diagnose "$@"
status=$?
rm -rf "$(dirname "$bin")"
exit "$status"
