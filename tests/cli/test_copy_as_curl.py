"""The inspector's "Copy as curl", run for real: a request is forwarded to a loopback server as
the agent forwards it and captured, curl.js (the page's own file, under node) writes the
command from the inspector API's JSON, and the command is run by each shell here (bash, dash,
zsh, fish). What arrives must be what the agent sent, byte for byte, exactly once, and nothing
else may run: not fish's ``\\'`` breakout, not a local file read for a body starting with
``@``, not several requests for a URL with ``[1-3]`` or ``{a,b}``."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.cli.inspector_helpers import call, forward_and_capture, running_inspector, tunnel_view
from tunnel_cli.inspector.traffic import Traffic

CURL_JS = Path(__file__).resolve().parents[2] / "tunnel_cli" / "inspector" / "static" / "curl.js"
NODE = shutil.which("node")
# bash and dash always; zsh and fish where installed (Debian's zsh, fish).
SHELLS = [
    pytest.param(name, marks=() if shutil.which(name) else pytest.mark.skip(f"no {name} here"))
    for name in ("bash", "dash", "zsh", "fish")
]
# Headers that belong to one connection or that curl computes from the command.
PER_CONNECTION = {b"connection", b"content-length"}
SECRET = b"the contents of a local file\n"


@dataclass
class Arrived:
    request_line: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes


class Recorder:
    """A loopback HTTP/1.1 server that keeps every request's bytes and answers 200."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.arrived: list[Arrived] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            with connection:
                self._one(connection)

    def _one(self, connection: socket.socket) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = connection.recv(65536)
            if not chunk:
                return
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        request_line, *lines = head.split(b"\r\n")
        headers = [(n.strip().lower(), v.strip()) for n, _, v in (x.partition(b":") for x in lines)]
        length = int(dict(headers).get(b"content-length", b"0"))
        while len(body) < length:
            body += connection.recv(65536)
        self.arrived.append(Arrived(request_line, headers, body))
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    server = Recorder()
    try:
        yield server
    finally:
        server.close()


# method, target, headers, body: each hostile to one shell, to curl, or to a terminal.
CASES = {
    "fish-breakout": (
        "POST",
        "/it's/\\'/$(touch pwned-url)?q=`touch pwned-query`&r=\\'';touch pwned-r;'",
        [("X-Note", "x\\'; touch pwned-header; echo '"), ("X-Dollar", "$HOME $(id) `id` !!")],
        b"it's \\'; touch pwned-body; echo ' $(touch pwned-sub) `touch pwned-tick` \\\\ !x",
    ),
    "at-file": ("POST", "/upload", [("Content-Type", "text/plain")], b"@secret.txt"),
    "globbing": ("GET", "/a/[1-3]/{x,y}/file?n=[0-9]&m={a,b}", [("Accept", "*/*")], b""),
    "binary": (
        "PUT",
        "/bin/\u00e9/\x1b]52;c;eA==\x07",
        [("Content-Type", "application/octet-stream"), ("X-Odd", "a\tb \u00e9 \x1b[31m")],
        bytes(range(256)) + b"\r\n%s%%\\0\n\n",
    ),
    "empty-header-and-dots": (
        "DELETE",
        "/a/../b/./c",
        [("X-Empty", ""), ("User-Agent", "agent/1"), ("X-Trace", "1"), ("X-Trace", "2")],
        b"",
    ),
    "text-with-newlines": ("PATCH", "/doc", [("Content-Type", "text/plain")], b"line 1\nline 2\n"),
    "head": ("HEAD", "/only-headers", [("Accept", "text/html")], b""),
}


def curl_command(detail: dict, base: str) -> dict:
    script = (
        "const { curlCommand } = require(process.argv[1]);"
        "const [request, base] = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        "const body = Buffer.from(request.body, 'base64');"
        "process.stdout.write(JSON.stringify(curlCommand(request, body, base, true)));"
    )
    done = subprocess.run(
        [str(NODE), "-e", script, str(CURL_JS)],
        input=json.dumps([detail["request"], base]),
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return json.loads(done.stdout)


def comparable(arrived: Arrived) -> tuple[bytes, list[tuple[bytes, bytes]], bytes]:
    headers = [(n, v) for n, v in arrived.headers if n not in PER_CONNECTION]
    return arrived.request_line, headers, arrived.body


@pytest.mark.skipif(NODE is None, reason="node is needed to run the page's curl.js")
@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize("case", CASES)
def test_the_copied_command_sends_the_same_bytes_once_and_runs_nothing_else(
    case: str, shell: str, recorder: Recorder, tmp_path: Path
) -> None:
    method, target, headers, body = CASES[case]
    traffic = Traffic()
    view = tunnel_view(recorder.port)
    with running_inspector(traffic, [view]) as inspector:
        request_id = forward_and_capture(traffic, view, method, target, headers, body)
        status, _, detail = call(inspector, "GET", f"/api/requests/http/{request_id}")
    assert status == 200
    (sent_by_agent,) = recorder.arrived
    copied = curl_command(detail, view.addr)
    assert copied["left"] == []
    command = copied["command"]
    # Nothing a terminal acts on is pasted raw; a text body's newlines stay inside its quotes.
    assert command.isascii() and command.replace("\n", " ").isprintable()
    work, home = tmp_path / "work", tmp_path / "home"  # fish writes its own files in HOME
    work.mkdir()
    home.mkdir()
    (work / "secret.txt").write_bytes(SECRET)
    ran = subprocess.run(
        [shell, "-c", command],
        cwd=work,
        capture_output=True,
        timeout=30,
        env={"PATH": "/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8"},
    )
    assert ran.returncode == 0, (command, ran.stderr)
    assert sorted(p.name for p in work.iterdir()) == ["secret.txt"]  # nothing was touched
    assert len(recorder.arrived) == 2, [a.request_line for a in recorder.arrived]
    assert SECRET not in recorder.arrived[1].body
    assert comparable(recorder.arrived[1]) == comparable(sent_by_agent)


@pytest.mark.skipif(NODE is None, reason="node is needed to run the page's curl.js")
def test_what_the_command_cannot_carry_is_named() -> None:
    detail = {
        "request": {
            "method": "POST",
            "uri": "/",
            "header_list": [["Bad Name", "x"], ["@file", "y"]],
            "truncated": True,
            "body": "YWJj",
        }
    }
    copied = curl_command(detail, "http://127.0.0.1:1")
    assert copied["left"] == [
        'header "Bad Name" (not a valid name)',
        'header "@file" (not a valid name)',
        "the body past its first 3 bytes (not kept)",
    ]
    assert "@file" not in copied["command"]
