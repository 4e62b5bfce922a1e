"""Real web traffic through the tunnel: bodies up to the ceiling (tunnel_shared.limits), both
ways, byte-identical, through the local gateway with the agent as a subprocess; and past the
ceiling, a clear answer at once that leaves nothing behind in S3 or DynamoDB."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from tunnel_shared.limits import MAX_BODY_BYTES

from tests.tunnel.conftest import Tunnel
from tests.tunnel.local_app import GZIPPED_PAGE

SIZES = {"200KB": 200 * 1024, "1MB": 1024 * 1024, "ceiling": MAX_BODY_BYTES}


@pytest.fixture(scope="module")
def big(tunnel: Tunnel) -> Tunnel:
    agent = tunnel.agent(tunnel.token("big"))
    agent.wait_for(r"^Forwarding ")
    return tunnel


@pytest.fixture
def clean(big: Tunnel):
    """After the test, no body is left in the bucket."""
    yield big
    assert stored_bodies(big) == []


def bodies_bucket(tunnel: Tunnel) -> str:
    stack = tunnel.client("cloudformation").describe_stacks(StackName="http-tunnel-dev-bodies")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Stacks"][0]["Outputs"]}
    return outputs["BodiesBucketName"]


def stored_bodies(tunnel: Tunnel) -> list[str]:
    listed = tunnel.client("s3").list_objects_v2(Bucket=bodies_bucket(tunnel))
    return [item["Key"] for item in listed.get("Contents", [])]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def header(headers: list[tuple[str, str]], name: str) -> str | None:
    return next((v for n, v in headers if n.lower() == name), None)


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_a_binary_upload_reaches_the_local_service_byte_identical(clean, size):
    body = os.urandom(size)
    status, _, data = clean.request(
        "big", "POST", "/sha256", [("content-type", "application/octet-stream")], body
    )
    assert status == 200, data[:300]
    assert json.loads(data) == {"sha256": sha256(body), "bytes": size}


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_a_binary_download_reaches_the_caller_byte_identical(clean, size):
    status, headers, data = clean.request("big", "GET", f"/bytes/{size}")
    assert status == 200, data[:300]
    assert sha256(data) == sha256(clean.app.payloads[size])
    assert header(headers, "content-length") == str(size)
    assert header(headers, "content-type") == "application/octet-stream"


def test_the_agent_logs_each_request_with_its_sizes(clean):
    clean.request("big", "GET", "/bytes/3900000")
    line = clean.agents[0].wait_for(r"^GET /bytes/3900000 200 3\.9 MB \d+ms$")
    assert line


def test_ten_concurrent_1_mb_round_trips_are_each_byte_identical(clean):
    bodies = [os.urandom(1024 * 1024) for _ in range(10)]

    def round_trip(body: bytes) -> tuple[int, bytes]:
        status, _, data = clean.request(
            "big", "POST", "/mirror", [("content-type", "application/octet-stream")], body
        )
        return status, data

    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(round_trip, bodies))
    assert [status for status, _ in answers] == [200] * 10
    assert [sha256(data) for _, data in answers] == [sha256(body) for body in bodies]


def test_a_gzipped_page_passes_untouched_with_its_headers(clean):
    status, headers, data = clean.request("big", "GET", "/gzip", [("accept-encoding", "gzip")])
    assert status == 200
    assert data == GZIPPED_PAGE  # not decompressed on the way
    assert gzip.decompress(data).startswith(b"<!doctype html>")
    assert header(headers, "content-encoding") == "gzip"
    assert header(headers, "content-type") == "text/html"
    assert header(headers, "content-length") == str(len(GZIPPED_PAGE))


def test_a_large_response_of_unknown_length_arrives_whole(clean):
    status, headers, data = clean.request("big", "GET", "/chunked/2000000")
    assert status == 200
    assert sha256(data) == sha256(clean.app.payloads[2_000_000])
    assert header(headers, "content-length") == "2000000"


def test_a_request_just_over_the_ceiling_answers_413_naming_the_limit(clean):
    started = time.monotonic()
    status, _, data = clean.request("big", "POST", "/sha256", body=b"x" * (MAX_BODY_BYTES + 1))
    assert time.monotonic() - started < 5
    assert status == 413
    text = data.decode()
    assert text.count("\n") == 1 and f"{MAX_BODY_BYTES:,} bytes" in text
    assert not [line for line in clean.agents[0].lines if line.startswith("POST /sha256 413")]


def test_a_request_that_would_overflow_the_invocation_gets_api_gateways_413(clean):
    # 5 MB of binary is 6.7 MB of base64 in the event: API Gateway refuses it before Lambda.
    status, headers, data = clean.request(
        "big", "POST", "/sha256", [("content-type", "image/png")], os.urandom(5_000_000)
    )
    assert (status, json.loads(data)) == (413, {"message": "Request Too Long"})


def test_a_response_just_over_the_ceiling_answers_502_naming_both_sizes(clean):
    started = time.monotonic()
    status, headers, data = clean.request("big", "GET", f"/bytes/{MAX_BODY_BYTES + 1}")
    assert time.monotonic() - started < 5
    assert status == 502
    assert header(headers, "x-tunnel-error") == "response-too-large"
    text = data.decode()
    assert f"{MAX_BODY_BYTES + 1:,} bytes" in text and f"{MAX_BODY_BYTES:,} bytes" in text


def test_an_agent_killed_mid_upload_gives_502_within_2_seconds_and_leaves_nothing(big):
    agent = big.agent(big.token("doomed-upload"))
    agent.wait_for(r"^Forwarding ")
    answers: list[tuple[int, float]] = []

    def upload_then_trickle() -> None:
        # A stored request body, then a 4 MB response the agent streams to S3 as it comes.
        status, _, _ = big.request(
            "doomed-upload", "POST", "/trickle/4000000", body=os.urandom(1024 * 1024)
        )
        answers.append((status, time.monotonic()))

    waiting = threading.Thread(target=upload_then_trickle)
    waiting.start()
    time.sleep(1.5)  # the agent is uploading the response now (it takes about 3 s)
    killed_at = time.monotonic()
    agent.stop(signal.SIGKILL)
    waiting.join(timeout=15)
    assert answers, "no answer"
    status, answered_at = answers[0]
    assert status == 502
    assert answered_at - killed_at < 2.0
    # Forwarding deleted what it stored and whatever the agent had begun to upload.
    assert stored_bodies(big) == []


def test_whatever_a_crash_leaves_behind_expires_by_rule(big):
    """A forwarding function that dies mid-request cannot delete its objects: the bucket's
    lifecycle rule removes them (a request writes no item of its own)."""
    rules = big.client("s3").get_bucket_lifecycle_configuration(Bucket=bodies_bucket(big))["Rules"]
    (rule,) = [r for r in rules if r["Status"] == "Enabled"]
    prefix = rule.get("Prefix", rule.get("Filter", {}).get("Prefix"))
    assert prefix == "spill/"
    assert rule["Expiration"]["Days"] == 1
    assert rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] == 1
