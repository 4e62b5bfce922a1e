"""API Gateway's limits, which the functions, the agent and the local gateway all respect."""

# A WebSocket message, envelope included (not increasable).
MAX_MESSAGE_BYTES = 128 * 1024
# A WebSocket frame; larger messages go as several frames (applies to @connections too).
MAX_FRAME_BYTES = 32 * 1024
# WebSocket connections close after 10 minutes idle and 2 hours in all.
IDLE_TIMEOUT_SECONDS = 10 * 60
MAX_CONNECTION_SECONDS = 2 * 60 * 60
# The HTTP API gives up on an integration after 30 s; routes are set to 29 s.
HTTP_INTEGRATION_TIMEOUT_SECONDS = 29
HTTP_API_TIMEOUT_SECONDS = 30
# WebSocket integrations: 29 s.
WEBSOCKET_INTEGRATION_TIMEOUT_SECONDS = 29
