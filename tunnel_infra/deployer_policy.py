"""The IAM policy a deployer needs, derived offline: ``python -m tunnel_infra.deployer_policy ENV``.

Two parts, neither written as a list of the resources' permissions:

- what CloudFormation does on the deployer's behalf (it acts with the caller's credentials when
  no service role is given, and none is): for every resource type in the environment's rendered
  templates, the ``create``/``read``/``update``/``delete`` handler permissions of its registry
  schema, as shipped in cfn-lint, plus what the schema leaves out (``SCHEMA_GAPS``);
- what the tools call themselves: declared once per command below, each with who calls it.

tests/local/test_deployer_policy.py launches dev, syncs, runs ``tunnel token`` and ``tunnel
logs`` against an emulator that records every operation it serves (emulator/call_log.py), and
checks that each maps to an action of this policy (``iam_action``). What CloudFormation calls
inside the emulator are not requests, so that test covers the declarations; the schemas cover
the resources.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import boto3
from sceptre.context import SceptreContext
from sceptre.exceptions import SceptreException
from sceptre.plan.plan import SceptrePlan
from tunnel_shared.names import resource_name

from review.template_text import parse_template
from tunnel_infra.functions import SIGNING_KEY
from tunnel_infra.render import PROJECT_PATH, launched

COMMANDS = ("launch", "review", "deploy", "sync", "token", "drift", "logs")
# The commands that make CloudFormation create, update or delete resources with the caller's
# credentials: sceptre launch (make local, make deploy ENV=dev) and review's execute_change_set.
RESOURCE_COMMANDS = ("launch", "deploy")
HANDLERS = ("create", "read", "update", "delete")
# Drift detection reads every resource with the caller's credentials ("CloudFormation reads the
# live state of the stack's resources with the caller's credentials", alchemy.run's
# DetectStackDrift binding, https://alchemy.run/providers/aws/cloudformation/detectstackdrift):
# the schemas' read handlers.
READING_COMMANDS = ("review", "drift")
READ_HANDLERS = ("read",)
# Whitespace not counted: a managed policy holds 6,144 characters, a role's inline policies
# 10,240 together ("IAM and AWS STS quotas").
MANAGED_POLICY_CHARACTERS = 6144
ROLE_INLINE_CHARACTERS = 10240

# Who calls what. Each tuple is (IAM action, the code that needs it).
_STACK_OUTPUTS = (("cloudformation:DescribeStacks", "!stack_output, hooks: stack outputs"),)
_PREFLIGHT = (
    ("apigateway:GET", "hooks/preflight.py: GetAccount (the CloudWatch role is set)"),
    ("iam:GetRole", "hooks/preflight.py: the CloudWatch role exists"),
    ("lambda:GetAccountSettings", "hooks/preflight.py: the concurrency quota"),
    ("lambda:GetFunctionConcurrency", "hooks/preflight.py: reservations already made"),
    ("acm:DescribeCertificate", "hooks/preflight.py: a given certificate_arn is issued"),
    ("route53:GetHostedZone", "hooks/preflight.py: the hosted zone exists and is public"),
    ("lambda:GetFunction", "hooks/preflight.py: an existing function exists, with its tags"),
    # GetFunction returns a tagged function's tags only with ListTags allowed too (Lambda API
    # reference, GetFunction: Tags).
    ("lambda:ListTags", "hooks/preflight.py: an existing function's tunnel-protocol tag"),
)
# HeadBucket is authorised as s3:ListBucket, HeadObject as s3:GetObject (S3 API reference).
_PACKAGE = (
    ("s3:ListBucket", "hooks/package_functions.py: HeadBucket"),
    ("s3:GetObject", "hooks/package_functions.py: HeadObject, is the zip there already"),
    ("s3:PutObject", "hooks/package_functions.py: upload a changed zip"),
)
# Before a bucket's stack is deleted (sceptre launch deletes a stack that failed its create).
_EMPTY_BUCKET = (
    ("s3:ListBucket", "hooks/empty_bucket.py: HeadBucket"),
    ("s3:ListBucketVersions", "hooks/empty_bucket.py: ListObjectVersions"),
    ("s3:DeleteObject", "hooks/empty_bucket.py: DeleteObjects"),
    ("s3:DeleteObjectVersion", "hooks/empty_bucket.py: DeleteObjects names each version"),
)
_SCEPTRE_LAUNCH = (
    ("cloudformation:CreateStack", "sceptre launch"),
    ("cloudformation:UpdateStack", "sceptre launch"),
    ("cloudformation:DeleteStack", "sceptre launch: a stack left in a failed create"),
    ("cloudformation:DescribeStackEvents", "sceptre launch: progress"),
)
_HOOKS = _STACK_OUTPUTS + _PREFLIGHT + _PACKAGE
_CHANGE_SETS = (
    ("cloudformation:GetTemplate", "review/environment.py: the deployed template"),
    ("cloudformation:ListChangeSets", "review/change_sets.py: reuse or clear old ones"),
    ("cloudformation:CreateChangeSet", "review/change_sets.py"),
    ("cloudformation:DescribeChangeSet", "review/change_sets.py"),
    ("cloudformation:DeleteChangeSet", "review/change_sets.py: stale review change sets"),
)
_EXECUTE = (
    ("cloudformation:DescribeChangeSet", "review/deploy.py: still AVAILABLE"),
    ("cloudformation:ExecuteChangeSet", "review/deploy.py"),
    ("cloudformation:DescribeStackEvents", "review/deploy.py: why a stack failed"),
    ("cloudformation:DeleteStack", "review/deploy.py: a stack left in a failed create"),
)
_SYNC = (
    ("cloudformation:ListStackResources", "tunnel_infra/code_sync.py: the functions"),
    ("lambda:GetFunction", "tunnel_infra/code_sync.py: polls the update (A9)"),
    ("lambda:GetFunctionConfiguration", "tunnel_infra/code_sync.py: deployed CodeSha256"),
    ("lambda:UpdateFunctionCode", "tunnel_infra/code_sync.py"),
    ("s3:GetObject", "tunnel_infra/code_sync.py: HeadObject, is the zip there already"),
    ("s3:PutObject", "tunnel_infra/code_sync.py: upload a changed zip"),
)
_DRIFT = (
    ("cloudformation:GetTemplate", "review/drift.py: the parameters naming each function's zip"),
    ("cloudformation:ListStackResources", "review/drift.py: the functions' names"),
    ("cloudformation:DetectStackDrift", "review/drift.py"),
    # Authorised on DetectStackDrift's per-resource checks too (alchemy.run, above).
    ("cloudformation:DetectStackResourceDrift", "review/drift.py: DetectStackDrift per resource"),
    ("cloudformation:DescribeStackDriftDetectionStatus", "review/drift.py: polls detection"),
    ("cloudformation:DescribeStackResourceDrifts", "review/drift.py: drifted resources"),
    ("lambda:GetFunction", "review/drift.py: deployed CodeSha256"),
    ("s3:GetObject", "review/drift.py: HeadObject, did make sync upload the running zip"),
)
_TOKEN = (
    ("secretsmanager:GetSecretValue", "tunnel token: the signing key"),
    ("dynamodb:PutItem", "tunnel token: record the issued token"),
    ("dynamodb:Scan", "tunnel token list"),
    ("dynamodb:UpdateItem", "tunnel token revoke"),
    ("dynamodb:GetItem", "tunnel token revoke: the subdomain's claim"),
    ("execute-api:ManageConnections", "tunnel token revoke: tell and close the live tunnel"),
)
# A log group under the customer-managed key: "CloudWatch Logs decrypts this data whenever it is
# requested. CloudWatch Logs must have permissions for the KMS key" (the key policy's grant to
# its service principal; "Encrypt ... in CloudWatch Logs using AWS KMS"), so no kms:Decrypt here.
_LOGS = (("logs:FilterLogEvents", "tunnel logs: every function's log group"),)
# Actions a command needs on one named resource only, not on "*": the token command reads the
# signing key, never the functions' reply key beside it. A secret's ARN ends in "-" and six
# random characters ("Secrets Manager: ARN format", IAM user guide's Secrets Manager page).
SCOPED = {
    ("token", "secretsmanager:GetSecretValue"): (
        "arn:{partition}:secretsmanager:{region}:*:secret:{signing_key}-??????"
    ),
}
DIRECT: dict[str, tuple[tuple[str, str], ...]] = {
    "launch": _SCEPTRE_LAUNCH + _HOOKS + _EMPTY_BUCKET,
    "review": _STACK_OUTPUTS + _CHANGE_SETS + _HOOKS + _DRIFT,  # the review shows drift
    "deploy": _STACK_OUTPUTS + _EXECUTE,
    "sync": _STACK_OUTPUTS + _SYNC,
    "token": _STACK_OUTPUTS + _TOKEN,
    "drift": _STACK_OUTPUTS + _DRIFT,
    "logs": _STACK_OUTPUTS + _LOGS,
}
# With the customer-managed key (prod), the secret and the tables are encrypted with it: the
# functions' roles get kms:Decrypt for the same reads (tunnel_infra/aws/iam.py).
KEY_TYPE = "AWS::KMS::Key"
KEY_USE = {"token": (("kms:Decrypt", "tunnel token: the secret and tables under the key"),)}

# What a resource's schema omits. An HTTP API stage with access logging makes API Gateway add
# a CloudWatch Logs delivery: "Configure logging for HTTP APIs in API Gateway", Permissions to
# activate logging, https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-logging.html
HTTP_API_LOG_DELIVERY = (
    "logs:CreateLogDelivery",
    "logs:PutResourcePolicy",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:CreateLogGroup",
    "logs:DescribeResourcePolicies",
    "logs:GetLogDelivery",
    "logs:ListLogDeliveries",
    "logs:DescribeLogGroups",
)
SCHEMA_GAPS: dict[tuple[str, str], tuple[str, ...]] = {
    ("AWS::ApiGatewayV2::Stage", "AccessLogSettings"): HTTP_API_LOG_DELIVERY,
}

# Operation -> IAM action is "<prefix>:<Operation>" but for these (API Gateway's management
# actions are the HTTP verbs: apigateway:GET/POST/PUT/PATCH/DELETE, "Actions, resources, and
# condition keys for Amazon API Gateway Management"; the @connections API is one action).
SIGNING_PREFIX = {"monitoring": "cloudwatch"}
S3_ACTIONS = {
    "HeadBucket": "s3:ListBucket",
    "HeadObject": "s3:GetObject",
    "ListObjects": "s3:ListBucket",
    "ListObjectsV2": "s3:ListBucket",
    "ListObjectVersions": "s3:ListBucketVersions",
    "DeleteObjects": "s3:DeleteObject",
}
UNAUTHORISED = {("sts", "GetCallerIdentity")}  # "No permissions are required" (STS reference)

_ACTION = re.compile(r"^[a-z0-9-]+:[A-Za-z0-9*]+$")


class PolicyError(Exception):
    """One line saying what cannot be derived."""


def iam_action(signing_name: str, operation: str, method: str = "") -> str | None:
    """The IAM action that authorises ``operation`` of the service signed as ``signing_name``
    (None: no permission needed)."""
    if (signing_name, operation) in UNAUTHORISED:
        return None
    if signing_name == "apigateway":
        return f"apigateway:{method.upper()}"
    if signing_name == "execute-api":
        return "execute-api:ManageConnections"
    if signing_name == "s3" and operation in S3_ACTIONS:
        return S3_ACTIONS[operation]
    return f"{SIGNING_PREFIX.get(signing_name, signing_name)}:{operation}"


def rendered_resources(
    environment: str, project: Path = PROJECT_PATH
) -> tuple[str, list[dict[str, Any]]]:
    """The region and every resource of the stacks ``sceptre launch ENVIRONMENT`` launches (with
    the account stacks it depends on), rendered offline as ``make render`` does."""
    context = SceptreContext(project_path=str(project), command_path=environment)
    plan = SceptrePlan(context)
    plan.resolve(command=plan.generate.__name__)
    plan.filter(launched)
    regions, resources = set(), []
    for stack, body in plan.generate().items():
        regions.add(stack.region)
        resources.extend(parse_template(body).get("Resources", {}).values())
    if len(regions) != 1:
        raise PolicyError(f"{environment}: stacks in regions {sorted(regions)}; give one region")
    return regions.pop(), resources


def _schemas() -> Path:
    import cfnlint

    return Path(cfnlint.__file__).parent / "data" / "schemas"


def resource_actions(
    region: str, resources: Iterable[dict[str, Any]], handlers_used: Iterable[str] = HANDLERS
) -> set[str]:
    """The handler permissions CloudFormation needs for these resources, from their schemas."""
    providers = json.loads((_schemas() / "providers" / f"{region}.json").read_text())
    actions: set[str] = set()
    for resource in resources:
        kind = str(resource.get("Type", ""))
        if kind not in providers:
            raise PolicyError(f"no registry schema for {kind} in {region}")
        schema = json.loads((_schemas() / "resources" / f"{providers[kind]}.json").read_text())
        handlers = schema.get("handlers", {})
        for handler in handlers_used:
            actions.update(handlers.get(handler, {}).get("permissions", []))
        for (gap_type, prop), extra in SCHEMA_GAPS.items() if "create" in handlers_used else ():
            if kind == gap_type and prop in resource.get("Properties", {}):
                actions.update(extra)
    return actions


def _canonical(actions: Iterable[str]) -> list[str]:
    """Sorted, one spelling per action (IAM compares them case-insensitively; schemas mix
    ``s3:getObject`` with ``s3:GetObject``), without entries that are no IAM action at all
    (a schema lists ``s3:REST.PUT.OBJECT``, an S3 log name)."""
    chosen: dict[str, str] = {}
    for action in actions:
        if not _ACTION.match(action):
            continue
        key = action.lower()
        # Prefer the spelling of AWS's reference: the action name capitalised.
        if key not in chosen or action.split(":", 1)[1][:1].isupper():
            chosen[key] = action
    return sorted(chosen.values(), key=str.lower)


def policy(environment: str, commands: Iterable[str] = COMMANDS) -> dict[str, Any]:
    """The policy document for ``commands`` in ``environment``: one statement per command with
    its direct calls, and one with what CloudFormation does for the commands that deploy."""
    commands = [c for c in COMMANDS if c in set(commands)]
    region, resources = rendered_resources(environment)
    has_key = any(r.get("Type") == KEY_TYPE for r in resources)
    statements = []
    names = {
        "partition": boto3.session.Session().get_partition_for_region(region),
        "region": region,
        "signing_key": resource_name(SIGNING_KEY.key, environment),
    }
    for command in commands:
        direct = [action for action, _ in DIRECT[command]]
        if has_key:
            direct += [action for action, _ in KEY_USE.get(command, ())]
        scoped = {a: SCOPED[command, a].format(**names) for a in direct if (command, a) in SCOPED}
        statements.append(_statement(command.capitalize(), [a for a in direct if a not in scoped]))
        for action, arn in scoped.items():
            statements.append(_statement(f"{command.capitalize()}Named", [action], arn))
    deploying = [c.capitalize() for c in commands if c in RESOURCE_COMMANDS]
    if deploying:
        sid = f"ResourcesFor{'And'.join(deploying)}"
        statements.append(_statement(sid, resource_actions(region, resources)))
    reading = [c.capitalize() for c in commands if c in READING_COMMANDS]
    if reading and not deploying:  # the deploying statement holds every read handler already
        sid = f"ResourcesReadFor{'And'.join(reading)}"
        statements.append(_statement(sid, resource_actions(region, resources, READ_HANDLERS)))
    return {"Version": "2012-10-17", "Statement": statements}


def _statement(sid: str, actions: Iterable[str], resource: str = "*") -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Action": _canonical(actions), "Resource": resource}


def allowed(document: dict[str, Any]) -> set[str]:
    """Every action a policy document from ``policy`` allows, lower case."""
    return {a.lower() for s in document["Statement"] for a in s["Action"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tunnel_infra.deployer_policy", description=__doc__.splitlines()[0]
    )
    parser.add_argument("environment", help="dev, staging, prod: as under config/")
    parser.add_argument(
        "--command",
        choices=COMMANDS,
        action="append",
        help="only this command's permissions (repeatable; default: all)",
    )
    args = parser.parse_args(argv)
    if not (PROJECT_PATH / "config" / args.environment).is_dir():
        print(
            f"deployer-policy: no environment {args.environment!r} under config/", file=sys.stderr
        )
        return 2
    try:
        document = policy(args.environment, args.command or COMMANDS)
    except (PolicyError, SceptreException) as error:
        print(f"deployer-policy: {error}", file=sys.stderr)
        return 1
    print(json.dumps(document, indent=2))
    size = len(re.sub(r"\s", "", json.dumps(document)))
    if size > MANAGED_POLICY_CHARACTERS:
        print(
            f"deployer-policy: {size} characters, over a managed policy's "
            f"{MANAGED_POLICY_CHARACTERS}: attach it inline (a role's inline policies hold "
            f"{ROLE_INLINE_CHARACTERS} together)",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
