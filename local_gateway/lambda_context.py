"""The ``context`` argument of a handler, with the attributes of the Python Lambda runtime's."""

from __future__ import annotations

import os
import time
import uuid

from local_gateway.deployment import DeployedFunction
from local_gateway.lambda_logs import stream_name


class LambdaContext:
    """What ``awslambdaric`` passes: names, ARN, memory, request id, log names and a deadline."""

    def __init__(self, function: DeployedFunction) -> None:
        self.function_name = function.name
        self.function_version = "$LATEST"
        self.invoked_function_arn = function.arn
        # The runtime reads it from AWS_LAMBDA_FUNCTION_MEMORY_SIZE: a string, not an int.
        self.memory_limit_in_mb = str(function.memory_mb)
        self.aws_request_id = str(uuid.uuid4())
        # The worker's environment names its group and stream, as Lambda's runtime reads them.
        self.log_group_name = os.environ.get(
            "AWS_LAMBDA_LOG_GROUP_NAME", f"/aws/lambda/{function.name}"
        )
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME") or stream_name()
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + function.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))
