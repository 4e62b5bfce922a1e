"""The presigned body URLs that forwarding hands the agent name the bucket's own regional host
(``<bucket>.s3.<region>.amazonaws.com``), not S3's global one: outside us-east-1 a young bucket
answers 307 on the global host, and in a region launched after March 2019 it never answers
(``aws_fidelity.rules.check_presigned_endpoint``).

Presigning is local, so each case runs the functions' own code (tunnel_shared.bodies) in a fresh
interpreter with Lambda's variables for one region and no network: a new process, because the
S3 client is made once per execution environment, as in Lambda.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"
BUCKET = "http-tunnel-bodies-dev-123456789012"
_PRESIGN = """
import json, sys
from tunnel_shared.bodies import BodyStore
from tunnel_shared.resources import s3_client
store = BodyStore.at(f"s3://{sys.argv[1]}/spill/")
get = s3_client().generate_presigned_url(
    "get_object", Params={"Bucket": store.bucket, "Key": store.key("r1", "request")}
)
print(json.dumps({"put": store.response_url("r1"), "get": get}))
"""


def presigned(region: str, endpoint: str | None = None) -> dict[str, str]:
    """The PUT URL and the GET URL the functions make, as a Lambda function in ``region``."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "BOTO"))  # nothing from the developer's own setup
    }
    environment.update(
        {
            "AWS_REGION": region,  # what Lambda sets
            "AWS_DEFAULT_REGION": region,
            "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE",
            "AWS_SECRET_ACCESS_KEY": "not-a-secret",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "PYTHONPATH": str(FUNCTIONS),
        }
    )
    if endpoint:
        environment["AWS_ENDPOINT_URL"] = endpoint
    done = subprocess.run(
        [sys.executable, "-c", _PRESIGN, BUCKET],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def credential_region(url: str) -> str:
    return dict(parse_qsl(urlsplit(url).query))["X-Amz-Credential"].split("/")[2]


@pytest.mark.parametrize("region", ["eu-west-1", "af-south-1"])
def test_outside_us_east_1_the_urls_name_the_regional_host(region):
    for method, url in presigned(region).items():
        parts = urlsplit(url)
        assert parts.scheme == "https", url
        assert parts.netloc == f"{BUCKET}.s3.{region}.amazonaws.com", (method, url)
        assert parts.path.startswith("/spill/r1/"), url
        assert credential_region(url) == region


def test_in_us_east_1_the_global_host_is_the_regions_own():
    for url in presigned("us-east-1").values():
        assert urlsplit(url).netloc in {
            f"{BUCKET}.s3.amazonaws.com",
            f"{BUCKET}.s3.us-east-1.amazonaws.com",
        }, url
        assert credential_region(url) == "us-east-1"


@pytest.mark.parametrize("host", ["127.0.0.1:4566", "localhost:4566"])
def test_the_local_stack_keeps_its_own_address(host):
    """AWS_ENDPOINT_URL (the emulator) is used as it is: a bucket subdomain of a local name
    would not resolve."""
    for url in presigned("us-east-1", f"http://{host}").values():
        parts = urlsplit(url)
        assert (parts.netloc, parts.path.split("/")[1]) == (host, BUCKET), url
