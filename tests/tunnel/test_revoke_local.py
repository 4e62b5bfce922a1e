"""`tunnel token revoke` on the local stack as the Makefile's local targets run it: the
@connections endpoint comes from ``TUNNEL_CONNECTIONS_ENDPOINT``, no flag needed, and the
revoked token's live agent is closed (it does not keep serving)."""

from __future__ import annotations

import subprocess

from tunnel_shared.tokens import read_claims

from tests.tunnel.conftest import TUNNEL, Tunnel


def test_revoke_with_only_the_environment_variable_closes_the_live_agent(tunnel: Tunnel):
    token = tunnel.token("revoked-by-env")
    agent = tunnel.agent(token)
    agent.wait_for(r"^Forwarding ")
    assert "TUNNEL_CONNECTIONS_ENDPOINT" not in tunnel.environment
    revoked = subprocess.run(
        [str(TUNNEL), "token", "revoke", read_claims(token).token_id],
        cwd=tunnel.root,
        env={
            **tunnel.environment,
            "TUNNEL_CONNECTIONS_ENDPOINT": tunnel.gateway.connections_endpoint,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert revoked.returncode == 0, revoked.stderr
    assert "Closed its live connection" in revoked.stdout
    assert agent.process.wait(timeout=60) == 1  # told why, and no reconnect loop
    assert agent.wait_for(r"the server closed the tunnel: the token was revoked")
    assert tunnel.request("revoked-by-env", "GET", "/echo")[0] == 404
