"""The path form carries apps that write absolute links (tunnel_shared.path_form).

Without a custom domain every tunnel is ``/<subdomain>`` on one host. A redirect to an absolute
path, or to an absolute URL on that origin, gets the prefix back; the first request by the
prefix sets a routing cookie, and a later request whose first segment is no live tunnel goes to
the cookie's tunnel with its path unchanged (``/static/app.css``, ``/@vite/client``). The cookie
never reaches the app, no app can set it, and one naming a tunnel that is gone routes nowhere.
"""

from __future__ import annotations

import pytest

from tests.functions.agents import connect
from tests.functions.events import http_event
from tests.functions.test_tunnel_round_trip import answer_requests

LOCAL = "http://localhost:4567/{subdomain}"
AWS_API = "abc123.execute-api.us-east-1.amazonaws.com"
AWS = f"https://{AWS_API}/{{subdomain}}"
ROUTE_LOCAL = "tunnel-route"
ROUTE_AWS = "__Host-tunnel"


def event_for(
    url_format: str, raw_path: str, cookies: list[str] | None = None, method: str = "GET"
) -> dict:
    """What the gateway delivers for ``raw_path`` on the host of ``url_format``: the Host the
    client used, API Gateway's proto and port (https and 443 on AWS; http and 4567 locally)."""
    host = url_format.split("/")[2].replace("{subdomain}", "unused")
    local = url_format.startswith("http://")
    event = http_event("unused", method, raw_path, "", cookies=cookies)
    event["headers"] = {
        "host": host,
        "x-forwarded-proto": "http" if local else "https",
        "x-forwarded-port": "4567" if local else "443",
        "x-forwarded-for": "203.0.113.9",
    }
    event["requestContext"]["domainName"] = host.split(":")[0]
    return event


@pytest.fixture
def local_path_form(monkeypatch):
    monkeypatch.setenv("PUBLIC_URL_FORMAT", LOCAL)


@pytest.fixture
def owner_reads(functions, monkeypatch) -> list[str]:
    """The tunnels whose claims forwarding reads to route each request, in order."""
    module = functions.modules["forwarding"]
    original = module._owner
    read: list[str] = []

    def counted(subdomain, log):
        read.append(subdomain)
        return original(subdomain, log)

    monkeypatch.setattr(module, "_owner", counted)
    return read


def exchange(functions, connection_id: str, event: dict, headers=None, status: int = 200):
    """Forward ``event`` to a tunnel whose agent answers with ``headers``; the answer and the
    request the agent got."""
    agent = answer_requests(functions, connection_id, status, b"ok", headers)
    answer = functions.invoke("forwarding", event)
    agent.join()
    requests = [m for m in functions.endpoint.messages(connection_id) if m["type"] == "request"]
    return answer, requests[-1]


def names(request: dict) -> list[str]:
    return [name for name, _ in request["headers"]]


def all_posts(functions) -> int:
    return sum(len(posted) for posted in functions.endpoint.posted.values())


LOCAL_LOCATIONS = [
    ("/items?moved=1", "/loc/items?moved=1"),
    ("/", "/loc/"),
    ("/admin/login/?next=/admin/", "/loc/admin/login/?next=/admin/"),
    ("/locale/x", "/loc/locale/x"),  # the prefix is a whole segment
    # Already under the prefix: an app that honours X-Forwarded-Prefix wrote it.
    ("/loc", "/loc"),
    ("/loc/items", "/loc/items"),
    ("/loc?x=1", "/loc?x=1"),
    # Absolute URLs on the public origin (scheme, host, port as the browser used them).
    ("http://localhost:4567/items#top", "http://localhost:4567/loc/items#top"),
    ("http://LOCALHOST:4567", "http://LOCALHOST:4567/loc/"),
    ("http://localhost:4567?q=1", "http://localhost:4567/loc/?q=1"),
    ("//localhost:4567/items", "//localhost:4567/loc/items"),
    ("http://localhost:4567/loc/items", "http://localhost:4567/loc/items"),
    # Other origins, relative references and other schemes stay as they are.
    ("http://localhost/items", "http://localhost/items"),
    ("https://localhost:4567/items", "https://localhost:4567/items"),
    ("http://example.com/items", "http://example.com/items"),
    ("//example.com/items", "//example.com/items"),
    ("items", "items"),
    ("../x", "../x"),
    ("?page=2", "?page=2"),
    ("mailto:a@example.com", "mailto:a@example.com"),
    ("http://localhost:port/x", "http://localhost:port/x"),
]


