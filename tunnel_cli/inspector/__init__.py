"""The agent's request inspector (ngrok's http://127.0.0.1:4040): a bounded ring of the requests
the tunnel answered (``traffic``), their ngrok-shaped JSON (``shape``), replay to the local
service (``replay``), the loopback guards (``guard``), and the page and JSON API (``server``)."""
