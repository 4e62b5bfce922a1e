"""The local API Gateway: WebSocket API, HTTP API and @connections on one loopback port."""
