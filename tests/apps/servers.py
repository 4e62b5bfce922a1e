"""Real apps at the far end of the tunnel, set up as their own docs say, each a subprocess on a
free port: Django's stock project (``django-admin startproject``, its dev server) from the
.venv-apps virtualenv, and the stock Vite app (``npm create vite -- --template vanilla``) that
``make apps`` scaffolds into build/apps/vite-app.

The one setting each gets is the host the agent printed: Django's ALLOWED_HOSTS and
CSRF_TRUSTED_ORIGINS, Vite's ``server.allowedHosts``. So an app starts after its agent has
printed its URL (the agent does not need the app to be up to connect).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from tests.conftest import PROJECT

APPS_VENV = PROJECT / ".venv-apps"
DJANGO_ADMIN = APPS_VENV / "bin" / "django-admin"
VITE_APP = PROJECT / "build" / "apps" / "vite-app"
VITE = VITE_APP / "node_modules" / ".bin" / "vite"
ADMIN_PASSWORD = "tunnel-admin-password-1"
# runserver's request lines: [03/Dec/2025 19:03:00] "GET /admin/ HTTP/1.1" 302 0
DJANGO_REQUEST = re.compile(r'"(?P<method>[A-Z]+) (?P<target>\S+) HTTP/[\d.]+" (?P<status>\d{3}) ')


def free_port() -> int:
    """A port nothing listens on now (the app binds it a moment later)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def missing(*paths: Path) -> str:
    absent = [str(path) for path in paths if not path.exists()]
    return f"{', '.join(absent)} missing: run `make apps`" if absent else ""


@dataclass
class AppProcess:
    """A server started in its own process group (npx starts node under npm), its output read
    as it comes; stopped by its group's id, which is its pid."""

    name: str
    process: subprocess.Popen[str]
    port: int
    lines: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_for(self, pattern: str, timeout: float = 60.0) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if match := re.search(pattern, line):
                    return match
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"{self.name} never printed {pattern!r}; output: {self.lines[-40:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def spawn(name: str, command: list[str], cwd: Path, port: int, env: dict[str, str]) -> AppProcess:
    started = subprocess.Popen(
        command,
        cwd=cwd,
        env={**os.environ, **env},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    return AppProcess(name, started, port)


# Django


def _manage(project: Path, *arguments: str, env: dict[str, str] | None = None) -> None:
    python = APPS_VENV / "bin" / "python"
    done = subprocess.run(
        [str(python), "manage.py", *arguments],
        cwd=project,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"manage.py {' '.join(arguments)}:\n{done.stdout}{done.stderr}"


def django_project(parent: Path, public_url: str) -> Path:
    """``django-admin startproject mysite`` in ``parent``, its settings changed in ALLOWED_HOSTS
    and CSRF_TRUSTED_ORIGINS only (the printed URL's host and origin), migrated, with a
    superuser ``admin`` (ADMIN_PASSWORD)."""
    if reason := missing(DJANGO_ADMIN):
        raise AssertionError(reason)
    project = parent / "mysite"
    project.mkdir()
    created = subprocess.run(
        [str(DJANGO_ADMIN), "startproject", "mysite", str(project)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert created.returncode == 0, created.stderr
    settings = project / "mysite" / "settings.py"
    url = urlsplit(public_url)
    text = settings.read_text()
    assert text.count("ALLOWED_HOSTS = []\n") == 1
    text = text.replace("ALLOWED_HOSTS = []\n", f"ALLOWED_HOSTS = [{url.hostname!r}]\n")
    origin = f"{url.scheme}://{url.netloc}"
    settings.write_text(text + f"\nCSRF_TRUSTED_ORIGINS = [{origin!r}]\n")
    _manage(project, "migrate", "--noinput")
    _manage(
        project,
        "createsuperuser",
        "--noinput",
        "--username",
        "admin",
        "--email",
        "admin@example.com",
        env={"DJANGO_SUPERUSER_PASSWORD": ADMIN_PASSWORD},
    )
    return project


def start_django(project: Path, port: int) -> AppProcess:
    """``manage.py runserver 127.0.0.1:<port> --noreload`` (DEBUG: it serves admin's static
    files), once it says it is serving."""
    app = spawn(
        "django",
        [
            str(APPS_VENV / "bin" / "python"),
            "manage.py",
            "runserver",
            f"127.0.0.1:{port}",
            "--noreload",
        ],
        project,
        port,
        {"PYTHONUNBUFFERED": "1"},
    )
    app.wait_for(rf"^Starting development server at http://127\.0\.0\.1:{port}/$")
    return app


def django_requests(app: AppProcess) -> list[tuple[str, str, int]]:
    """(method, target, status) of every request the dev server logged, in order."""
    return [
        (m["method"], m["target"], int(m["status"]))
        for line in list(app.lines)
        if (m := DJANGO_REQUEST.search(line))
    ]


# Vite


def start_vite(public_url: str, port: int) -> AppProcess:
    """The stock Vite app with ``server.allowedHosts`` the printed URL's host (its only setting,
    in vite.config.js as Vite's docs put it), ``npx vite --port <port> --strictPort --host
    127.0.0.1``, once it says where it serves."""
    if reason := missing(VITE):
        raise AssertionError(reason)
    host = urlsplit(public_url).hostname
    (VITE_APP / "vite.config.js").write_text(
        f"export default {{\n  server: {{\n    allowedHosts: [{host!r}],\n  }},\n}}\n"
    )
    app = spawn(
        "vite",
        ["npx", "vite", "--port", str(port), "--strictPort", "--host", "127.0.0.1"],
        VITE_APP,
        port,
        {"NO_COLOR": "1", "CI": "1"},
    )
    app.wait_for(rf"Local:\s+http://127\.0\.0\.1:{port}/")
    return app
