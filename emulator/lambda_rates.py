"""Lambda's API request quotas, per account and region (``rules.check_lambda_request_rate``).

Every request the emulator answers for Lambda is named by its operation (moto's router, as it
dispatches), counted against its quota over the last second, and refused with 429
``TooManyRequestsException`` beyond it. A refused request does not count: it was not served.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

from moto.awslambda import exceptions as lambda_exceptions
from moto.awslambda import responses as lambda_responses

from aws_fidelity import rules

WINDOW_SECONDS = 1.0

# (account, region, quota) -> when each accepted request was answered (time.monotonic()).
_accepted: dict[tuple[str, str, str], deque[float]] = {}
_lock = threading.Lock()


class TooManyRequests(lambda_exceptions.LambdaClientError):
    code = 429

    def __init__(self, message: str) -> None:
        super().__init__("TooManyRequestsException", message)


def admit(account: str, region: str, operation: str, now: float | None = None) -> None:
    """Count the request against its quota, or raise ``rules.Refused``."""
    quota = rules.lambda_request_quota(operation)
    if quota is None:
        return
    moment = time.monotonic() if now is None else now
    with _lock:
        times = _accepted.setdefault((account, region, quota[0]), deque())
        while times and times[0] <= moment - WINDOW_SECONDS:
            times.popleft()
        rules.check_lambda_request_rate(operation, len(times))
        times.append(moment)


def install() -> None:
    original = lambda_responses.LambdaResponse.call_action

    def call_action(self: Any) -> Any:
        operation = self._get_action()
        if operation:
            try:
                admit(self.current_account, self.region, str(operation))
            except rules.Refused as refused:
                raise TooManyRequests(refused.message) from None
        return original(self)

    lambda_responses.LambdaResponse.call_action = call_action
