#!/usr/bin/env bash
# Runs the runbook's aws commands, as printed, with fake credentials against
# an endpoint that does not answer (127.0.0.1:9): the aws CLI validates every
# parameter (shorthand syntax, the JSON files of runbook 3.4 against the API's
# model) before it connects, so a command that reaches "Could not connect" has
# parameters AWS would accept. No AWS account and no network are needed.
# AWS=/path/to/aws picks the CLI (default: aws on PATH).
set -euo pipefail
cd "$(dirname "$0")/cutover" # the runbook's file:// paths are relative

aws=${AWS:-aws}
export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE AWS_SECRET_ACCESS_KEY=fake AWS_SESSION_TOKEN=
export AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_PROFILE=
export AWS_MAX_ATTEMPTS=1 AWS_RETRY_MODE=standard AWS_PAGER= AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_SESSION_TOKEN
endpoint=(--endpoint-url http://127.0.0.1:9 --cli-connect-timeout 2)

# The runbook's placeholders, filled with the names deploy/aws and
# deploy/k8s/overlays/aws use.
api_id=a1b2c3d4e5
queue_url=https://sqs.us-east-1.amazonaws.com/123456789012/fintech-banking-events
dlq_url=https://sqs.us-east-1.amazonaws.com/123456789012/fintech-banking-events-dlq
cert_arn=arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000000

failed=0
ran=0
# accepted runs one command and expects it to get as far as connecting.
accepted() {
  local out
  ran=$((ran + 1))
  if out=$("$aws" "$@" "${endpoint[@]}" 2>&1); then
    echo "FAIL: aws $*: succeeded against an endpoint that does not answer" >&2
    failed=$((failed + 1))
  elif ! grep -q 'Could not connect to the endpoint URL' <<<"$out"; then
    echo "FAIL: aws $*:" >&2
    echo "$out" >&2
    failed=$((failed + 1))
  fi
}
# refused runs one command and expects the CLI's parameter validation to stop
# it: proof that this CLI validates, so that a pass above means something.
refused() {
  local out
  ran=$((ran + 1))
  out=$("$aws" "$@" "${endpoint[@]}" 2>&1) || true
  if ! grep -q 'Parameter validation failed' <<<"$out"; then
    echo "FAIL: aws $*: want a parameter validation error, got:" >&2
    echo "$out" >&2
    failed=$((failed + 1))
  fi
}

# 3.4, the files shipped here.
accepted cloudfront update-distribution \
  --id E2EXAMPLE0000 \
  --distribution-config file://maintenance-mode-config.json
accepted route53 change-resource-record-sets \
  --hosted-zone-id Z0000000000000EXAMPLE \
  --change-batch file://maintenance-dns-change.json
accepted route53 change-resource-record-sets \
  --hosted-zone-id Z0000000000000EXAMPLE \
  --change-batch file://normal-dns-change.json

# The same commands with a required member taken out of each file.
broken=$(mktemp -d)
trap 'rm -rf "$broken"' EXIT
python3 - "$broken" <<'PY'
import json, sys
out = sys.argv[1]
c = json.load(open("maintenance-mode-config.json"))
del c["DefaultCacheBehavior"]["TargetOriginId"]
json.dump(c, open(out + "/config.json", "w"))
d = json.load(open("maintenance-dns-change.json"))
del d["Changes"][0]["ResourceRecordSet"]["Type"]
json.dump(d, open(out + "/dns.json", "w"))
PY
refused cloudfront update-distribution --id E2EXAMPLE0000 --distribution-config "file://$broken/config.json"
refused route53 change-resource-record-sets --hosted-zone-id Z0000000000000EXAMPLE --change-batch "file://$broken/dns.json"

# The runbook's other aws commands, as printed.
accepted eks update-nodegroup-config \
  --cluster-name fintech-banking-cluster \
  --nodegroup-name fintech-workers \
  --scaling-config minSize=3,maxSize=10,desiredSize=5
accepted rds modify-db-instance \
  --db-instance-identifier fintech-banking-db \
  --db-instance-class db.r6g.xlarge \
  --apply-immediately
accepted rds describe-db-instances \
  --db-instance-identifier fintech-banking-db \
  --query 'DBInstances[0].DBInstanceStatus'
accepted rds reboot-db-instance --db-instance-identifier fintech-banking-db
accepted rds reboot-db-instance \
  --db-instance-identifier fintech-banking-db \
  --force-failover
accepted apigateway get-rest-apis
accepted apigateway flush-stage-cache \
  --rest-api-id "$api_id" \
  --stage-name prod
accepted apigateway update-stage \
  --rest-api-id "$api_id" \
  --stage-name prod \
  --patch-operations op=replace,path=/throttling/rateLimit,value=10000
accepted sqs get-queue-attributes \
  --queue-url "$queue_url" \
  --attribute-names All
accepted sqs set-queue-attributes \
  --queue-url "$queue_url" \
  --attributes VisibilityTimeout=300
accepted sqs purge-queue --queue-url "$queue_url"
accepted sqs get-queue-attributes \
  --queue-url "$dlq_url" \
  --attribute-names ApproximateNumberOfMessages
accepted acm list-certificates --query 'CertificateSummaryList[*].[DomainName,Status]'
accepted acm describe-certificate \
  --certificate-arn "$cert_arn" \
  --query 'Certificate.[DomainName,NotAfter,Status]'
accepted cloudwatch put-metric-alarm \
  --alarm-name "cert-expiry-warning" \
  --comparison-operator LessThanThreshold \
  --evaluation-periods 1 \
  --metric-name DaysToExpiry \
  --namespace AWS/CertificateManager \
  --period 86400 \
  --threshold 30 \
  --statistic Minimum \
  --dimensions Name=CertificateArn,Value="$cert_arn"
accepted rds create-db-snapshot \
  --db-instance-identifier fintech-banking-db \
  --db-snapshot-identifier "fintech-backup-$(date +%Y%m%d%H%M)"
accepted rds describe-db-snapshots \
  --db-instance-identifier fintech-banking-db \
  --query 'DBSnapshots[*].[DBSnapshotIdentifier,SnapshotCreateTime,Status]' \
  --output table
accepted rds restore-db-instance-from-db-snapshot \
  --db-instance-identifier fintech-banking-db-restored \
  --db-snapshot-identifier fintech-backup-202401151030 \
  --db-instance-class db.r6g.large \
  --vpc-security-group-ids sg-0123456789abcdef0
accepted rds restore-db-instance-to-point-in-time \
  --source-db-instance-identifier fintech-banking-db \
  --target-db-instance-identifier fintech-banking-db-pit \
  --restore-time 2024-01-15T10:30:00Z \
  --db-instance-class db.r6g.large

echo "aws CLI: $((ran - failed)) of $ran runbook commands validated ($("$aws" --version 2>&1 | cut -d' ' -f1))"
[ "$failed" -eq 0 ]
