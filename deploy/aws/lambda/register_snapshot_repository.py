# Registers (on create and update) the S3 snapshot repository of an Amazon
# OpenSearch Service domain: runbook 7.3's PUT _snapshot/s3_backup, signed
# with the function's role and naming the role OpenSearch assumes to write to
# the bucket. A delete leaves the repository and its snapshots alone.
# Runs as an inline CloudFormation custom resource (cfnresponse is provided).
import json
import urllib.request

import boto3
import cfnresponse
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest


def register(props):
    body = json.dumps({
        "type": "s3",
        "settings": {
            "bucket": props["Bucket"],
            "region": props["Region"],
            "role_arn": props["RoleArn"],
        },
    })
    url = "https://%s/_snapshot/%s" % (props["Endpoint"], props["Repository"])
    signed = AWSRequest(method="PUT", url=url, data=body, headers={"Content-Type": "application/json"})
    SigV4Auth(boto3.Session().get_credentials(), "es", props["Region"]).add_auth(signed)
    req = urllib.request.Request(url, data=body.encode(), method="PUT", headers=dict(signed.headers.items()))
    with urllib.request.urlopen(req, timeout=60) as resp:
        return resp.read().decode()[:200]


def handler(event, context):
    props = event["ResourceProperties"]
    status, reason = cfnresponse.SUCCESS, ""
    try:
        if event["RequestType"] in ("Create", "Update"):
            reason = register(props)
    except Exception as e:  # the stack must hear of any failure, or it hangs
        status, reason = cfnresponse.FAILED, str(e)[:200]
    cfnresponse.send(event, context, status, {}, props["Repository"], reason=reason)
