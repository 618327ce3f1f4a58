"""Checks template.yaml as CloudFormation will receive it: SAM's transform (samtranslator, the
library sam deploy uses), then cfn-lint on the result (a dependency cycle among the generated
resources included), then what the transform generates that the source cannot show: one stage
(the named one), one permission for API Gateway to invoke the authorizer, every function's own
log group, each event source mapping's on-failure destination writable by its function's role
(SAM grants that only when the event's DestinationConfig names the destination's Type), a web
ACL association (the optional PublicRateLimit one) made only after the stage it names, and every
bucket private (all four public access blocks, no ACLs) behind a policy refusing plain HTTP. make
test runs it.

usage: check_template.py template.yaml
"""

import json
import os
import subprocess
import sys
import tempfile

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


class NoManagedPolicies:
    """The template names no managed policy by name: nothing to look up in an account."""

    def load(self):
        return {}


def main(path):
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    template = yaml_parse(open(path, encoding="utf-8").read())
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            # sam build replaces CodeUri with the built artifact's S3 location.
            resource["Properties"]["CodeUri"] = "s3://keyhive-artifacts/function.zip"
    out = transform(template, {}, NoManagedPolicies())
    resources = out["Resources"]
    failures = []

    stages = [r for r in resources.values() if r["Type"] == "AWS::ApiGateway::Stage"]
    if len(stages) != 1:
        failures.append(f"{len(stages)} stages: SAM adds a 'Stage' stage unless OpenApiVersion is set")
    deployments = [r for r in resources.values() if r["Type"] == "AWS::ApiGateway::Deployment"]
    if any(d["Properties"].get("StageName") for d in deployments):
        failures.append("a deployment creates its own stage")
    invokers = [
        n for n, r in resources.items()
        if r["Type"] == "AWS::Lambda::Permission"
        and r["Properties"].get("FunctionName") == {"Fn::GetAtt": ["AuthorizerFunction", "Arn"]}
    ]
    if len(invokers) != 1:
        failures.append(f"API Gateway may invoke the authorizer through {len(invokers)} permissions: {invokers}")
    for name, r in resources.items():
        if r["Type"] == "AWS::Lambda::Function":
            group = r["Properties"].get("LoggingConfig", {}).get("LogGroup")
            if not group:
                failures.append(f"{name} logs to the default log group (no retention)")

    failures.extend(unwritable_destinations(resources))
    failures.extend(associations_before_their_stage(resources))
    failures.extend(public_or_plain_http_buckets(resources))

    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(out, f, default=str)
        transformed = f.name
    try:
        lint = subprocess.run(
            [os.path.join(os.path.dirname(sys.executable), "cfn-lint"), transformed],
            capture_output=True, text=True,
        )
    finally:
        os.unlink(transformed)
    if lint.returncode != 0:
        failures.append("cfn-lint on the transformed template:\n" + lint.stdout + lint.stderr)

    if failures:
        sys.exit("check_template: " + "\n".join(failures))
    print(f"check_template: {len(resources)} resources after the transform, one stage, "
          f"one authorizer invoke permission, every function with its own log group, "
          f"every on-failure destination writable, web ACLs associated after the stage, "
          f"every bucket private and HTTPS-only, cfn-lint clean")


# What a function's role needs to send a failed batch's record to each kind of destination.
DESTINATION_ACTIONS = {"AWS::SQS::Queue": "sqs:SendMessage", "AWS::SNS::Topic": "sns:Publish"}


def _as_list(value):
    return value if isinstance(value, list) else [value]


def unwritable_destinations(resources):
    """Event source mappings whose on-failure destination their function's role may not write:
    Lambda would fail to record a batch it gives up on."""
    failures = []
    for name, r in resources.items():
        if r["Type"] != "AWS::Lambda::EventSourceMapping":
            continue
        destination = r["Properties"].get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        if destination is None:
            continue
        target = (destination.get("Fn::GetAtt") or [None])[0] if isinstance(destination, dict) else None
        action = DESTINATION_ACTIONS.get(resources.get(target, {}).get("Type"))
        if action is None:
            failures.append(f"{name}: on-failure destination {destination} is not a queue or topic of the template")
            continue
        function = resources[r["Properties"]["FunctionName"]["Ref"]]
        role = resources[function["Properties"]["Role"]["Fn::GetAtt"][0]]
        statements = [
            s for p in role["Properties"].get("Policies", []) for s in _as_list(p["PolicyDocument"]["Statement"])
        ]
        if not any(
            s["Effect"] == "Allow" and action in _as_list(s["Action"]) and _as_list(s["Resource"]) == [destination]
            for s in statements
        ):
            failures.append(f"{name}: its function's role lacks {action} on {target} alone (DestinationConfig Type?)")
    return failures


def associations_before_their_stage(resources):
    """A web ACL association names the stage by its ARN, which is no reference: without a
    DependsOn on the stage SAM generates, CloudFormation may associate before the stage exists."""
    failures = []
    for name, r in resources.items():
        if r["Type"] != "AWS::WAFv2::WebACLAssociation":
            continue
        after = _as_list(r.get("DependsOn", []))
        if not any(resources.get(d, {}).get("Type") == "AWS::ApiGateway::Stage" for d in after):
            stages = [n for n, s in resources.items() if s["Type"] == "AWS::ApiGateway::Stage"]
            failures.append(f"{name}: DependsOn {after} names no stage (the generated one: {stages})")
    return failures


PUBLIC_ACCESS_BLOCKS = ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")


def public_or_plain_http_buckets(resources):
    """Every bucket blocks public access all four ways, ignores ACLs (BucketOwnerEnforced), and
    has a bucket policy denying any request not made over TLS."""
    failures = []
    for name, r in resources.items():
        if r["Type"] != "AWS::S3::Bucket":
            continue
        props = r.get("Properties", {})
        blocks = props.get("PublicAccessBlockConfiguration", {})
        open_ways = [b for b in PUBLIC_ACCESS_BLOCKS if blocks.get(b) is not True]
        if open_ways:
            failures.append(f"{name}: public access not blocked ({', '.join(open_ways)})")
        ownership = [rule.get("ObjectOwnership") for rule in props.get("OwnershipControls", {}).get("Rules", [])]
        if ownership != ["BucketOwnerEnforced"]:
            failures.append(f"{name}: ObjectOwnership {ownership}, not BucketOwnerEnforced (ACLs still apply)")
        if not any(_denies_plain_http(p, name) for p in resources.values() if p["Type"] == "AWS::S3::BucketPolicy"):
            failures.append(f"{name}: no bucket policy denies requests without TLS (aws:SecureTransport false)")
    return failures


def _denies_plain_http(policy, bucket):
    props = policy.get("Properties", {})
    if props.get("Bucket") != {"Ref": bucket}:
        return False
    for s in _as_list(props.get("PolicyDocument", {}).get("Statement", [])):
        secure = s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport")
        if (
            s.get("Effect") == "Deny"
            and s.get("Principal") in ("*", {"AWS": "*"})
            and "s3:*" in _as_list(s.get("Action"))
            and str(secure).lower() == "false"
            and {"Fn::GetAtt": [bucket, "Arn"]} in _as_list(s.get("Resource"))
            and {"Fn::Sub": f"${{{bucket}.Arn}}/*"} in _as_list(s.get("Resource"))
        ):
            return True
    return False


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "template.yaml")
