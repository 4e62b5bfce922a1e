"""The platform's limits, which the functions, the agent and the local gateway all respect.

The numbers live here because this package ships in the function zips; ``aws_fidelity.rules``
holds the behaviour AWS shows at each limit, for the emulator and the local gateway.
"""

# --- API Gateway WebSocket APIs (apigateway-execution-service-websocket-limits-table) ---------
# A WebSocket message, envelope included (not increasable).
MAX_MESSAGE_BYTES = 128 * 1024
# A WebSocket frame; larger messages go as several frames (applies to @connections too).
MAX_FRAME_BYTES = 32 * 1024
# WebSocket connections close after 10 minutes idle and 2 hours in all.
IDLE_TIMEOUT_SECONDS = 10 * 60
MAX_CONNECTION_SECONDS = 2 * 60 * 60
# WebSocket integrations: 29 s.
WEBSOCKET_INTEGRATION_TIMEOUT_SECONDS = 29

# --- API Gateway HTTP APIs (http-api-quotas) ---------------------------------------------------
# The HTTP API gives up on an integration after 30 s; routes are set to 29 s.
HTTP_INTEGRATION_TIMEOUT_SECONDS = 29
HTTP_API_TIMEOUT_SECONDS = 30
# A request's payload; over it API Gateway answers 413 itself.
HTTP_API_PAYLOAD_BYTES = 10 * 1024 * 1024

# --- Lambda synchronous invocations (Lambda quotas: 6 MB each way) ----------------------------
# The event: "Request must be smaller than 6291456 bytes for the InvokeFunction operation"
# (pelmers/streetwarp-web#14, JupiterOne/sdk#565).
LAMBDA_REQUEST_PAYLOAD_BYTES = 6_291_456
# The result: "Response payload size exceeded maximum allowed payload size (6291556 bytes)"
# (DataBiosphere/azul#8192, #7466).
LAMBDA_RESPONSE_PAYLOAD_BYTES = 6_291_556

# --- The tunnel's own ceiling, derived from the two above --------------------------------------
# A body crosses the forwarding function base64-encoded (4 bytes per 3) inside its event or its
# result, beside the headers and the request context. Reserving 32 KiB for those (an HTTP API
# takes at most 10 KB of request line and headers), the largest body that fits both ways is
# (6,291,456 - 32,768) * 3 / 4 = 4,694,016 bytes (4584 KiB, about 4.48 MiB).
ENVELOPE_ALLOWANCE_BYTES = 32 * 1024
MAX_BODY_BYTES = (LAMBDA_REQUEST_PAYLOAD_BYTES - ENVELOPE_ALLOWANCE_BYTES) * 3 // 4

# --- The tunnel's deadline for one request, derived from the HTTP API's ----------------------
# The forwarding function answers 504 itself 2 s before the route's 29 s integration timeout
# would (its last reads and the answer fit in those 2 s). The agent gets the time left of it
# with each request (``deadlineMs``) and closes the local connection then; a request message
# without one (from an older function) gets this whole deadline.
REQUEST_DEADLINE_SECONDS = HTTP_INTEGRATION_TIMEOUT_SECONDS - 2

# --- API Gateway REST APIs: streamed responses (ResponseTransferMode STREAM) ------------------
# "Stream the integration response for your proxy integrations in API Gateway",
# https://docs.aws.amazon.com/apigateway/latest/developerguide/response-transfer-mode.html:
# a response streams for at most 15 minutes; it is cut after 5 minutes without data on regional
# (and private) endpoints (30 s on edge-optimized ones); the first 10 MB of each response are
# not throttled, the rest goes at 2 MB/s. An integration's timeout may be set up to 900,000 ms
# when it streams (TimeoutInMillis; 29,000 by default and for BUFFERED without a quota increase).
STREAM_MAX_SECONDS = 15 * 60
STREAM_IDLE_TIMEOUT_SECONDS = 5 * 60
# Lambda's own rule for a streamed response binds first: "the first 6 MB of your function's
# response has uncapped bandwidth"; after it, 2 MB/s ("Response streaming for Lambda functions",
# https://docs.aws.amazon.com/lambda/latest/dg/configuration-response-streaming.html).
STREAM_UNTHROTTLED_BYTES = 6 * 1024 * 1024
STREAM_THROTTLED_BYTES_PER_SECOND = 2 * 1024 * 1024
# "Set up a Lambda proxy integration with payload response streaming in API Gateway"
# (response-transfer-mode-lambda.html): the metadata JSON and its delimiter (8 null bytes) must
# appear within the first 16 KB of the stream.
STREAM_PRELUDE_MAX_BYTES = 16 * 1024
# What a forwarding container holds of one streamed answer that it has received but not yet
# written to its caller (chunks posted out of order wait there for the ones before them). Past
# it the stream is broken off rather than the container's memory spent: about a hundred
# full-size chunks, far more than the few that invocations running side by side reorder.
STREAM_BUFFER_BYTES = 12 * 1024 * 1024
# A streamed body that comes faster than one message carries goes through S3 in parts of up to
# this size, each named by one chunk message: at the bandwidth rule, two messages a second
# instead of about twenty (the agents share their stage's message rate, tenants included).
STREAM_PART_BYTES = STREAM_THROTTLED_BYTES_PER_SECOND // 2
# A buffered REST integration gives up after 29 s ("API Gateway quotas for REST APIs").
REST_BUFFERED_TIMEOUT_SECONDS = 29
# A REST API request's payload: 10 MB, as the HTTP API's ("API Gateway quotas for REST APIs").
REST_API_PAYLOAD_BYTES = HTTP_API_PAYLOAD_BYTES

# --- CloudWatch Logs PutLogEvents (API reference, "PutLogEvents",
# https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutLogEvents.html) ---
# A batch holds at most 1,048,576 bytes, counted as each message's UTF-8 bytes plus 26, and at
# most 10,000 events, in chronological order. One event is at most 256 KB in the older text
# (1 MB in the current one): the smaller is kept. The local gateway writes the functions' lines so.
PUT_LOG_EVENTS_BATCH_BYTES = 1_048_576
PUT_LOG_EVENTS_EVENT_OVERHEAD_BYTES = 26
PUT_LOG_EVENTS_MAX_EVENTS = 10_000
LOG_EVENT_MAX_BYTES = 256 * 1024
