"""The agent's local timeout is derived from ``tunnel_shared.limits``, not restated: change the
request deadline there and every default (the agent's, ``tunnel http``'s, ``tunnel.yml``'s and
the help text) follows."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from tunnel_shared.limits import REQUEST_DEADLINE_SECONDS

from tunnel_cli import agent, config
from tunnel_cli.__main__ import _parser

ROOT = Path(__file__).resolve().parents[2]


def _http_defaults() -> float:
    args = _parser().parse_args(["http", "8080"])
    return float(args.local_timeout)


def test_the_local_timeout_leaves_room_before_the_request_deadline():
    default = agent.DEFAULT_LOCAL_TIMEOUT_SECONDS
    assert 0 < default < REQUEST_DEADLINE_SECONDS
    assert agent.AgentSettings("ws://x", "t", 1).local_timeout == default
    assert config.DEFAULT_LOCAL_TIMEOUT == default
    assert _http_defaults() == default


def test_every_default_follows_the_deadline_in_limits():
    # A fresh interpreter where limits says 10 s: nothing may still say 25.
    script = textwrap.dedent(
        """
        import json, io, contextlib
        import tunnel_shared.limits as limits
        limits.REQUEST_DEADLINE_SECONDS = 10
        from tunnel_cli import agent, config
        from tunnel_cli.__main__ import _parser
        help_text = io.StringIO()
        with contextlib.redirect_stdout(help_text), contextlib.suppress(SystemExit):
            _parser().parse_args(["http", "--help"])
        print(json.dumps({
            "agent": agent.AgentSettings("ws://x", "t", 1).local_timeout,
            "config": config.DEFAULT_LOCAL_TIMEOUT,
            "cli": float(_parser().parse_args(["http", "8080"]).local_timeout),
            "help": " ".join(help_text.getvalue().split()),
        }))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": f"{ROOT}:{ROOT / 'functions'}", "PATH": "/usr/bin:/bin"},
    )
    seen = json.loads(done.stdout)
    expected = 10 - (REQUEST_DEADLINE_SECONDS - agent.DEFAULT_LOCAL_TIMEOUT_SECONDS)
    assert (seen["agent"], seen["config"], seen["cli"]) == (expected, expected, expected)
    assert f"silent this long ({expected:g})" in seen["help"]
