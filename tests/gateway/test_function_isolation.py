"""Each function runs in its own process with exactly its deployed environment (plus what Lambda
sets), so a handler that reads another function's variable fails here as it would on AWS; a
function whose process dies fails what it was running and is started again."""

from __future__ import annotations

import json
import threading
import time

import pytest
from websockets.exceptions import InvalidStatus

from tests.gateway.conftest import http_request
from tests.gateway.recording import ENVIRONMENT_KEYS, RECORDS
from tests.gateway.websocket_client import new_tag, on_connection, open_socket, tagged, whoami

FUNCTIONS = ("authorizer", "connect", "disconnect", "forwarding", "response")
# What every worker has besides its deployed variables: Lambda's reserved variables, the
# gateway's endpoint and credentials, what Python needs, and the one variable passed on purpose.
RUNTIME_NAMES = {
    "_HANDLER",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "LAMBDA_TASK_ROOT",
    "TZ",
    "AWS_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "PATH",
    "PYTHONUNBUFFERED",
    RECORDS,
}
# Present only if the gateway had them (or, LC_CTYPE, set by Python itself in a C locale).
MAYBE_NAMES = {"AWS_SESSION_TOKEN", "PYTHONPATH", "LD_LIBRARY_PATH", "LC_CTYPE"}
INTERNAL_ERROR = b'{"message": "Internal Server Error"}'


@pytest.fixture(scope="module")
def deployed_environments(launched) -> dict[str, dict[str, str]]:
    lam = launched.client("lambda")
    return {
        name: lam.get_function_configuration(FunctionName=f"http-tunnel-{name}-dev")
        .get("Environment", {})
        .get("Variables", {})
        for name in FUNCTIONS
    }


def refused_status(gateway, query: str) -> int:
    with pytest.raises(InvalidStatus) as refused:
        open_socket(gateway, query)
    return refused.value.response.status_code


def test_the_deployment_gives_the_functions_different_variables(deployed_environments):
    """The premise of the tests below: otherwise they prove nothing."""
    assert "CONNECTIONS_TABLE" in deployed_environments["connect"]
    assert "CONNECTIONS_TABLE" not in deployed_environments["authorizer"]
    assert "SIGNING_KEY_SECRET_ARN" in deployed_environments["authorizer"]
    assert "SIGNING_KEY_SECRET_ARN" not in deployed_environments["forwarding"]
    assert "CONNECTIONS_ENDPOINT" not in deployed_environments["disconnect"]


def test_each_function_sees_its_own_variables_and_nothing_of_the_others(
    gateway, records, deployed_environments
):
    tag = new_tag()
    with open_socket(gateway, f"token=allow&tag={tag}") as socket:
        connection_id = whoami(socket)["connectionId"]
    status, _, _ = http_request(gateway, "GET", f"/isolation?tag={tag}")
    assert status == 200
    entries = {
        "authorizer": records.wait_for("authorizer", tagged(tag))[0],
        "connect": records.wait_for("connect", tagged(tag))[0],
        "response": records.wait_for("response", on_connection(connection_id))[0],
        "disconnect": records.wait_for("disconnect", on_connection(connection_id))[0],
        "forwarding": records.wait_for(
            "forwarding", lambda e: e["event"].get("rawQueryString") == f"tag={tag}"
        )[0],
    }
    for name, entry in entries.items():
        names = set(entry["environment_names"])
        own = set(deployed_environments[name])
        assert own <= names, name
        for other, environment in deployed_environments.items():
            assert not (set(environment) - own) & names, f"{name} sees {other}'s variables"
        leaked = {n for n in names - own - RUNTIME_NAMES - MAYBE_NAMES}
        assert {n for n in leaked if not n.startswith("AWS_ENDPOINT_URL_")} == set(), name
        assert RUNTIME_NAMES <= names, name
        assert entry["context"]["function_name"] == f"http-tunnel-{name}-dev"
        assert 0 < entry["context"]["remaining_ms"] <= 30_000
    local = {
        "CONNECTIONS_ENDPOINT": f"http://127.0.0.1:{gateway.port}/dev",
        "PUBLIC_URL_FORMAT": gateway.public_url_format,  # the deployed form, local names
    }
    for name, entry in entries.items():
        deployed = deployed_environments[name]
        # The local endpoints replace the deployed ones, for the functions deployed with them
        # only; the rest is as deployed, or absent.
        assert entry["environment"] == {
            key: (local.get(key, deployed[key]) if key in deployed else None)
            for key in ENVIRONMENT_KEYS
        }, name
    for name in ("connect", "response", "forwarding"):  # those that call @connections
        assert entries[name]["environment"]["CONNECTIONS_ENDPOINT"] == local["CONNECTIONS_ENDPOINT"]
    assert entries["authorizer"]["environment"] == {
        "CONNECTIONS_ENDPOINT": None,
        "PUBLIC_URL_FORMAT": None,
        "CONNECTIONS_TABLE": None,
        "ENVIRONMENT": "dev",
    }


