"""Every way the local stack (emulator and local gateway) is stricter than moto, in one file.

Each rule is one function. Its docstring names the AWS behaviour and the source it was
confirmed against (an AWS documentation page, or a public issue that shows the real error);
``tests/fidelity/`` holds one test per rule that shows it refusing what AWS refuses. A rule
that refuses raises :class:`Refused` with the error code and message AWS gives, so a test, the
emulator's API answer and a failed CloudFormation resource all read like AWS's own.

Who applies them:
- the emulator's CloudFormation providers and API patches (``emulator/``);
- the local API Gateway (``local_gateway/``), for the shape of the events it delivers;
- the preflight hook (``hooks/preflight.py``) and the settings, for the numbers.
"""

from __future__ import annotations


class Refused(Exception):
    """AWS would refuse this request: ``code`` and ``message`` as AWS gives them."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


# --- API Gateway: account settings and stages ----------------------------------------------
# (filled in: WebSocket stage logging needs the account's CloudWatch role; access-log
#  variables per protocol)


# --- Lambda: concurrency ---------------------------------------------------------------------
# (filled in: reservations leave the account's unreserved minimum)


# --- API Gateway: the events an HTTP API delivers --------------------------------------------

DEFAULT_STAGE = "$default"


def execute_api_host(api_id: str, region: str, url_suffix: str = "amazonaws.com") -> str:
    """An API's own endpoint: ``<api-id>.execute-api.<region>.amazonaws.com``."""
    return f"{api_id}.execute-api.{region}.{url_suffix}"


def http_api_stage(stage_names: set[str], path: str) -> tuple[str, str] | None:
    """The stage a request to an HTTP API's own endpoint reaches, and the rawPath it delivers.

    A named stage is the path's first segment, and it STAYS in ``rawPath``: a request to
    ``/dev/foo`` on stage ``dev`` reaches the function as ``rawPath: "/dev/foo"``; the
    ``$default`` stage is served at the root, without a prefix. A path that names no stage,
    with no ``$default`` stage, matches nothing (``{"message":"Not Found"}``).

    Sources: aws-powertools/powertools-lambda-python#621 and logandk/serverless-wsgi#191 (rawPath
    carries the stage); "Working with stages for HTTP APIs" (the $default stage is served from
    the base of the API's URL), https://docs.aws.amazon.com/apigateway/latest/developerguide/
    http-api-stages.html.
    """
    segment = path.lstrip("/").split("/", 1)[0]
    if segment and segment != DEFAULT_STAGE and segment in stage_names:
        return segment, path
    if DEFAULT_STAGE in stage_names:
        return DEFAULT_STAGE, path
    return None


def http_api_mapped_path(stage: str, path: str) -> str:
    """The rawPath a request through a custom domain's API mapping (no mapping key) delivers.

    Reported to keep a named stage's prefix behind a custom domain too
    (CodeGenieApp/serverless-express#465): ``/foo`` on a domain mapped to stage ``dev``
    arrives as ``/dev/foo``. ``$default`` adds nothing. Modelled as reported, the stricter way:
    code that works here works either way.
    """
    return path if stage == DEFAULT_STAGE else f"/{stage}{path}"


def http_api_host(
    request_host: str, api_id: str, region: str, custom_domains: set[str]
) -> str | None:
    """The Host an HTTP API's function sees, or None if that name does not reach the API.

    Without a custom domain an HTTP API is reached at its execute-api host only: there is no
    ``<subdomain>.`` in front of anything, since execute-api hosts take no wildcard, and the
    function's ``headers.host`` and ``requestContext.domainName`` are
    ``<api-id>.execute-api.<region>.amazonaws.com``. A custom domain (``*.tunnel.example.com``)
    adds its own names. Source: "Custom domain names for HTTP APIs" ("the default API endpoint
    ... https://api-id.execute-api.region.amazonaws.com"; wildcard custom domains),
    https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-custom-domain-names.html.
    """
    host = request_host.split(":")[0].lower()
    if host == execute_api_host(api_id, region):
        return host
    for domain in custom_domains:
        if domain.startswith("*."):
            parent = domain[2:]
            if host.endswith("." + parent) and "." not in host[: -len(parent) - 1]:
                return host
        elif host == domain:
            return host
    return None
