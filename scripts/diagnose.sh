#!/usr/bin/env bash
# Quick health check of the platform (runbook 3.1): every service's liveness
# and readiness, the database, the ledger invariant, the queue, maintenance
# and certificate expiry, graded OK / WARN / CRIT / UNKNOWN. Arguments go to
# "bank diagnose"; run "./scripts/diagnose.sh --help" for them.
#
# Exit status: 0 OK, 1 warning, 2 critical, 3 unknown (the check itself could
# not run: no cluster, no binary).
#
# Where it looks, unless told (--url, BANK_DIAGNOSE_URLS or
# DIAGNOSE_IN_CLUSTER):
#   a platform answering on localhost:8080 (serve all, as the README starts
#   it), else the cluster of the kube context when it runs the platform
#   (namespace $NAMESPACE, default fintech-banking), else localhost:8080.
#
# How it runs "bank":
#   DIAGNOSE_IN_CLUSTER=1  in a running pod, through kubectl exec (deployment
#                          $DEPLOYMENT, default auth-service), where the
#                          pod's own BANK_* settings and the Kubernetes
#                          service names apply; DIAGNOSE_IN_CLUSTER=0 never;
#   BANK_BIN=/path/to/bank that binary;
#   otherwise              "bank" on the PATH, else one built from this
#                          checkout ("go run" would turn every status into 1).
set -uo pipefail

namespace=${NAMESPACE:-fintech-banking}
deployment=${DEPLOYMENT:-auth-service}

named_services() {
  [ -n "${BANK_DIAGNOSE_URLS:-}" ] && return 0
  for a in "$@"; do
    case $a in --url | --url=* | -url | -url=*) return 0 ;; esac
  done
  return 1
}

platform_cluster() {
  command -v kubectl >/dev/null 2>&1 &&
    kubectl get -n "$namespace" "deploy/$deployment" >/dev/null 2>&1
}

in_cluster=${DIAGNOSE_IN_CLUSTER:-}
if [ -z "$in_cluster" ] && [ -z "${KUBERNETES_SERVICE_HOST:-}" ] && ! named_services "$@" &&
  ! curl -fsS -o /dev/null --max-time 2 http://localhost:8080/actuator/health/liveness 2>/dev/null &&
  platform_cluster; then
  in_cluster=1
fi

if [ "$in_cluster" = 1 ]; then
  # kubectl exits 1 when it cannot reach the pod, which would read as a
  # warning: reach the deployment first, and call that unknown.
  if ! out=$(kubectl get -n "$namespace" "deploy/$deployment" 2>&1 >/dev/null); then
    echo "diagnose: cannot reach deployment $deployment in namespace $namespace: $out" >&2
    exit 3
  fi
  exec kubectl exec -n "$namespace" "deploy/$deployment" -- bank diagnose "$@"
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