@pytest.mark.parametrize(("location", "expected"), LOCAL_LOCATIONS)
def test_a_redirect_is_brought_back_under_the_prefix(
    functions, local_path_form, location, expected
):
    connection_id, _ = connect(functions, "lou", "loc")
    answer, _ = exchange(
        functions, connection_id, event_for(LOCAL, "/loc/x"), [("location", location)], 302
    )
    assert answer["statusCode"] == 302
    assert answer["headers"]["location"] == expected


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("/items?moved=1", "/loc/items?moved=1"),
        (f"https://{AWS_API}/items", f"https://{AWS_API}/loc/items"),
        (f"https://{AWS_API}:443/items", f"https://{AWS_API}:443/loc/items"),
        (f"http://{AWS_API}/items", f"http://{AWS_API}/items"),
        (f"https://{AWS_API}/loc/", f"https://{AWS_API}/loc/"),
    ],
)
def test_on_aws_the_public_origin_is_https_on_the_apis_own_host(
    functions, monkeypatch, location, expected
):
    monkeypatch.setenv("PUBLIC_URL_FORMAT", AWS)
    connection_id, _ = connect(functions, "lou", "loc")
    answer, _ = exchange(
        functions, connection_id, event_for(AWS, "/loc/x"), [("location", location)], 302
    )
    assert answer["headers"]["location"] == expected


def test_under_a_custom_domain_redirects_pass_unchanged(functions, monkeypatch):
    monkeypatch.setenv("PUBLIC_URL_FORMAT", "https://{subdomain}.tunnel.test")
    connection_id, _ = connect(functions, "lou", "loc")
    answer, request = exchange(
        functions, connection_id, http_event("loc", raw_path="/x"), [("location", "/items")], 302
    )
    assert answer["headers"]["location"] == "/items"
    assert "x-forwarded-prefix" not in names(request)
    assert "cookies" not in answer  # no routing cookie: the Host routes


@pytest.mark.parametrize(
    ("url_format", "cookie"),
    [
        (LOCAL, f"{ROUTE_LOCAL}=rte; Path=/; HttpOnly; SameSite=Lax"),
        (AWS, f"{ROUTE_AWS}=rte; Path=/; Secure; HttpOnly; SameSite=Lax"),
    ],
)
def test_a_request_by_the_prefix_sets_the_routing_cookie_once(
    functions, monkeypatch, url_format, cookie
):
    monkeypatch.setenv("PUBLIC_URL_FORMAT", url_format)
    connection_id, _ = connect(functions, "rita", "rte")
    answer, request = exchange(functions, connection_id, event_for(url_format, "/rte/x"))
    assert answer["cookies"] == [cookie]
    assert ("x-forwarded-prefix", "/rte") in map(tuple, request["headers"])
    # The browser sends it back: not set again, and not forwarded to the app.
    name = cookie.split("=")[0]
    again = event_for(url_format, "/rte/y", [f"{name}=rte", "app=1"])
    answer, request = exchange(functions, connection_id, again)
    assert "cookies" not in answer
    assert request["cookies"] == ["app=1"]
    # Another tunnel's prefix sets it to that tunnel.
    other, _ = connect(functions, "rita", "rte2")
    answer, _ = exchange(functions, other, event_for(url_format, "/rte2/", [f"{name}=rte"]))
    assert answer["cookies"] == [cookie.replace("=rte;", "=rte2;")]


def test_the_bare_prefix_redirect_sets_it_too(functions, local_path_form):
    connect(functions, "rita", "rte")
    answer = functions.invoke("forwarding", event_for(LOCAL, "/rte"))
    assert (answer["statusCode"], answer["headers"]["location"]) == (308, "/rte/")
    assert answer["cookies"] == [f"{ROUTE_LOCAL}=rte; Path=/; HttpOnly; SameSite=Lax"]


@pytest.mark.parametrize(
    ("path", "reads"),
    [
        ("/static/app.css", ["static", "ck"]),  # a valid name that is no live tunnel: one more
        ("/@vite/client", ["ck"]),  # no tunnel's name at all: only the cookie's
        ("/src/main.js", ["src", "ck"]),
        ("/favicon.ico", ["ck"]),  # a single segment: no redirect to /favicon.ico/
        ("/vite.svg", ["ck"]),
        ("/", ["ck"]),  # the app's root, not the endpoint's
    ],
)
def test_the_cookie_sends_absolute_paths_back_under_its_tunnels_prefix(
    functions, local_path_form, owner_reads, path, reads
):
    """Not forwarded from there: the app's cookies are scoped to /<subdomain>/, so a form
    posting to /admin/login/ must be re-sent (307: method and body kept) where the browser
    sends them."""
    connection_id, _ = connect(functions, "cy", "ck")
    event = event_for(LOCAL, path, ["a=1", f"{ROUTE_LOCAL}=ck", "b=2"], method="POST")
    event["rawQueryString"] = "next=%2Fadmin%2F"
    answer = functions.invoke("forwarding", event)
    assert answer["statusCode"] == 307
    assert answer["headers"]["location"] == f"/ck{path}?next=%2Fadmin%2F"
    assert "cookies" not in answer  # already set to this tunnel
    assert functions.endpoint.messages(connection_id) == []  # nothing reached the agent
    assert owner_reads == reads


