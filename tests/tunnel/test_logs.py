"""``tunnel logs`` on the local stack: the local gateway writes each function's lines to the
emulator's log groups, as Lambda does, and the command reads them back, one line per invocation.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable

import pytest

from tests.tunnel.conftest import TUNNEL, Agent, Tunnel

# The line tunnel logs prints: time, function, subdomain, status, duration, request id.
LINE = re.compile(
    r"^(?P<time>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)\s+(?P<function>\S+)\s+(?P<subdomain>\S+)"
    r"\s+(?P<status>\S+)\s+(?P<ms>[\d.]+ms|-)\s+(?P<request>\S+)$"
)
STREAM = re.compile(r"^\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}$")
SECRET_QUERY = "token=querysecret123&code=codesecret456"
SECRET_BODY = b"bodysecret789 " * 20


def logs(tunnel: Tunnel, *arguments: str) -> subprocess.CompletedProcess[str]:
    return tunnel.run(str(TUNNEL), "logs", "--environment", "dev", *arguments)


def wait_for_lines(
    tunnel: Tunnel, found: Callable[[list[re.Match[str]]], bool], *arguments: str
) -> list[re.Match[str]]:
    """Run ``tunnel logs ARGUMENTS`` until its lines satisfy ``found`` (the workers write their
    lines from a background thread), or fail with the last output."""
    deadline = time.monotonic() + 30
    while True:
        done = logs(tunnel, *arguments)
        assert done.returncode == 0, done.stderr
        lines = [m for line in done.stdout.splitlines() if (m := LINE.match(line))]
        assert len(lines) == len(done.stdout.splitlines()), done.stdout
        if found(lines):
            return lines
        if time.monotonic() > deadline:
            raise AssertionError(f"tunnel logs {arguments} never showed it:\n{done.stdout}")
        time.sleep(0.3)


@pytest.fixture(scope="module")
def served(tunnel: Tunnel) -> tuple[str, str]:
    """One request through a tunnel for subdomain ``logged``, with a token, a query string and
    a body: (the agent's token, the tunnel request id its forwarding line names)."""
    token = tunnel.token("logged")
    agent = tunnel.agent(token)
    agent.wait_for(r"^Forwarding ")
    status, _, _ = tunnel.request(
        "logged",
        "POST",
        f"/echo?{SECRET_QUERY}",
        headers=[("Authorization", "Bearer headersecret000")],
        body=SECRET_BODY,
    )
    assert status == 200
    lines = wait_for_lines(
        tunnel,
        lambda found: any(
            m["function"] == "forwarding" and m["subdomain"] == "logged" for m in found
        ),
        "--since",
        "5m",
    )
    (forwarding,) = [m for m in lines if m["function"] == "forwarding"]
    return token, forwarding["request"]


def test_a_request_shows_as_its_forwarding_and_response_lines(tunnel, served):
    _, request_id = served
    lines = wait_for_lines(
        tunnel,
        lambda found: any(
            m["function"] == "response" and m["request"] == request_id for m in found
        ),
        "--since",
        "5m",
        "--subdomain",
        "logged",
    )
    by_function = {m["function"]: m for m in lines if m["request"] == request_id}
    assert set(by_function) == {"forwarding", "response"}
    for line in by_function.values():
        assert line["subdomain"] == "logged"  # the response line's, from its forwarding line
        assert line["status"] == "200"
        assert float(line["ms"].removesuffix("ms")) > 0
    # The agent's connection shows too: authorizer and connect, with the subdomain.
    functions = {m["function"] for m in lines}
    assert {"authorizer", "connect"} <= functions


def test_function_filters_and_another_subdomain_shows_nothing(tunnel, served):
    lines = wait_for_lines(tunnel, bool, "--since", "5m", "--function", "forwarding")
    assert {m["function"] for m in lines} == {"forwarding"}
    several = wait_for_lines(tunnel, bool, "--since", "5m", "--function", "connect,forwarding")
    assert {m["function"] for m in several} == {"connect", "forwarding"}
    other = logs(tunnel, "--since", "5m", "--subdomain", "other")
    assert other.returncode == 0 and other.stdout == "", other.stderr


def test_no_token_query_or_body_appears(tunnel, served):
    token, _ = served
    done = logs(tunnel, "--since", "5m")
    everything = done.stdout + done.stderr
    secrets = [token, "querysecret123", "codesecret456", "bodysecret789", "headersecret000"]
    assert [s for s in secrets if s in everything] == [], everything
    # Nor in what the functions wrote to CloudWatch Logs.
    client = tunnel.client("logs")
    for group in client.describe_log_groups(logGroupNamePrefix="/aws/lambda/")["logGroups"]:
        events = client.filter_log_events(logGroupName=group["logGroupName"])["events"]
        text = "\n".join(e["message"] for e in events)
        assert [s for s in secrets if s in text] == [], group["logGroupName"]


def test_the_gateway_writes_lambda_s_streams_and_lines(tunnel, served):
    """Each worker is an execution environment: a stream named as Lambda names them, in the
    group the functions stack created, holding START, END and REPORT around each line."""
    client = tunnel.client("logs")
    group = "/aws/lambda/http-tunnel-forwarding-dev"
    streams = client.describe_log_streams(logGroupName=group)["logStreams"]
    assert streams and all(STREAM.match(s["logStreamName"]) for s in streams), streams
    messages = [e["message"] for e in client.filter_log_events(logGroupName=group)["events"]]
    assert any(m.startswith("START RequestId: ") for m in messages)
    assert any(m.startswith("REPORT RequestId: ") and "Duration: " in m for m in messages)
    assert any('"function": "forwarding"' in m for m in messages)


def test_follow_prints_a_request_made_after_it_started(tunnel, served):
    follower = Agent(
        subprocess.Popen(
            [str(TUNNEL), "logs", "--environment", "dev", "--follow", "--since", "1s"],
            cwd=tunnel.root,
            env=tunnel.environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
    )
    try:
        follower.wait_for(r"^Following .* in dev")
        status, _, _ = tunnel.request("logged", "GET", "/after-follow")
        assert status == 200
        follower.wait_for(r"forwarding\s+logged\s+200\s", timeout=30)
    finally:
        follower.stop()


def test_a_bad_since_gets_one_line_and_exit_2(tunnel):
    done = logs(tunnel, "--since", "yesterday-ish")
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and "--since 'yesterday-ish'" in done.stderr
    unknown = logs(tunnel, "--function", "nosuch")
    assert unknown.returncode == 2 and unknown.stderr.count("\n") == 1
    assert "forwarding" in unknown.stderr  # it names the functions there are
