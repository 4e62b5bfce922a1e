"""The connections table: one item per agent connection, and one claim item per subdomain.

Connection items are keyed by API Gateway's connection id and carry ``publicSubdomain`` (the
``subdomain-index`` key). A subdomain's claim is a separate item, keyed ``claim#<subdomain>``
and written conditionally, because the index is neither unique nor strongly consistent.
Items expire through the ``ttl`` attribute; ``$disconnect`` may never come, so readers also
ignore items whose ``ttl`` has passed.
"""

from __future__ import annotations

CLAIM_PREFIX = "claim#"
INDEX = "subdomain-index"


def claim_key(subdomain: str) -> dict[str, str]:
    return {"connectionId": f"{CLAIM_PREFIX}{subdomain}"}