def test_a_live_tunnel_in_the_path_costs_one_claim_read_and_wins_over_the_cookie(
    functions, local_path_form, owner_reads
):
    connect(functions, "cy", "ck")
    connection_id, _ = connect(functions, "cy", "ck2")
    event = event_for(LOCAL, "/ck2/page", [f"{ROUTE_LOCAL}=ck"])
    answer, request = exchange(functions, connection_id, event)
    assert answer["statusCode"] == 200
    assert request["rawPath"] == "/page"
    assert owner_reads == ["ck2"]


def test_no_app_sets_the_routing_cookie(functions, local_path_form):
    connection_id, _ = connect(functions, "cy", "ck")
    tossed = [
        ("set-cookie", f"{ROUTE_LOCAL}=victim; Path=/"),
        ("set-cookie", f"{ROUTE_AWS}=victim; Path=/; Secure"),
        ("set-cookie", "TUNNEL-ROUTE=victim"),
        ("set-cookie", "session=s; Path=/"),
    ]
    answer, _ = exchange(functions, connection_id, event_for(LOCAL, "/ck/"), tossed)
    assert answer["cookies"] == [
        "session=s; Path=/ck/",
        f"{ROUTE_LOCAL}=ck; Path=/; HttpOnly; SameSite=Lax",
    ]


CLEARED = f"{ROUTE_LOCAL}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax"


@pytest.mark.parametrize(
    ("path", "cookie"),
    [
        ("/static/app.css", "gone-away"),  # a tunnel that is not connected
        ("/gone-away/x", "gone-away"),  # the same, named by both
        ("/@vite/client", "<script>alert(1)</script>"),  # no tunnel's name at all
        ("/", "Demo"),
    ],
)
def test_a_cookie_naming_no_live_tunnel_routes_nowhere_and_is_cleared(
    functions, local_path_form, path, cookie
):
    connect(functions, "cy", "ck")  # a live tunnel that must not answer instead
    before = all_posts(functions)
    answer = functions.invoke("forwarding", event_for(LOCAL, path, [f"{ROUTE_LOCAL}={cookie}"]))
    assert answer["statusCode"] == 404
    assert answer["body"] == "No tunnel at this address.\n"
    assert answer["cookies"] == [CLEARED]
    assert all_posts(functions) == before


def test_an_expired_tunnels_cookie_is_cleared(functions, local_path_form):
    from tunnel_shared.connections import claim_key

    connect(functions, "cy", "ck-expired")
    functions.connections.delete_item(Key=claim_key("ck-expired"))
    event = event_for(LOCAL, "/static/x.css", [f"{ROUTE_LOCAL}=ck-expired"])
    answer = functions.invoke("forwarding", event)
    assert (answer["statusCode"], answer["cookies"]) == (404, [CLEARED])


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/nobody", "No tunnel is connected at nobody.\n"),  # no redirect to a dead tunnel
        ("/nobody/x", "No tunnel is connected at nobody.\n"),
        ("/%3Cscript%3E/x", "No tunnel at this address.\n"),
        ("/<b>hi</b>/x", "No tunnel at this address.\n"),
    ],
)
def test_a_prefix_naming_no_live_tunnel_is_a_404_naming_only_a_valid_name(
    functions, local_path_form, path, body
):
    answer = functions.invoke("forwarding", event_for(LOCAL, path))
    assert (answer["statusCode"], answer["body"]) == (404, body)
    assert "cookies" not in answer


@pytest.mark.parametrize(
    ("host", "body"),
    [
        ("nobody.tunnel.test", "No tunnel is connected at nobody.\n"),
        ("ck.evil.example", "No tunnel at this address.\n"),
        ("ck.tunnel.test.evil.example", "No tunnel at this address.\n"),
        ("<script>.tunnel.test", "No tunnel at this address.\n"),
    ],
)
def test_a_host_naming_no_live_tunnel_is_a_404_and_the_cookie_does_not_route(
    functions, monkeypatch, host, body
):
    # Under a custom domain the Host alone routes: a routing cookie for a live tunnel is
    # ignored (and passed on: it is no cookie of the tunnel's there).
    monkeypatch.setenv("PUBLIC_URL_FORMAT", "https://{subdomain}.tunnel.test")
    connect(functions, "cy", "ck")
    event = http_event("x", raw_path="/static/app.css", cookies=[f"{ROUTE_AWS}=ck"])
    event["headers"]["host"] = host
    answer = functions.invoke("forwarding", event)
    assert (answer["statusCode"], answer["body"]) == (404, body)


def test_under_the_path_form_no_cookie_keeps_a_domain(functions, local_path_form):
    # localhost is every path-form tunnel's host, and its subdomains are tunnels too.
    connection_id, _ = connect(functions, "cy", "ck")
    tossed = [
        ("set-cookie", "p=1; Domain=localhost; Path=/"),
        ("set-cookie", "q=2; domain=.localhost"),
    ]
    event = event_for(LOCAL, "/ck/", [f"{ROUTE_LOCAL}=ck"])
    answer, _ = exchange(functions, connection_id, event, tossed)
    assert answer["cookies"] == ["p=1; Path=/ck/", "q=2"]
