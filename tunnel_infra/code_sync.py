"""``python -m tunnel_infra.code_sync dev [--watch]``: put changed function code live in seconds.

A launch of one changed function takes several seconds, nearly all of it CloudFormation (and
Sceptre polling it) updating the functions stack. While iterating on a handler, only the code
changes; this calls ``lambda:UpdateFunctionCode`` directly on exactly the functions whose deployed
code differs from the local zip, as ``sam sync --code`` and ``cdk deploy --hotswap`` do.

That leaves the functions stack **drifted**: CloudFormation still records the old
``<Name>CodeKey`` parameters while the functions run newer code. The drift is harmless and
reconciled by the next ``sceptre launch <env>``: the zips are packaged by the same packer under the
same content-addressed keys (``functions/<name>/<sha256>.zip``), so the launch sets each
``<Name>CodeKey`` to exactly the key synced here and the code stays what it is. Because it bypasses
CloudFormation and review, sync refuses protected environments (``protect: true`` in their Sceptre
config): their code changes only through ``make review`` then ``make deploy``.

Steps, one function each (as Sceptre's plan runs actions): read the environment's config, refuse a
protected one, package, find the deployed functions and the artifacts bucket, compare each
function's ``CodeSha256``, upload the missing zips, update and wait, report.

Lambda limits its API per account and region: ``GetFunction`` to 100 requests per second, and all
other control-plane calls together (``GetFunctionConfiguration`` and ``UpdateFunctionCode``
among them) to 15 (``aws_fidelity.rules.check_lambda_request_rate``). So every read is a
``GetFunction``, and the calls of all the concurrent updates share one pace per quota, at half of
it: the rest is left to whatever else uses the account meanwhile. The deployer needs
``cloudformation:DescribeStacks``, ``cloudformation:ListStackResources``, ``s3:GetObject`` (for
``HeadObject``, and for Lambda to read the zip) and ``s3:PutObject`` on the artifacts bucket, and
``lambda:GetFunction`` and ``lambda:UpdateFunctionCode`` on the environment's functions.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from aws_fidelity import lambda_code, rules
from tunnel_infra.config_errors import settings_error_line
from tunnel_infra.functions import FUNCTIONS
from tunnel_infra.packaging import Artifact, PackagingError, functions_root, package
from tunnel_infra.settings import ExistingFunction, SettingsError, parse_settings

EXIT_ERROR = 1
EXIT_PROTECTED = 2
WATCH_INTERVAL_SECONDS = 0.4
DEBOUNCE_SECONDS = 0.3
UPDATE_TIMEOUT_SECONDS = 300.0
# Lambda refuses UpdateFunctionCode while the function is being created (State Pending) or another
# update is in progress (LastUpdateStatus InProgress): ResourceConflictException.
CONFLICT_RETRIES = 3

# (service, command, kwargs) -> response, made through the stack's own Sceptre connection manager:
# its profile, region, role and AWS_ENDPOINT_URL, as a launch uses them.
Call = Callable[[str, str, dict[str, Any]], dict[str, Any]]
# A file under functions/ (relative to the project) -> (mtime in ns, size).
TreeState = dict[str, tuple[int, int]]


class Pace:
    """At most ``per_second`` calls, whichever thread makes them: each waits for its turn."""

    def __init__(self, per_second: float) -> None:
        self.interval = 1.0 / per_second
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = time.monotonic()
            turn = max(now, self._next)
            self._next = turn + self.interval
        if turn > now:
            time.sleep(turn - now)


# Half of each of Lambda's per-account quotas: the other half is for everyone else.
GET_FUNCTION_PACE = Pace(rules.LAMBDA_GET_FUNCTION_PER_SECOND / 2)
CONTROL_PLANE_PACE = Pace(rules.LAMBDA_CONTROL_PLANE_PER_SECOND / 2)


class SyncError(Exception):
    """A step failed; the message is the one line the user sees."""


class Protected(SyncError):
    """The environment is protected: its code changes only through review and deploy."""


@dataclass(frozen=True)
class Target:
    """What the environment's Sceptre config says, read without calling AWS."""

    environment: str
    project: Path
    functions_stack: str
    artifacts_stack: str
    architecture: str
    protected: bool
    call: Call
    # Functions named in existing_functions: someone else's code, never synced here.
    existing: dict[str, ExistingFunction] = field(default_factory=dict)

    def ours(self, name: str) -> bool:
        return name not in self.existing


