"""``tunnel.yml``: several tunnels for ``tunnel start``, as ngrok's configuration file has.

    url: wss://abc123.execute-api.eu-west-1.amazonaws.com/dev
    inspect_addr: 127.0.0.1:4040        # optional; `inspect: false` turns the inspector off
    allow_remote_inspector: false       # true: inspect_addr may be reached from elsewhere
    allow_cleartext: false              # true: url may be ws:// to another machine
    tunnels:
      web:
        port: 3000                      # or addr: 127.0.0.1:3000, localhost:3000, 3000
        subdomain: web                  # optional: checked against the token's
        token_env: WEB_TUNNEL_TOKEN     # or token: <the token itself>
        host_header: rewrite            # preserve (default) or rewrite
      api:
        addr: 127.0.0.1:8000
        token_env: API_TUNNEL_TOKEN

Looked up in the current directory, then in ``$XDG_CONFIG_HOME/tunnel/`` (``~/.config/tunnel/``).

Everything is checked before any tunnel starts, and a problem is one line that names the file,
the key and what is wrong with it (``ConfigError``): a half-started set of tunnels would be a
half-applied change. Unknown keys are refused rather than ignored, so a misspelt ``tokn_env``
does not quietly start a tunnel with the wrong token. A token's value never appears in a message.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from tunnel_shared.tokens import TokenError, read_claims

from tunnel_cli.agent import DEFAULT_LOCAL_TIMEOUT_SECONDS
from tunnel_cli.exposure import CLEARTEXT_KEY, REMOTE_INSPECTOR_KEY
from tunnel_cli.forward import HOST_HEADER_POLICIES
from tunnel_cli.websocket_url import url_problem

FILE_NAME = "tunnel.yml"
DEFAULT_LOCAL_TIMEOUT = DEFAULT_LOCAL_TIMEOUT_SECONDS
TOP_KEYS = frozenset(
    {"url", "inspect_addr", "inspect", "tunnels", REMOTE_INSPECTOR_KEY, CLEARTEXT_KEY}
)
TUNNEL_KEYS = frozenset(
    {"port", "addr", "subdomain", "token", "token_env", "host_header", "local_timeout"}
)
# A tunnel's name: it prefixes its log lines and names it in the inspector.
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
ADDR = re.compile(r"^(?:https?://)?(?:(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):)?(\d{1,5})/?$")


class ConfigError(ValueError):
    """The configuration cannot be used; the message is one line naming the key."""


# Makes the error for a key and its problem; every check reports through one.
Fail = Callable[[str, str], ConfigError]


@dataclass(frozen=True)
class TunnelConfig:
    name: str
    local_host: str
    port: int
    token: str
    subdomain: str
    host_header: str = "preserve"
    local_timeout: float = DEFAULT_LOCAL_TIMEOUT


@dataclass(frozen=True)
class Config:
    path: Path
    url: str
    tunnels: dict[str, TunnelConfig]
    inspect_addr: str | None = None
    inspect: bool = True
    # Set when a token is written in the file and others may read the file.
    warning: str | None = None
    # What tunnel_cli.exposure refuses unless allowed: an inspector others reach, ws:// afar.
    allow_remote_inspector: bool = False
    allow_cleartext: bool = False


def find(explicit: str | None, cwd: Path | None = None, home: Path | None = None) -> Path:
    """The configuration file: ``explicit``, else ``./tunnel.yml``, else the user's."""
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ConfigError(f"{path}: no such file")
        return path
    candidates = [(cwd or Path.cwd()) / FILE_NAME, user_config_dir(home) / FILE_NAME]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    looked = " or ".join(str(candidate) for candidate in candidates)
    raise ConfigError(f"no {FILE_NAME}: looked for {looked} (or pass --config PATH)")


def user_config_dir(home: Path | None = None) -> Path:
    xdg = os.environ.get("XDG_CONFIG_HOME")
    base = Path(xdg) if xdg and home is None else (home or Path.home()) / ".config"
    return base / "tunnel"


def load(path: Path, environ: Mapping[str, str] | None = None) -> Config:
    """Read and check ``path``; ``ConfigError`` names the first problem."""
    environ = os.environ if environ is None else environ
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read it ({_reason(error)})") from None
    try:
        document = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except _DuplicateKey as duplicate:
        raise ConfigError(f"{path}: {duplicate}") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(error, "problem", None) or "not valid YAML"
        raise ConfigError(f"{path}: {where}{problem}") from None
    return _parse(path, document, environ)


def _parse(path: Path, document: Any, environ: Mapping[str, str]) -> Config:
    def fail(key: str, problem: str) -> ConfigError:
        return ConfigError(f"{path}: {key}: {problem}")

    if not isinstance(document, dict):
        raise ConfigError(f"{path}: must be a mapping with `url` and `tunnels`")
    _no_unknown_keys(document, TOP_KEYS, "", fail)
    url = document.get("url")
    if not isinstance(url, str) or not url:
        raise fail("url", "missing: the WebSocket API, wss://... (see `tunnel http --help`)")
    if problem := url_problem(url):
        raise fail("url", problem)
    inspect = document.get("inspect", True)
    if not isinstance(inspect, bool):
        raise fail("inspect", "must be true or false")
    allowed = {}
    for key in (REMOTE_INSPECTOR_KEY, CLEARTEXT_KEY):
        allowed[key] = document.get(key, False)
        if not isinstance(allowed[key], bool):
            raise fail(key, "must be true or false")
    inspect_addr = document.get("inspect_addr")
    if inspect_addr is not None:
        if not isinstance(inspect_addr, str | int) or isinstance(inspect_addr, bool):
            raise fail("inspect_addr", "must be HOST:PORT, like 127.0.0.1:4040")
        try:
            parse_addr(str(inspect_addr), any_port=True)
        except ValueError as error:
            raise fail("inspect_addr", str(error)) from None
    tunnels = document.get("tunnels")
    if not isinstance(tunnels, dict) or not tunnels:
        raise fail("tunnels", "must map at least one tunnel name to its settings")
    parsed = {}
    for name, settings in tunnels.items():
        if not isinstance(name, str) or not NAME.match(name):
            raise fail(f"tunnels.{name}", "a name is letters, digits, '-', '_' or '.'")
        parsed[name] = _tunnel(name, settings, environ, fail)
    warning = None
    if any(isinstance(t, dict) and "token" in t for t in tunnels.values()):
        warning = _readable_by_others(path)
    return Config(
        path,
        url,
        parsed,
        inspect_addr and str(inspect_addr),
        inspect,
        warning,
        allow_remote_inspector=allowed[REMOTE_INSPECTOR_KEY],
        allow_cleartext=allowed[CLEARTEXT_KEY],
    )


