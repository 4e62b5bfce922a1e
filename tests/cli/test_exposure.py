"""What the agent will not expose unless told: an inspector listening beyond loopback (it serves
captured cookies and tokens, and replays requests) and a ``ws://`` URL to another machine (the
token would cross the network unencrypted). Each is refused in one line that says why and how to
allow it; the flag or the tunnel.yml key allows it. The console script, in a subprocess."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.harness import make_token
from tests.cli.test_cli import closed_port
from tunnel_cli.exposure import cleartext_problem, is_loopback, remote_inspector_problem

TUNNEL = str(Path(sys.executable).parent / "tunnel")
REMOTE_URL = "ws://tunnel.invalid/dev"  # .invalid never resolves (RFC 6761)
WEB = "tunnels:\n  web: {port: 3000, token_env: WEB_TOKEN}\n"


def tunnel(*args: str, token: str) -> subprocess.CompletedProcess[str]:
    ran = subprocess.run(
        [TUNNEL, *args],
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "TUNNEL_BACKOFF_INITIAL_SECONDS": "0.1", "WEB_TOKEN": token},
    )
    assert token not in ran.stdout + ran.stderr
    return ran


def refused_once(ran: subprocess.CompletedProcess[str], *words: str) -> str:
    assert ran.returncode == 2, ran.stderr
    assert ran.stdout == ""  # nothing started: no inspector, no connection
    (line,) = ran.stderr.splitlines()
    for word in words:
        assert word in line, line
    return line


# ws:// to another machine -------------------------------------------------------------------


def test_ws_to_another_machine_is_refused_in_one_line():
    token = make_token()
    ran = tunnel("http", "8080", "--url", REMOTE_URL, "--token", token, token=token)
    line = refused_once(ran, "unencrypted", "wss://", "--allow-cleartext", "allow_cleartext: true")
    assert line.startswith("tunnel: error: --url ws://tunnel.invalid/dev: ws:// to tunnel.invalid")


def test_allow_cleartext_lets_it_connect():
    token = make_token()
    ran = tunnel(
        "http", "8080", "--url", REMOTE_URL, "--token", token, "--no-inspect",
        "--allow-cleartext", token=token,
    )  # fmt: skip
    assert ran.returncode == 1  # it tried: there is nothing at .invalid
    assert "no such host 'tunnel.invalid'" in ran.stderr


def test_a_tunnel_yml_with_ws_to_another_machine_is_refused_unless_its_key_allows(tmp_path):
    token = make_token("web")
    text = f"url: {REMOTE_URL}\ninspect: false\n{WEB}"
    path = tmp_path / "tunnel.yml"
    path.write_text(text)
    ran = tunnel("start", "--all", "--config", str(path), token=token)
    line = refused_once(ran, f"{path}: url: ws:// to tunnel.invalid", "allow_cleartext: true")
    assert line.startswith("tunnel: error: ")
    path.write_text(text.replace("inspect: false", "inspect: false\nallow_cleartext: true"))
    ran = tunnel("start", "--all", "--config", str(path), token=token)
    assert ran.returncode == 1 and "no such host 'tunnel.invalid'" in ran.stderr


# An inspector others can reach ----------------------------------------------------------------


@pytest.mark.parametrize("address", ["0.0.0.0:0", "[::]:0", "192.0.2.10:0"])
def test_an_inspector_beyond_loopback_is_refused_in_one_line(address):
    token = make_token()
    url = f"ws://127.0.0.1:{closed_port()}/dev"
    ran = tunnel(
        "http", "8080", "--url", url, "--token", token, "--inspect-addr", address, token=token
    )
    line = refused_once(
        ran, "not a loopback address", "cookies and tokens", "--allow-remote-inspector"
    )
    assert line.startswith("tunnel: error: --inspect-addr: ")


def test_allow_remote_inspector_lets_it_listen_everywhere():
    token = make_token()
    url = f"ws://127.0.0.1:{closed_port()}/dev"
    ran = tunnel(
        "http", "8080", "--url", url, "--token", token, "--inspect-addr", "0.0.0.0:0",
        "--allow-remote-inspector", token=token,
    )  # fmt: skip
    assert re.match(r"Web Interface http://0\.0\.0\.0:\d+\n", ran.stdout), ran.stdout
    assert ran.returncode == 1  # then nothing to connect to


def test_a_tunnel_yml_inspector_beyond_loopback_needs_its_key(tmp_path):
    token = make_token("web")
    url = f"ws://127.0.0.1:{closed_port()}/dev"
    text = f"url: {url}\ninspect_addr: 0.0.0.0:0\n{WEB}"
    path = tmp_path / "tunnel.yml"
    path.write_text(text)
    ran = tunnel("start", "--all", "--config", str(path), token=token)
    line = refused_once(ran, f"{path}: inspect_addr: 0.0.0.0 is not a loopback address")
    assert "allow_remote_inspector: true" in line
    path.write_text(text + "allow_remote_inspector: true\n")
    ran = tunnel("start", "--all", "--config", str(path), token=token)
    assert re.match(r"Web Interface http://0\.0\.0\.0:\d+\n", ran.stdout), ran.stdout


# The rules ----------------------------------------------------------------------------------


def test_what_counts_as_this_machine():
    for host in ("127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost", "demo.localhost"):
        assert is_loopback(host) and remote_inspector_problem(host) is None, host
    for host in ("0.0.0.0", "::", "192.168.1.10", "localhost.evil.example", "example.com"):
        assert not is_loopback(host) and remote_inspector_problem(host), host
    assert cleartext_problem("ws://127.0.0.1:4567/dev") is None
    assert cleartext_problem("ws://demo.localhost:4567/dev") is None
    assert cleartext_problem("wss://abc.execute-api.eu-west-1.amazonaws.com/dev") is None
    assert cleartext_problem("ws://abc.execute-api.eu-west-1.amazonaws.com/dev")
