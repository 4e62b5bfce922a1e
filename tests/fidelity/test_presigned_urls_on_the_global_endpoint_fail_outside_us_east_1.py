"""rules.check_presigned_endpoint: a presigned URL on S3's global endpoint
(``<bucket>.s3.amazonaws.com``, as botocore makes them by default) for a bucket outside
us-east-1 gets a 307 TemporaryRedirect while the bucket is under a day old, whose target then
fails the signature, and 400 IllegalLocationConstraintException in a region launched after
March 2019, as S3 answers; the bucket's regional host is served.

The emulator's presigned-URL layer (emulator/presigned_urls.py) is run here with moto's own S3,
in the emulator's virtualenv (moto is not in this one), and requests that name the hosts the
URLs name: over the emulator's socket only loopback names arrive (its browser guard refuses
the others). The shared emulator still serves presigned URLs at its own address, for a bucket
in any region.
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request
import uuid
import xml.etree.ElementTree as ElementTree
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.config import Config

from aws_fidelity import rules
from emulator import process

TEMPORARY_REDIRECT = (
    "Please re-send this request to the specified temporary endpoint. Continue to use the "
    "original request endpoint for future requests."
)
DAY = 24 * 60 * 60

# Run by the emulator's Python: buckets in moto's S3, then requests through
# with_presigned_url_checks(moto's server app), as werkzeug's test client sends them.
_PROBE = r"""
import json
from datetime import timedelta
from urllib.parse import urlsplit

import boto3
from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from moto.s3.models import s3_backends
from werkzeug.test import Client

from emulator.presigned_urls import with_presigned_url_checks

backend = s3_backends["123456789012"]["aws"]
app = Client(with_presigned_url_checks(DomainDispatcherApplication(create_backend_app)))


def bucket(region, age_seconds=0):
    name = f"body-{region}-{age_seconds}"
    made = backend.create_bucket(name, region)
    made.creation_date -= timedelta(seconds=age_seconds)
    backend.put_object(name, "spill/r1/request", b"stored")
    return name


def url(region, name, method="get_object", style="auto"):
    client = boto3.client(
        "s3",
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(signature_version="s3v4", s3={"addressing_style": style}),
    )
    return client.generate_presigned_url(
        method, Params={"Bucket": name, "Key": "spill/r1/request"}, ExpiresIn=30
    )


def path_style_on_the_global_host(region, name):
    request = AWSRequest(method="GET", url=f"https://s3.amazonaws.com/{name}/spill/r1/request")
    S3SigV4QueryAuth(Credentials("testing", "testing"), "s3", region, expires=30).add_auth(request)
    return request.url


def send(method, target):
    parts = urlsplit(target)
    answer = app.open(
        parts.path,
        base_url=f"{parts.scheme}://{parts.netloc}",  # its Host, as a client sends it
        query_string=parts.query,
        method=method,
        data=b"uploaded" if method == "PUT" else None,
    )
    return {
        "url": target,
        "status": answer.status_code,
        "headers": dict(answer.headers),
        "body": answer.get_data(as_text=True),
    }


