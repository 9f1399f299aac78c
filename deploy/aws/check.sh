#!/usr/bin/env bash
# Everything deploy/aws is checked by, offline: install the pinned packages,
# compile, run the assertion tests, synthesize the stack with no AWS
# credentials (so a lookup would fail), and validate the runbook's aws
# commands and the cut-over files with the aws CLI (check-cli.sh). Exits
# non-zero on the first failure. Needs Node 20+ with npm, the aws CLI
# (Debian: awscli) and python3.
set -euo pipefail
cd "$(dirname "$0")"

# Nothing here may reach AWS: no credentials, no profile, no instance metadata.
for v in $(env | grep -o '^AWS_[A-Z_]*' || true); do unset "$v"; done
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true
export CDK_DISABLE_CLI_TELEMETRY=true CDK_DISABLE_VERSION_CHECK=true

step() { echo "== $*"; }

step npm ci
npm ci --no-audit --no-fund --prefer-offline --loglevel=error

step tsc
rm -rf build
npx --no-install tsc -p .

step assertion tests
node --test build/test/

step cdk synth
start=$(date +%s)
rm -rf cdk.out
npx --no-install cdk synth --quiet --no-notices --no-version-reporting --output cdk.out >/dev/null
[ -s cdk.out/FintechBanking.template.json ]
if grep -q '"missing"' cdk.out/manifest.json; then
  echo "cdk synth needs context lookups (manifest.json lists missing context)" >&2
  exit 1
fi
echo "synthesized FintechBanking in $(($(date +%s) - start)) s:" \
  "$(node -e 'const t=require("./cdk.out/FintechBanking.template.json"); console.log(Object.keys(t.Resources).length)') resources"

step aws CLI validation
./check-cli.sh