@dataclass(frozen=True)
class Deployed:
    """What is launched: the artifacts bucket and each local function's deployed name."""

    bucket: str
    functions: dict[str, str]


@dataclass(frozen=True)
class Result:
    name: str
    updated: bool
    key: str
    seconds: float = 0.0

    @property
    def line(self) -> str:
        if not self.updated:
            return f"{self.name:<11} unchanged"
        return f"{self.name:<11} updated  {short_key(self.key)}  {self.seconds:.1f}s"


def short_key(key: str) -> str:
    """``functions/forwarding/ab12cd34ef56….zip``: enough of the SHA-256 to tell zips apart."""
    folder, _, file = key.rpartition("/")
    digest = file.removesuffix(".zip")
    return f"{folder}/{digest[:12]}….zip" if len(digest) > 12 else key


def code_sha256(artifact: Artifact) -> str:
    """Lambda's ``CodeSha256`` of the zip."""
    return lambda_code.code_sha256(artifact.data)


def read_target(project: Path, environment: str) -> Target:
    """The functions and artifacts stacks as Sceptre's own config reader builds them (inherited
    ``protect``, ``sceptre_user_data``, names, region, profile): no AWS call."""
    from sceptre.config.reader import ConfigReader  # Sceptre's import costs ~0.4 s: only here
    from sceptre.context import SceptreContext
    from sceptre.exceptions import SceptreException

    if not (project / "config" / environment).is_dir():
        raise SyncError(f"no environment {environment!r}: config/{environment}/ does not exist")
    try:
        context = SceptreContext(project_path=str(project), command_path=environment)
        stacks, _ = ConfigReader(context).construct_stacks()
    except SceptreException as error:
        raise SyncError(f"cannot read the {environment} config: {error}") from None
    by_name = {stack.name: stack for stack in stacks}
    missing = [n for n in ("functions", "artifacts") if f"{environment}/{n}" not in by_name]
    if missing:
        raise SyncError(f"config/{environment}/ has no {' or '.join(missing)} stack")
    functions = by_name[f"{environment}/functions"]
    artifacts = by_name[f"{environment}/artifacts"]
    try:
        settings = parse_settings(functions.sceptre_user_data or {})
    except SceptreException as error:
        raise SyncError(f"cannot read the {environment} config: {error}") from None
    except SettingsError as error:
        raise SyncError(settings_error_line(project, functions.name, error)) from None

    def call(service: str, command: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        return functions.connection_manager.call(service, command, kwargs)

    return Target(
        environment=environment,
        project=project,
        functions_stack=str(functions.external_name),
        artifacts_stack=str(artifacts.external_name),
        architecture=settings.architecture,
        protected=bool(functions.protected),
        call=call,
        existing=settings.existing_functions,
    )


def refuse_protected(target: Target) -> None:
    if target.protected:
        env = target.environment
        raise Protected(
            f"{env} is protected (protect: true in its Sceptre config): sync bypasses review; "
            f"ship code with make review ENV={env}, then make deploy ENV={env}"
        )


def package_functions(target: Target) -> dict[str, Artifact]:
    """Every function's zip, exactly as the launch's hook and resolver build them (ours only)."""
    try:
        return {
            function.name: package(target.project, function.name, target.architecture)
            for function in FUNCTIONS
            if target.ours(function.name)
        }
    except PackagingError as error:
        raise SyncError(f"cannot package: {error}") from None


def describe_stack(target: Target, stack_name: str) -> dict[str, Any]:
    try:
        return target.call("cloudformation", "describe_stacks", {"StackName": stack_name})[
            "Stacks"
        ][0]
    except ClientError as error:
        if "does not exist" in _message(error):
            raise SyncError(
                f"{target.environment} is not launched: stack {stack_name} does not exist; "
                f"run sceptre launch {target.environment} first"
            ) from None
        raise


def artifacts_bucket(target: Target) -> str:
    stack = describe_stack(target, target.artifacts_stack)
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    if "ArtifactsBucketName" not in outputs:
        raise SyncError(f"stack {target.artifacts_stack} has no ArtifactsBucketName output")
    return outputs["ArtifactsBucketName"]


def deployed_functions(target: Target) -> dict[str, str]:
    """Local function name -> deployed function name, from the functions stack's
    ``AWS::Lambda::Function`` resources (logical id ``<Name>Function``)."""
    stack = describe_stack(target, target.functions_stack)
    if stack["StackStatus"].endswith("_IN_PROGRESS"):
        raise SyncError(
            f"stack {target.functions_stack} is {stack['StackStatus']}: sync once it settles"
        )
    by_logical_id = {
        f"{function.title}Function": function.name
        for function in FUNCTIONS
        if target.ours(function.name)
    }
    found: dict[str, str] = {}
    for resource in _stack_resources(target):
        if resource["ResourceType"] == "AWS::Lambda::Function":
            name = by_logical_id.get(resource["LogicalResourceId"])
            if name and resource.get("PhysicalResourceId"):
                found[name] = resource["PhysicalResourceId"]
    missing = sorted(set(by_logical_id.values()) - set(found))
    if missing:
        raise SyncError(
            f"stack {target.functions_stack} has no function for {', '.join(missing)}: "
            f"run sceptre launch {target.environment} to create it"
        )
    return found


def _stack_resources(target: Target) -> Iterator[dict[str, Any]]:
    kwargs: dict[str, Any] = {"StackName": target.functions_stack}
    while True:
        page = target.call("cloudformation", "list_stack_resources", kwargs)
        yield from page.get("StackResourceSummaries", [])
        if not page.get("NextToken"):
            return
        kwargs = {**kwargs, "NextToken": page["NextToken"]}


def find_deployed(target: Target) -> Deployed:
    return Deployed(bucket=artifacts_bucket(target), functions=deployed_functions(target))


def function_configuration(target: Target, function_name: str) -> dict[str, Any]:
    """The function's configuration, read with GetFunction: its quota is not the 15 per second
    that every other control-plane call shares (UpdateFunctionCode among them)."""
    GET_FUNCTION_PACE.wait()
    return target.call("lambda", "get_function", {"FunctionName": function_name})["Configuration"]


def needs_update(configuration: dict[str, Any], artifact: Artifact, architecture: str) -> bool:
    """Whether the deployed code differs from the local zip. A function deployed for another
    architecture than the config's is a configuration change: only a launch may make it."""
    if configuration.get("CodeSha256") == code_sha256(artifact):
        return False
    deployed = configuration.get("Architectures") or ["x86_64"]
    if deployed != [architecture]:
        raise SyncError(
            f"function {artifact.name} runs on {deployed[0]} but the config says {architecture}: "
            "a configuration change, which sceptre launch makes"
        )
    return True


def upload_missing(target: Target, bucket: str, artifact: Artifact) -> bool:
    """Upload the zip unless its content-addressed key is already there (as the launch's hook)."""
    try:
        target.call("s3", "head_object", {"Bucket": bucket, "Key": artifact.key})
        return False
    except ClientError as error:
        if _code(error) not in ("404", "NoSuchKey", "NotFound"):
            raise SyncError(f"cannot check s3://{bucket}/{artifact.key} ({_code(error)})") from None
    try:
        target.call(
            "s3",
            "put_object",
            {
                "Bucket": bucket,
                "Key": artifact.key,
                "Body": artifact.data,
                "ContentType": "application/zip",
            },
        )
    except ClientError as error:
        raise SyncError(
            f"upload of {artifact.name} to s3://{bucket}/{artifact.key} failed ({_code(error)})"
        ) from None
    return True


def update_code(target: Target, function_name: str, bucket: str, artifact: Artifact) -> None:
    """UpdateFunctionCode from S3; on a conflict (another update in progress), wait and retry."""
    request = {"FunctionName": function_name, "S3Bucket": bucket, "S3Key": artifact.key}
    for attempt in range(CONFLICT_RETRIES + 1):
        try:
            CONTROL_PLANE_PACE.wait()
            target.call("lambda", "update_function_code", request)
            return
        except ClientError as error:
            if _code(error) == "ResourceConflictException" and attempt < CONFLICT_RETRIES:
                wait_until_updated(target, function_name)
                continue
            raise SyncError(
                f"function {artifact.name}: UpdateFunctionCode refused "
                f"({_code(error)}: {_message(error)})"
            ) from None


def wait_until_updated(target: Target, function_name: str) -> dict[str, Any]:
    """Poll until LastUpdateStatus is Successful and State no longer Pending: every 0.1 s for
    the first 2 s (a code update usually takes about that long), then less often, up to every
    1 s; all functions' polls together within ``GET_FUNCTION_PACE``."""
    deadline = time.monotonic() + UPDATE_TIMEOUT_SECONDS
    started = time.monotonic()
    delay = 0.1
    while True:
        configuration = function_configuration(target, function_name)
        state = configuration.get("State", "Active")
        status = configuration.get("LastUpdateStatus", "Successful")
        if status == "Failed" or state == "Failed":
            reason = configuration.get("LastUpdateStatusReason") or configuration.get(
                "StateReason", "no reason given"
            )
            raise SyncError(f"function {function_name}: the update failed: {reason}")
        # Inactive (idle, its resources reclaimed) becomes Active only when invoked: done too.
        if state in ("Active", "Inactive") and status == "Successful":
            return configuration
        if time.monotonic() > deadline:
            raise SyncError(
                f"function {function_name}: still {state}/{status} after "
                f"{UPDATE_TIMEOUT_SECONDS:.0f} s"
            )
        time.sleep(delay)
        if time.monotonic() - started > 2.0:
            delay = min(delay * 2, 1.0)


def sync_function(
    target: Target, deployed: Deployed, artifact: Artifact, function_name: str
) -> Result:
    """Compare, then upload, update and wait: one function, start to finish."""
    started = time.perf_counter()
    configuration = function_configuration(target, function_name)
    if not needs_update(configuration, artifact, target.architecture):
        return Result(artifact.name, updated=False, key=artifact.key)
    upload_missing(target, deployed.bucket, artifact)
    if (
        configuration.get("LastUpdateStatus") == "InProgress"
        or configuration.get("State") == "Pending"
    ):
        wait_until_updated(target, function_name)
    update_code(target, function_name, deployed.bucket, artifact)
    configuration = wait_until_updated(target, function_name)
    if configuration.get("CodeSha256") != code_sha256(artifact):
        raise SyncError(
            f"function {artifact.name}: deployed CodeSha256 {configuration.get('CodeSha256')} "
            f"is not the zip's {code_sha256(artifact)}"
        )
    return Result(
        artifact.name, updated=True, key=artifact.key, seconds=time.perf_counter() - started
    )


def sync(target: Target) -> list[Result]:
    """One sync: package, find what is deployed, update the functions that differ, concurrently."""
    artifacts = package_functions(target)
    deployed = find_deployed(target)
    with ThreadPoolExecutor(max_workers=max(1, len(artifacts))) as pool:
        futures = [
            pool.submit(sync_function, target, deployed, artifact, deployed.functions[name])
            for name, artifact in artifacts.items()
        ]
        return [future.result() for future in futures]


def report(target: Target, results: list[Result]) -> None:
    for result in results:
        print(result.line, flush=True)
    for name, existing in sorted(target.existing.items()):
        print(
            f"{name:<11} not synced: {existing.arn} is an existing function (existing_functions"
            f".{name}), whose code its owner deploys",
            flush=True,
        )
    if any(result.updated for result in results):
        print(
            f"stack {target.functions_stack} has drifted from its template (its CodeKey "
            f"parameters name the previous zips) until the next sceptre launch "
            f"{target.environment}, which reconciles it",
            flush=True,
        )


def sync_once(target: Target) -> None:
    """One sync with its report; AWS failures become one-line errors."""
    try:
        report(target, sync(target))
    except ClientError as error:
        raise SyncError(f"AWS refused a call: {_code(error)}: {_message(error)}") from None
    except BotoCoreError as error:
        raise SyncError(f"cannot reach AWS: {error}") from None


def tree_state(root: Path) -> TreeState:
    """Every file under ``functions/`` (caches aside): relative path -> (mtime, size)."""
    found: TreeState = {}
    for path in root.rglob("*"):
        if "__pycache__" in path.parts or path.suffix in (".pyc", ".pyo"):
            continue
        try:
            stat = path.stat()
        except OSError:  # removed between listing and stat
            continue
        if path.is_file():
            found[path.relative_to(root.parent).as_posix()] = (stat.st_mtime_ns, stat.st_size)
    return found


def changed_files(
    before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]
) -> list[str]:
    return sorted(
        path for path in before.keys() | after.keys() if before.get(path) != after.get(path)
    )