def _tunnel(name: str, settings: Any, environ: Mapping[str, str], fail: Fail) -> TunnelConfig:
    key = f"tunnels.{name}"
    if not isinstance(settings, dict):
        raise fail(key, "must be a mapping with port (or addr) and token (or token_env)")
    _no_unknown_keys(settings, TUNNEL_KEYS, f"{key}.", fail)
    if ("port" in settings) == ("addr" in settings):
        raise fail(key, "needs exactly one of port or addr")
    if "port" in settings:
        port = settings["port"]
        if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
            raise fail(f"{key}.port", f"must be a port number from 1 to 65535 (got {port!r})")
        local_host = "127.0.0.1"
    else:
        try:
            local_host, port = parse_addr(str(settings["addr"]), default_host="127.0.0.1")
        except ValueError as error:
            raise fail(f"{key}.addr", str(error)) from None
    token = _token(key, settings, environ, fail)
    try:
        claims = read_claims(token)
    except TokenError as error:
        raise fail(_token_key(key, settings), f"the token is unusable: {error}") from None
    subdomain = settings.get("subdomain")
    if subdomain is not None and subdomain != claims.subdomain:
        raise fail(
            f"{key}.subdomain",
            f"{subdomain!r} is not the token's subdomain {claims.subdomain!r}; the token "
            f"decides it (issue one with `tunnel token --subdomain {subdomain}`)",
        )
    host_header = settings.get("host_header", "preserve")
    if host_header not in HOST_HEADER_POLICIES:
        choices = " or ".join(HOST_HEADER_POLICIES)
        raise fail(f"{key}.host_header", f"must be {choices} (got {host_header!r})")
    timeout = settings.get("local_timeout", DEFAULT_LOCAL_TIMEOUT)
    if not isinstance(timeout, int | float) or isinstance(timeout, bool) or not timeout > 0:
        raise fail(f"{key}.local_timeout", "must be a positive number of seconds")
    return TunnelConfig(
        name, local_host, port, token, claims.subdomain, host_header, float(timeout)
    )


def _token(key: str, settings: dict[str, Any], environ: Mapping[str, str], fail: Fail) -> str:
    if ("token" in settings) == ("token_env" in settings):
        raise fail(key, "needs exactly one of token or token_env")
    if "token" in settings:
        token = settings["token"]
        if not isinstance(token, str) or not token.strip():
            raise fail(f"{key}.token", "must be the token, a string")
        return token.strip()
    variable = settings["token_env"]
    if not isinstance(variable, str) or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", variable):
        raise fail(f"{key}.token_env", "must be the name of an environment variable")
    token = environ.get(variable, "").strip()
    if not token:
        raise fail(
            f"{key}.token_env",
            f"${variable} is not set (issue a token with `tunnel token --subdomain NAME`)",
        )
    return token


def _token_key(key: str, settings: dict[str, Any]) -> str:
    return f"{key}.token" if "token" in settings else f"{key}.token_env"


def parse_addr(
    text: str, default_host: str = "127.0.0.1", any_port: bool = False
) -> tuple[str, int]:
    """``HOST:PORT``, ``PORT``, ``[::1]:PORT`` or ``http://HOST:PORT`` → (host, port).
    ``any_port``: port 0 too (a listening address: the system picks a free port)."""
    match = ADDR.match(text.strip())
    if not match:
        raise ValueError(f"must be HOST:PORT or PORT, like 127.0.0.1:8080 (got {text!r})")
    host, port = match.group(1) or default_host, int(match.group(2))
    if not (0 if any_port else 1) <= port < 65536:
        raise ValueError(f"port {port} is not from 1 to 65535")
    return host.strip("[]"), port


def _no_unknown_keys(
    mapping: dict[Any, Any], known: frozenset[str], prefix: str, fail: Fail
) -> None:
    for key in mapping:
        if key not in known:
            allowed = ", ".join(sorted(known))
            raise fail(f"{prefix}{key}", f"unknown key (known: {allowed})")


def _readable_by_others(path: Path) -> str | None:
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        return (
            f"{path} holds a token and other users can read it; `chmod 600 {path}`, or use "
            "token_env"
        )
    return None


def _reason(error: BaseException) -> str:
    if isinstance(error, UnicodeDecodeError):
        return "not UTF-8"
    return getattr(error, "strerror", None) or type(error).__name__


class _DuplicateKey(yaml.YAMLError):
    pass


class _StrictLoader(yaml.SafeLoader):
    """Safe YAML that refuses a key given twice (PyYAML keeps the last one silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                line = key_node.start_mark.line + 1
                raise _DuplicateKey(f"line {line}: key {key!r} is given twice")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)