young = bucket("eu-west-1")
global_put = url("eu-west-1", young, "put_object")
redirected = send("PUT", global_put)
cases = {
    "young, global host": redirected,
    "young, the redirect followed": (
        send("PUT", redirected["headers"]["Location"])
        if "Location" in redirected["headers"]
        else None
    ),
    "young, path style": send("GET", path_style_on_the_global_host("eu-west-1", young)),
    "young, regional host": send("GET", url("eu-west-1", young, style="virtual")),
    "a day old, global host": send("GET", url("eu-west-1", bucket("eu-west-1", 86400 + 60))),
    "opt-in, global host": send("GET", url("af-south-1", bucket("af-south-1", 30 * 86400))),
    "opt-in, regional host": send(
        "GET", url("af-south-1", bucket("af-south-1", 1), style="virtual")
    ),
    "us-east-1, global host": send("GET", url("us-east-1", bucket("us-east-1"))),
}
print(json.dumps(cases))
"""


@pytest.fixture(scope="module")
def answers() -> dict[str, dict[str, Any]]:
    """What the emulator's presigned-URL layer answers, case by case (see _PROBE)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_"))}
    environment.update(
        {
            "PYTHONPATH": str(process.REPO_ROOT),
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }
    )
    done = subprocess.run(
        [process.emulator_python(), "-c", _PROBE],
        cwd=process.REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def s3_error(answer: dict[str, Any]) -> dict[str, str]:
    error = ElementTree.fromstring(answer["body"])
    assert error.tag == "Error", answer
    return {child.tag: child.text or "" for child in error}


def global_url(region: str, bucket: str) -> str:
    """A presigned GET as botocore makes it by default: on the global host."""
    client = boto3.client(
        "s3",
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        # AWS's own hosts, whatever AWS_ENDPOINT_URL another test's emulator set.
        config=Config(signature_version="s3v4", ignore_configured_endpoint_urls=True),
    )
    return client.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"})


def test_the_rule():
    assert rules.global_endpoint_bucket("b1.s3.amazonaws.com", "/k") == "b1"
    assert rules.global_endpoint_bucket("B1.S3.amazonaws.com.:443", "/k") == "b1"
    assert rules.global_endpoint_bucket("s3.amazonaws.com", "/b1/k") == "b1"
    for host in ("b1.s3.eu-west-1.amazonaws.com", "s3.eu-west-1.amazonaws.com", "127.0.0.1:4566"):
        assert rules.global_endpoint_bucket(host, "/b1/k") is None, host
    assert rules.global_endpoint_bucket("[::1]:4566", "/b1/k") is None
    bucket = "body-1"
    assert urlsplit(global_url("eu-west-1", bucket)).netloc == "body-1.s3.amazonaws.com"

    rules.check_presigned_endpoint(bucket, "us-east-1", 0)  # the global endpoint's own region
    rules.check_presigned_endpoint(bucket, "eu-west-1", DAY)  # its name has reached every region
    with pytest.raises(rules.Refused) as young:
        rules.check_presigned_endpoint(bucket, "eu-west-1", DAY - 1)
    assert (young.value.status, young.value.code, young.value.message) == (
        307,
        "TemporaryRedirect",
        TEMPORARY_REDIRECT,
    )
    assert young.value.details == {
        "Bucket": "body-1",
        "Endpoint": "body-1.s3.eu-west-1.amazonaws.com",
    }
    for region in ("af-south-1", "ap-east-1", "me-south-1", "il-central-1"):
        with pytest.raises(rules.Refused) as opt_in:
            rules.check_presigned_endpoint(bucket, region, 365 * DAY)
        assert (opt_in.value.status, opt_in.value.code, opt_in.value.message) == (
            400,
            "IllegalLocationConstraintException",
            f"The {region} location constraint is incompatible for the region specific "
            "endpoint this request was sent to.",
        )
    assert len(rules.REGIONS_BEFORE_MARCH_2019) == 17


def test_a_young_bucket_outside_us_east_1_is_redirected_from_the_global_host(answers):
    answer = answers["young, global host"]
    assert urlsplit(answer["url"]).netloc == "body-eu-west-1-0.s3.amazonaws.com"
    assert answer["status"] == 307, answer
    assert s3_error(answer) == {
        "Code": "TemporaryRedirect",
        "Message": TEMPORARY_REDIRECT,
        "Bucket": "body-eu-west-1-0",
        "Endpoint": "body-eu-west-1-0.s3.eu-west-1.amazonaws.com",
    }
    assert answer["headers"]["x-amz-bucket-region"] == "eu-west-1"
    location = urlsplit(answer["headers"]["Location"])
    sent = urlsplit(answer["url"])
    assert (location.netloc, location.path, location.query) == (
        "body-eu-west-1-0.s3.eu-west-1.amazonaws.com",
        sent.path,
        sent.query,
    )
    # A client that follows it (curl -L, urllib3) sends a URL that signed another host.
    followed = answers["young, the redirect followed"]
    assert followed is not None
    assert (followed["status"], s3_error(followed)["Code"]) == (403, "SignatureDoesNotMatch")


def test_path_style_on_the_global_host_is_redirected_to_the_virtual_host(answers):
    answer = answers["young, path style"]
    assert answer["status"] == 307, answer
    location = urlsplit(answer["headers"]["Location"])
    assert (location.netloc, location.path) == (
        "body-eu-west-1-0.s3.eu-west-1.amazonaws.com",
        "/spill/r1/request",
    )


def test_an_opt_in_regions_bucket_is_refused_on_the_global_host_however_old(answers):
    answer = answers["opt-in, global host"]
    assert answer["status"] == 400, answer
    assert s3_error(answer)["Code"] == "IllegalLocationConstraintException"
    assert "Location" not in answer["headers"]


def test_the_regional_host_and_us_east_1_and_an_older_bucket_are_served(answers):
    for case in (
        "young, regional host",
        "opt-in, regional host",
        "a day old, global host",
        "us-east-1, global host",
    ):
        assert (answers[case]["status"], answers[case]["body"]) == (200, "stored"), case


def test_the_emulator_serves_presigned_urls_at_its_own_address_in_any_region(
    emulator_endpoint: str,
):
    """The local stack's URLs name the emulator (127.0.0.1): never the global host."""
    client = boto3.client(
        "s3",
        endpoint_url=emulator_endpoint,
        region_name="eu-west-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(signature_version="s3v4", s3={"addressing_style": "virtual"}),
    )
    name = f"regional-{uuid.uuid4().hex[:10]}"
    client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    client.put_object(Bucket=name, Key="k", Body=b"stored")
    url = client.generate_presigned_url("get_object", Params={"Bucket": name, "Key": "k"})
    assert urlsplit(url).netloc == urlsplit(emulator_endpoint).netloc
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=10) as response:
        assert (response.status, response.read()) == (200, b"stored")
