"""The app is told the truth: the Host, scheme and port the caller used, and its prefix.

API Gateway delivers the Host the client sent (on AWS the API's own name or the custom domain)
and its own ``x-forwarded-proto`` and ``x-forwarded-port`` (https and 443 on AWS; the local
gateway sends http and its own port). Forwarding passes the Host as it is, and sets
``X-Forwarded-Host`` (port included), ``-Proto``, ``-Port``, ``-For`` and, under the path form,
``-Prefix: /<subdomain>``, replacing whatever the caller sent.
"""

from __future__ import annotations

import pytest

from tests.functions.agents import connect
from tests.functions.events import http_event
from tests.functions.test_tunnel_round_trip import answer_requests

AWS_API = "abc123.execute-api.us-east-1.amazonaws.com"


def gateway_event(
    host: str, proto: str, port: str, raw_path: str, headers: dict | None = None
) -> dict:
    """What API Gateway (or the local gateway) delivers for a request that used ``host``."""
    event = http_event("unused", "GET", raw_path, "q=1")
    event["headers"] = {
        "host": host,
        "x-forwarded-proto": proto,
        "x-forwarded-port": port,
        "x-forwarded-for": "203.0.113.9",
        "user-agent": "test",
        **(headers or {}),
    }
    event["requestContext"]["domainName"] = host.rsplit(":", 1)[0]
    event["requestContext"]["domainPrefix"] = host.split(".")[0]
    event["requestContext"]["http"]["sourceIp"] = "203.0.113.9"
    return event


def sent_to_agent(functions, subdomain: str, event: dict) -> tuple[dict, dict[str, list[str]]]:
    """The answer, and the headers the agent was given (name -> every value)."""
    connection_id, _ = connect(functions, "teller", subdomain)
    agent = answer_requests(functions, connection_id)
    answer = functions.invoke("forwarding", event)
    agent.join()
    requests = [m for m in functions.endpoint.messages(connection_id) if m["type"] == "request"]
    headers: dict[str, list[str]] = {}
    for name, value in requests[-1]["headers"]:
        headers.setdefault(name, []).append(value)
    return answer, headers


# (PUBLIC_URL_FORMAT, the Host the caller used, API Gateway's proto and port, the path)
LOCAL = "http://localhost:4567/{subdomain}"
CUSTOM = "https://{subdomain}.tunnel.test"
LOCAL_CUSTOM = "http://{subdomain}.localhost:4567"
ALIAS = "abc123.execute-api.localhost:4567"
SHAPES = {
    "aws, path form": (f"https://{AWS_API}/{{subdomain}}", AWS_API, "https", "443", "/{s}/x"),
    "aws, custom domain": (CUSTOM, "{s}.tunnel.test", "https", "443", "/x"),
    "local, path form": (LOCAL, "localhost:4567", "http", "4567", "/{s}/x"),
    "local, by the API's name": (LOCAL, ALIAS, "http", "4567", "/{s}/x"),
    "local, custom domain": (LOCAL_CUSTOM, "{s}.localhost:4567", "http", "4567", "/x"),
}


@pytest.mark.parametrize("shape", SHAPES)
def test_the_app_is_told_the_host_scheme_and_port_the_caller_used(functions, monkeypatch, shape):
    url_format, host, proto, port, path = SHAPES[shape]
    monkeypatch.setenv("PUBLIC_URL_FORMAT", url_format)
    subdomain = "truth"
    event = gateway_event(host.format(s=subdomain), proto, port, path.format(s=subdomain))
    answer, headers = sent_to_agent(functions, subdomain, event)
    assert answer["statusCode"] == 200, answer
    assert headers["host"] == [host.format(s=subdomain)]
    assert headers["x-forwarded-host"] == [host.format(s=subdomain)]
    assert headers["x-forwarded-proto"] == [proto]
    assert headers["x-forwarded-port"] == [port]
    assert headers["x-forwarded-for"] == ["203.0.113.9"]
    by_path = "{subdomain}" not in url_format.split("/")[2]
    assert headers.get("x-forwarded-prefix") == ([f"/{subdomain}"] if by_path else None)


@pytest.mark.parametrize(
    "url_format", ["http://localhost:4567/{subdomain}", "https://{subdomain}.tunnel.test"]
)
def test_the_callers_own_forwarding_headers_never_reach_the_app(functions, monkeypatch, url_format):
    monkeypatch.setenv("PUBLIC_URL_FORMAT", url_format)
    by_path = url_format.startswith("http://localhost")
    host = "localhost:4567" if by_path else "spoof.tunnel.test"
    event = gateway_event(
        host,
        "http" if by_path else "https",
        "4567" if by_path else "443",
        "/spoof/x" if by_path else "/x",
        {
            "x-forwarded-host": "evil.example",
            "x-forwarded-prefix": "/evil",
            "forwarded": "for=1.2.3.4;host=evil.example;proto=http",
        },
    )
    _, headers = sent_to_agent(functions, "spoof", event)
    assert headers["x-forwarded-host"] == [host]
    assert headers.get("x-forwarded-prefix") == (["/spoof"] if by_path else None)
    assert "forwarded" not in headers


@pytest.mark.parametrize(
    ("url_format", "proto", "port", "told"),
    [
        # Values that are not one scheme or one port give way to the public URL's own.
        ("http://localhost:4567/{subdomain}", "http,https", "4567, 443", ("http", "4567")),
        ("http://localhost:4567/{subdomain}", "gopher", "", ("http", "4567")),
        (f"https://{AWS_API}/{{subdomain}}", "https,http", "443,80", ("https", "443")),
        (f"https://{AWS_API}/{{subdomain}}", "", "99999", ("https", "443")),
    ],
)
def test_a_proto_or_port_that_is_not_one_value_gives_way_to_the_public_urls(
    functions, monkeypatch, url_format, proto, port, told
):
    monkeypatch.setenv("PUBLIC_URL_FORMAT", url_format)
    host = url_format.split("/")[2]
    _, headers = sent_to_agent(functions, "odd", gateway_event(host, proto, port, "/odd/x"))
    assert (headers["x-forwarded-proto"], headers["x-forwarded-port"]) == ([told[0]], [told[1]])
