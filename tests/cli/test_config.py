"""``tunnel.yml``: what a good file gives, where it is looked for, and that every bad one is one
line naming the file, the key and the problem (and never the token)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.harness import make_token
from tunnel_cli import config

TUNNEL = Path(sys.executable).parent / "tunnel"
WEB_TOKEN = make_token("web")
API_TOKEN = make_token("api")
GOOD = f"""\
url: ws://127.0.0.1:4567/dev
inspect_addr: 127.0.0.1:4050
tunnels:
  web:
    port: 3000
    subdomain: web
    token_env: WEB_TUNNEL_TOKEN
    host_header: rewrite
  api:
    addr: localhost:8000
    token: {API_TOKEN}
    local_timeout: 5
"""


def write(tmp_path: Path, text: str, name: str = "tunnel.yml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    path.chmod(0o600)
    return path


def test_a_good_file_gives_every_tunnel_with_its_settings(tmp_path):
    loaded = config.load(write(tmp_path, GOOD), {"WEB_TUNNEL_TOKEN": WEB_TOKEN})
    assert loaded.url == "ws://127.0.0.1:4567/dev"
    assert loaded.inspect_addr == "127.0.0.1:4050" and loaded.inspect
    web, api = loaded.tunnels["web"], loaded.tunnels["api"]
    assert (web.local_host, web.port, web.host_header, web.token) == (
        "127.0.0.1",
        3000,
        "rewrite",
        WEB_TOKEN,
    )
    assert (api.local_host, api.port, api.subdomain, api.local_timeout) == (
        "localhost",
        8000,
        "api",
        5.0,
    )
    assert loaded.warning is None  # 0600: nobody else can read the token in it


def test_a_token_in_a_file_others_can_read_is_warned_about(tmp_path):
    path = write(tmp_path, GOOD)
    path.chmod(0o644)
    loaded = config.load(path, {"WEB_TUNNEL_TOKEN": WEB_TOKEN})
    assert loaded.warning is not None and "chmod 600" in loaded.warning


def test_the_file_is_looked_for_here_then_in_the_users_config(tmp_path, monkeypatch):
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    here, home = tmp_path / "project", tmp_path / "home"
    here.mkdir()
    (home / ".config" / "tunnel").mkdir(parents=True)
    users = write(home / ".config" / "tunnel", GOOD)
    assert config.find(None, cwd=here, home=home) == users
    local = write(here, GOOD)
    assert config.find(None, cwd=here, home=home) == local
    with pytest.raises(
        config.ConfigError, match=r"no tunnel.yml: looked for .* \(or pass --config PATH\)"
    ):
        config.find(None, cwd=tmp_path, home=tmp_path)


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ("- a list\n", "tunnel.yml", "must be a mapping with `url` and `tunnels`"),
        ("url: [unclosed\n", "tunnel.yml", "line 2"),
        ("tunnels: {}\n", "url", "missing"),
        ("url: http://x/dev\ntunnels: {}\n", "url", "must be a ws:// or wss:// URL"),
        ("url: ws://x/dev\n", "tunnels", "must map at least one tunnel"),
        ("url: ws://x/dev\nurl: ws://y/dev\ntunnels: {}\n", "tunnel.yml", "'url' is given twice"),
        ("url: ws://x/dev\ntunels: {}\n", "tunels", "unknown key"),
        ("url: ws://x/dev\ninspect: maybe\ntunnels: {}\n", "inspect", "true or false"),
        ("url: ws://x/dev\ninspect_addr: here\ntunnels: {a: {}}\n", "inspect_addr", "HOST:PORT"),
        ("url: ws://x/dev\ntunnels: {web: 3000}\n", "tunnels.web", "must be a mapping"),
        ("url: ws://x/dev\ntunnels: {'w b': {}}\n", "tunnels.w b", "a name is letters"),
        ("url: ws://x/dev\ntunnels: {web: {token_env: T}}\n", "tunnels.web", "port or addr"),
        (
            "url: ws://x/dev\ntunnels: {web: {port: 3000, addr: '1'}}\n",
            "tunnels.web",
            "exactly one of port or addr",
        ),
        (
            "url: ws://x/dev\ntunnels: {web: {port: http, token_env: T}}\n",
            "tunnels.web.port",
            "port number from 1 to 65535 (got 'http')",
        ),
        (
            "url: ws://x/dev\ntunnels: {web: {port: 70000, token_env: T}}\n",
            "tunnels.web.port",
            "port number",
        ),
        (
            "url: ws://x/dev\ntunnels: {web: {addr: 'a b', token_env: T}}\n",
            "tunnels.web.addr",
            "HOST:PORT or PORT",
        ),
        (
            "url: ws://x/dev\ntunnels: {web: {port: 3000}}\n",
            "tunnels.web",
            "exactly one of token or token_env",
        ),
        (
            "url: ws://x/dev\ntunnels: {web: {port: 3000, token_env: UNSET_TOKEN}}\n",
            "tunnels.web.token_env",
            "$UNSET_TOKEN is not set",
        ),
        (
            "url: ws://x/dev\ntunnels: {web: {port: 3000, token: nonsense}}\n",
            "tunnels.web.token",
            "the token is unusable: malformed token",
        ),
        (
            "url: ws://x/dev\ntunnels: {web: {port: 3000, token_env: T, subdomain: api}}\n",
            "tunnels.web.subdomain",
            "'api' is not the token's subdomain 'web'",
        ),
        (
            "url: ws://x/dev\ntunnels: {web: {port: 3000, token_env: T, host_header: keep}}\n",
            "tunnels.web.host_header",
            "must be preserve or rewrite (got 'keep')",
        ),
        (
            "url: ws://x/dev\ntunnels: {web: {port: 3000, token_env: T, tokn: x}}\n",
            "tunnels.web.tokn",
            "unknown key",
        ),
        (
            "url: ws://x/dev\ntunnels: {web: {port: 3000, token_env: T, local_timeout: -1}}\n",
            "tunnels.web.local_timeout",
            "positive number of seconds",
        ),
    ],
)
def test_a_bad_file_is_one_line_naming_the_key(tmp_path, text, key, problem):
    path = write(tmp_path, text)
    with pytest.raises(config.ConfigError) as raised:
        config.load(path, {"T": WEB_TOKEN})
    message = str(raised.value)
    assert message.startswith(f"{path}: ")
    assert f": {key}: " in message or key == "tunnel.yml"
    assert problem in message
    assert "\n" not in message
    assert WEB_TOKEN not in message


def test_tunnel_start_reports_a_bad_file_in_one_line_and_exits_2(tmp_path):
    path = write(tmp_path, GOOD.replace("port: 3000", "port: web"))
    environment = {**os.environ, "WEB_TUNNEL_TOKEN": WEB_TOKEN}
    ran = subprocess.run(
        [str(TUNNEL), "start", "--all", "--config", str(path)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert ran.returncode == 2
    assert ran.stdout == ""
    assert ran.stderr.splitlines() == [
        f"tunnel: error: {path}: tunnels.web.port: must be a port number from 1 to 65535 "
        "(got 'web')"
    ]


@pytest.mark.parametrize(
    ("names", "problem"),
    [
        ([], "name the tunnels to start, or pass --all (.* has: web, api)"),
        (["db"], "has no tunnel 'db' \\(it has: web, api\\)"),
        (["web", "--all"], "name tunnels or pass --all, not both"),
    ],
)
def test_tunnel_start_needs_known_names_or_all(tmp_path, names, problem):
    path = write(tmp_path, GOOD)
    ran = subprocess.run(
        [str(TUNNEL), "start", *names, "--config", str(path)],
        env={**os.environ, "WEB_TUNNEL_TOKEN": WEB_TOKEN},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert ran.returncode == 2
    [line] = ran.stderr.splitlines()
    assert re.search(problem, line), line