def wait_for_change(root: Path, state: TreeState) -> TreeState:
    """Poll until the tree differs from ``state``, then until it holds still for the debounce."""
    while True:
        time.sleep(WATCH_INTERVAL_SECONDS)
        current = tree_state(root)
        if current != state:
            break
    while True:  # an editor's save, or a checkout, writes several files in a burst
        time.sleep(DEBOUNCE_SECONDS)
        settled = tree_state(root)
        if settled == current:
            return settled
        current = settled


def watch(target: Target) -> None:
    """Sync, then re-sync on every change under ``functions/`` until interrupted."""
    root = functions_root(target.project)
    state = tree_state(root)
    _sync_reporting_errors(target)
    print(f"watching {root}/ (Ctrl-C stops)", flush=True)
    while True:
        new_state = wait_for_change(root, state)
        paths = changed_files(state, new_state)
        state = new_state
        shown = ", ".join(paths[:5]) + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")
        print(f"changed: {shown}", flush=True)
        _sync_reporting_errors(target)


def _sync_reporting_errors(target: Target) -> None:
    """In watch mode a failed sync (a syntax error mid-edit) is reported, not fatal."""
    try:
        sync_once(target)
    except SyncError as error:
        print(f"sync failed: {error}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tunnel-sync", description=__doc__.splitlines()[0].split(": ", 1)[-1]
    )
    parser.add_argument("environment", help="a folder of config/, e.g. dev")
    parser.add_argument("--watch", action="store_true", help="re-sync on every change")
    parser.add_argument(
        "--dir", type=Path, default=Path.cwd(), help="the Sceptre project (default: cwd)"
    )
    args = parser.parse_args(argv)
    # Ctrl-C stops it, even when started where SIGINT is inherited ignored (a shell's `&`).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        target = read_target(args.dir.resolve(), args.environment)
        refuse_protected(target)
        if args.watch:
            watch(target)
        else:
            sync_once(target)
    except Protected as error:
        print(error, file=sys.stderr)
        return EXIT_PROTECTED
    except SyncError as error:
        print(error, file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 0
    return 0


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", "unknown error"))


def _message(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Message", ""))


if __name__ == "__main__":
    sys.exit(main())
