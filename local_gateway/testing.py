"""Start and stop the local gateway as a subprocess, for tests (the real server, real sockets).

    emulator = emulator.process.start()            # then launch dev on it (sceptre launch -y dev)
    gateway = start(env=client_environment(emulator.url))  # on a port it binds: gateway.port
    ...  websockets.connect(gateway.websocket_url)
    ...  http.client.HTTPConnection("127.0.0.1", gateway.port), Host: gateway.host("demo"),
         target gateway.target("demo", "/x")  (dev: Host localhost:<port>, target /demo/x)
    stop(gateway)

``*.localhost`` (a custom domain's tunnels) does not resolve through getaddrinfo on every
system (curl resolves it itself): connect to 127.0.0.1 and send the Host header instead.
``localhost`` (dev's tunnels) resolves everywhere.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

from emulator import process as background_process

REPO_ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
# Logged once the gateway listens (local_gateway.server.serve), with the port it bound.
_READY = re.compile(
    r"^local gateway: ready on http://127\.0\.0\.1:(\d+):.* HTTP (\S+), ", re.MULTILINE
)


@dataclass
class GatewayProcess:
    port: int
    environment: str
    process: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]
    public_url_format: str = ""  # from the ready line: "http://...:<port>/{subdomain}"

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def websocket_url(self) -> str:
        return f"ws://{HOST}:{self.port}/{self.environment}"

    @property
    def connections_endpoint(self) -> str:
        """The ``endpoint_url`` of an ``apigatewaymanagementapi`` client."""
        return f"{self.url}/{self.environment}"

    def public_url(self, subdomain: str) -> str:
        """The URL the agent is told: ``http://localhost:<port>/<subdomain>`` (no custom
        domain), or ``http://<subdomain>.localhost:<port>``."""
        return self.public_url_format.replace("{subdomain}", subdomain)

    def host(self, subdomain: str) -> str:
        """The Host header that reaches the HTTP API for ``subdomain``."""
        return urlsplit(self.public_url(subdomain)).netloc

    def target(self, subdomain: str, target: str = "/") -> str:
        """The request target on the public URL for the local service's ``target``."""
        return urlsplit(self.public_url(subdomain)).path.rstrip("/") + target

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log().splitlines()[-lines:])


def start(
    port: int | None = None,
    environment: str = "dev",
    env: Mapping[str, str] | None = None,
    options: Sequence[str] = (),
    timeout: float = 30.0,
) -> GatewayProcess:
    """Run ``python -m local_gateway`` and return once it logs that it is ready (it logs that
    once it listens). Without ``port`` it binds one the OS picks (``--port 0``) and logs which:
    no other process can take it between choosing and binding.

    ``env`` is added to this process's environment (AWS_PROFILE and AWS_SESSION_TOKEN are
    dropped unless given, as ``make tunnel-local`` does): pass the emulator's
    AWS_ENDPOINT_URL and dummy credentials. The functions run their deployed code.
    ``options`` are more command-line options, e.g. ``["--idle-timeout", "1"]``.
    """
    requested = port or 0
    child_env = {
        k: v for k, v in os.environ.items() if k not in ("AWS_PROFILE", "AWS_SESSION_TOKEN")
    }
    child_env.update(env or {})
    child_env["PYTHONUNBUFFERED"] = "1"
    command = [
        sys.executable,
        "-m",
        "local_gateway",
        "--port",
        str(requested),
        "--environment",
        environment,
        *options,
    ]
    log_file = tempfile.NamedTemporaryFile(prefix="gateway-", suffix=".log", delete=False)
    process = subprocess.Popen(
        command,
        cwd=REPO_ROOT,
        stdin=subprocess.DEVNULL,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        env=child_env,
    )
    handle = GatewayProcess(requested, environment, process, Path(log_file.name), log_file)
    deadline = time.monotonic() + timeout
    # The log is this process's alone (a new file): a ready line in it is this process's.
    while (ready := _READY.search(handle.log())) is None:
        if process.poll() is not None or time.monotonic() > deadline:
            stop(handle, keep_log=True)
            where = f"on port {requested}" if requested else "(on a port of its choice)"
            raise RuntimeError(
                f"local gateway {where} did not start; log {handle.log_path}:\n{handle.log_tail()}"
            )
        time.sleep(0.05)
    handle.port = int(ready[1])
    handle.public_url_format = ready[2]
    return handle


def stop(handle: GatewayProcess, timeout: float = 10.0, keep_log: bool = False) -> None:
    """SIGTERM (open WebSockets close and get their $disconnect), SIGKILL if it hangs."""
    background_process.stop(handle, timeout, keep_log)
