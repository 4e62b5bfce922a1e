"""DynamoDB's item operations are atomic; moto's are not.

"DynamoDB provides four operations for basic create, read, update, and delete (CRUD)
functionality. All these operations are atomic." (Working with items and attributes in
DynamoDB, https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/WorkingWithItems.html)

moto's threaded server applies an ``UpdateItem``'s SET actions one at a time to the live item,
while another request's ``GetItem`` reads it: a consistent read saw a pending request's
``status`` already ``answered`` but no ``response`` yet, and the forwarding function answered
504 at once (one request in a few hundred, under 16 concurrent clients). Here every item
operation of moto's DynamoDB backend holds one lock, so each is seen whole or not at all, as in
DynamoDB. (DynamoDB serialises per item, not per backend; moto's handlers are quick, so the
coarser lock costs nothing measurable.)
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from moto.dynamodb.models import DynamoDBBackend

OPERATIONS = (
    "put_item",
    "get_item",
    "update_item",
    "delete_item",
    "query",
    "scan",
    "transact_write_items",
)
_lock = threading.RLock()


def _atomic(operation: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(operation)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with _lock:
            return operation(*args, **kwargs)

    return locked


def install() -> None:
    for name in OPERATIONS:
        setattr(DynamoDBBackend, name, _atomic(getattr(DynamoDBBackend, name)))
