"""rules.check_iam_connect_signature: the answers API's $connect is AWS_IAM, so the local
gateway lets an upgrade in only if its SigV4 signature verifies against the emulator's keys:
unsigned, another secret, an unknown key, a credential for another service, a stale date or a
signature for another path are refused 403 before any connection exists."""

from __future__ import annotations

import json
import time

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from websockets.exceptions import InvalidStatus

from aws_fidelity import rules
from tests.gateway.websocket_client import answers_url, open_answers, signed_upgrade_headers

PATH = "/abc123/dev"


def headers_for(
    path: str = PATH, service: str = "execute-api", secret: str = "testing", key: str = "testing"
) -> list[tuple[str, str]]:
    """Headers of a GET upgrade to ``path`` signed now by botocore's SigV4 signer."""
    request = AWSRequest(method="GET", url=f"http://127.0.0.1:4567{path}")
    SigV4Auth(Credentials(key, secret), service, "us-east-1").add_auth(request)
    return [("Host", "127.0.0.1:4567"), *request.headers.items()]


def test_a_signed_upgrade_passes():
    rules.check_iam_connect_signature(PATH, "", headers_for())


@pytest.mark.parametrize(
    "headers",
    [
        [("Host", "127.0.0.1:4567")],
        headers_for(secret="not-the-secret"),
        headers_for(key="AKIDUNKNOWN"),
        headers_for(service="lambda"),
        headers_for(path="/abc123/other"),
    ],
    ids=["unsigned", "another secret", "unknown key", "another service", "another path"],
)
def test_an_unsigned_or_badly_signed_upgrade_is_refused_403(headers):
    with pytest.raises(rules.Refused) as refused:
        rules.check_iam_connect_signature(PATH, "", headers)
    assert (refused.value.status, refused.value.message) == (403, "Forbidden")


def test_a_stale_signature_is_refused_403():
    """Signed more than 5 minutes before the gateway's clock: refused."""
    headers = headers_for()
    with pytest.raises(rules.Refused) as refused:
        rules.check_iam_connect_signature(PATH, "", headers, now=time.time() + 301)
    assert refused.value.status == 403


def refused_upgrade(gateway, api_id: str, headers: list[tuple[str, str]]) -> tuple[int, dict]:
    with pytest.raises(InvalidStatus) as refused:
        open_answers(gateway, api_id, headers)
    response = refused.value.response
    return response.status_code, json.loads(bytes(response.body or b"{}"))


def test_the_local_gateway_refuses_them_on_the_answers_api(gateway, answers_api_id):
    url = answers_url(gateway, answers_api_id)
    assert refused_upgrade(gateway, answers_api_id, []) == (403, {"message": "Forbidden"})
    wrong = signed_upgrade_headers(url, secret="not-the-secret")
    assert refused_upgrade(gateway, answers_api_id, wrong) == (403, {"message": "Forbidden"})
    with open_answers(gateway, answers_api_id) as socket:  # signed: connects
        socket.send(json.dumps({"action": "whoami", "whoami": True}))
        assert json.loads(socket.recv(timeout=10))["routeKey"] == "whoami"
