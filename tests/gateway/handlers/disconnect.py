"""Test $disconnect: records."""

from tests.gateway.recording import record


def handler(event, context):
    record("disconnect", event, context)
    return {"statusCode": 200}