def test_an_authorizer_reading_another_functions_variable_fails(gateway, records):
    tag = new_tag()
    with open_socket(gateway, f"token=allow&read=ENVIRONMENT&tag={tag}"):
        pass  # its own variable: allowed
    records.wait_for("connect", tagged(tag))
    refused = new_tag()
    # CONNECTIONS_TABLE is deployed for $connect, not for the authorizer: a 500, as on AWS.
    assert refused_status(gateway, f"token=allow&read=CONNECTIONS_TABLE&tag={refused}") == 500
    records.wait_for("authorizer", tagged(refused))
    time.sleep(0.2)
    assert records.matching("connect", tagged(refused)) == []
    log = gateway.log()
    assert "[http-tunnel-authorizer-dev] Traceback" in log
    assert "KeyError: 'CONNECTIONS_TABLE'" in log


def test_an_http_handler_reading_another_functions_or_the_gateways_variable_fails(gateway):
    status, _, body = http_request(gateway, "GET", "/env/TOKENS_TABLE")
    assert (status, body) == (200, b"http-tunnel-tokens-dev")
    # Forwarding's answers URL is this gateway's (as CONNECTIONS_ENDPOINT is).
    status, _, body = http_request(gateway, "GET", "/env/ANSWERS_URL")
    assert status == 200 and body.startswith(f"ws://127.0.0.1:{gateway.port}/".encode()), body
    # The authorizer's secret, response's answers endpoint, and the gateway's own HOME: none
    # reaches forwarding.
    for name in ("SIGNING_KEY_SECRET_ARN", "ANSWERS_ENDPOINT", "HOME"):
        status, _, body = http_request(gateway, "GET", f"/env/{name}")
        assert (status, body) == (500, INTERNAL_ERROR), name
        assert f"KeyError: '{name}'" in gateway.log()


def test_a_crashed_function_fails_what_it_was_running_and_starts_again(gateway, records, launched):
    tag = new_tag()
    answers: list[tuple[int, bytes]] = []

    def slow() -> None:
        status, _, body = http_request(gateway, "GET", f"/sleep?s=5&tag={tag}")
        answers.append((status, body))

    running = threading.Thread(target=slow)
    running.start()
    records.wait_for("forwarding", lambda e: e["event"].get("rawQueryString") == f"s=5&tag={tag}")
    started = time.monotonic()
    status, _, body = http_request(gateway, "GET", "/crash")
    running.join(timeout=10)
    assert (status, body) == (500, INTERNAL_ERROR)
    assert answers == [(500, INTERNAL_ERROR)]  # it ran in the process that died
    assert time.monotonic() - started < 4, "the pending invocation waited for its timeout"
    log = gateway.log()
    assert "forwarding: exiting, as a crashing runtime would" in log  # its print, in the log
    # And in its log group, as Lambda's platform keeps what a runtime printed before it died:
    # the gateway reads the worker's output from outside the worker.
    logs = launched.client("logs")
    until = time.monotonic() + 15
    while True:
        found = logs.filter_log_events(
            logGroupName="/aws/lambda/http-tunnel-forwarding-dev",
            filterPattern='"exiting, as a crashing runtime would"',
        )["events"]
        if found or time.monotonic() > until:
            break
        time.sleep(0.2)  # polling CloudWatch Logs for the line, bounded above
    assert found, "the line printed before the crash is not in the log group"
    assert "http-tunnel-forwarding-dev: Runtime.ExitError" in log
    status, _, body = http_request(gateway, "GET", f"/again?tag={tag}")
    assert status == 200
    assert json.loads(body)["rawPath"] == "/again"
    assert "http-tunnel-forwarding-dev: starting its worker again" in gateway.log()
