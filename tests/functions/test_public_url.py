"""Without a custom domain the subdomain is the first path segment on the execute-api host:
forwarding takes it off and the agent gets exactly the path and query after it."""

from __future__ import annotations

import pytest
from tunnel_shared.public_url import Located, PublicUrl, PublicUrlError

from tests.functions.agents import connect
from tests.functions.events import http_event
from tests.functions.test_tunnel_round_trip import answer_requests

EXECUTE_API = "abc123.execute-api.us-east-1.amazonaws.com"
PATH_FORM = f"https://{EXECUTE_API}/{{subdomain}}"


def execute_api_event(raw_path: str, raw_query: str = "", method: str = "GET") -> dict:
    """What the HTTP API's $default stage delivers at its own endpoint (aws_fidelity.rules)."""
    event = http_event("unused", method, raw_path, raw_query)
    event["headers"]["host"] = EXECUTE_API
    event["requestContext"]["domainName"] = EXECUTE_API
    event["requestContext"]["domainPrefix"] = "abc123"
    return event


@pytest.fixture
def path_form(monkeypatch):
    monkeypatch.setenv("PUBLIC_URL_FORMAT", PATH_FORM)


def test_the_path_after_the_subdomain_and_the_query_reach_the_agent(functions, path_form):
    connection_id, _ = connect(functions, "pat", "papa")
    agent = answer_requests(functions, connection_id)
    answer = functions.invoke("forwarding", execute_api_event("/papa/x/y", "q=1"))
    agent.join()
    assert answer["statusCode"] == 200
    request = next(m for m in functions.endpoint.messages(connection_id) if m["type"] == "request")
    assert (request["rawPath"], request["rawQueryString"]) == ("/x/y", "q=1")


def test_host_routing_refuses_the_execute_api_host(functions, monkeypatch):
    # With a custom domain, the execute-api host is not a tunnel's host: no tunnel there.
    monkeypatch.setenv("PUBLIC_URL_FORMAT", "https://{subdomain}.tunnel.test")
    connect(functions, "oli", "otto")
    answer = functions.invoke("forwarding", execute_api_event("/otto/"))
    assert (answer["statusCode"], answer["body"]) == (404, "No tunnel at this address.\n")


def test_the_bare_tunnel_root_redirects_to_its_slash(functions, path_form):
    connect(functions, "pat", "papa")  # a live tunnel's: a dead one's is a 404
    answer = functions.invoke("forwarding", execute_api_event("/papa", "a=1"))
    assert answer["statusCode"] == 308
    assert answer["headers"]["location"] == "/papa/?a=1"


def test_the_endpoint_root_says_where_tunnels_are(functions, path_form):
    answer = functions.invoke("forwarding", execute_api_event("/"))
    assert answer["statusCode"] == 200
    assert PATH_FORM in answer["body"]


def test_an_unknown_tunnel_in_the_path_answers_404(functions, path_form):
    answer = functions.invoke("forwarding", execute_api_event("/nobody/x"))
    assert answer["statusCode"] == 404


def test_ready_tells_the_agent_its_path_form_url(functions, path_form):
    from tests.functions.events import websocket_event

    connection_id, _ = connect(functions, "quin", "quebec")
    functions.invoke("response", websocket_event("$default", connection_id, '{"action":"ready"}'))
    assert functions.endpoint.messages(connection_id)[-1]["url"] == f"https://{EXECUTE_API}/quebec"


@pytest.mark.parametrize(
    ("host", "path", "located"),
    [
        ("demo.tunnel.test", "/a?b", Located("demo", "/a?b")),
        ("Demo.Tunnel.Test:443", "", Located("demo", "/")),
    ],
)
def test_host_form_locates_by_the_first_label(host, path, located):
    assert PublicUrl("https://{subdomain}.tunnel.test").locate(host, path) == located


@pytest.mark.parametrize(
    "host", ["demo.attacker.net", "demo.a.tunnel.test", "demo", "tunnel.test", ".tunnel.test"]
)
def test_host_form_accepts_exactly_label_dot_domain(host):
    assert PublicUrl("https://{subdomain}.tunnel.test").locate(host, "/") is None


@pytest.mark.parametrize("host", ["demo.localhost:4567", "demo.localhost", "Demo.LocalHost:80"])
def test_the_port_is_no_part_of_a_tunnels_host(host):
    # The local gateway serves http://{subdomain}.localhost:<port>: a format with a port finds
    # its tunnels by name, whatever port (or none) the request's Host carries.
    public_url = PublicUrl("http://{subdomain}.localhost:4567")
    assert public_url.domain == "localhost"
    assert public_url.locate(host, "/x") == Located("demo", "/x")
    assert public_url.host("demo") == "demo.localhost:4567"  # the URL given out keeps its port


@pytest.mark.parametrize(
    "host", ["demo.localhost.evil:4567", "demo.localhost:port", "demo.a.localhost:4567", "[::1]"]
)
def test_a_format_with_a_port_still_accepts_exactly_label_dot_domain(host):
    assert PublicUrl("http://{subdomain}.localhost:4567").locate(host, "/") is None


def test_a_request_to_a_tunnel_at_a_port_reaches_its_agent(functions, monkeypatch):
    # What the local gateway gives the functions for an environment with a custom domain.
    monkeypatch.setenv("PUBLIC_URL_FORMAT", "http://{subdomain}.localhost:4567")
    connection_id, _ = connect(functions, "pim", "pluto")
    agent = answer_requests(functions, connection_id)
    event = http_event("unused", "GET", "/x/y", "q=1")
    event["headers"]["host"] = "pluto.localhost:4567"
    event["requestContext"]["domainName"] = "pluto.localhost"
    answer = functions.invoke("forwarding", event)
    agent.join()
    assert answer["statusCode"] == 200
    request = next(m for m in functions.endpoint.messages(connection_id) if m["type"] == "request")
    assert (request["rawPath"], request["rawQueryString"]) == ("/x/y", "q=1")


@pytest.mark.parametrize(
    ("path", "located"),
    [
        ("/demo/x/y", Located("demo", "/x/y")),
        ("/demo/", Located("demo", "/")),
        ("/demo", Located("demo", "/", needs_slash=True)),
        ("/", None),
        ("", None),
    ],
)
def test_path_form_locates_by_the_first_segment(path, located):
    assert PublicUrl(PATH_FORM).locate(EXECUTE_API, path) == located


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "https://tunnel.test",
        "https://x.{subdomain}.test",
        "https://h/{subdomain}/x",
        "h?q={subdomain}",
    ],
)
def test_a_format_without_a_readable_subdomain_is_refused(bad):
    with pytest.raises(PublicUrlError):
        PublicUrl(bad)
