"""Placeholder handler until the tunnel's functions land: it answers and does nothing."""

import json


def handler(event: dict, context: object) -> dict:
    print(json.dumps({"function": "forwarding", "event": "placeholder"}))
    return {"statusCode": 200}
