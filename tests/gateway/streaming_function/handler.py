"""A deployed function with both entry points, for tests/gateway/test_streamed_invocation.py.

The test listens on a loopback port (the event's ``queryStringParameters.port``); the handler
connects to it and reads one byte before each write, so that the test decides when each chunk is
written, and reports what happened to it (``gone``: a write raised CallerGone).
"""

import socket

from tunnel_shared.streaming_runtime import CallerGone


def handler(event, context):
    return {"statusCode": 200, "body": "buffered"}


def stream_handler(event, context, stream):
    path = event["path"]
    control = socket.create_connection(("127.0.0.1", int(event["queryStringParameters"]["port"])))
    with control:
        if path == "/sse":
            stream.start(
                200,
                [("Content-Type", "text/event-stream"), ("X-Two", "a"), ("X-Two", "b")],
                ["s=1"],
            )
            for number in range(3):
                control.recv(1)
                stream.write(f"data: {number}\n\n".encode())
            stream.close()
        elif path == "/raise-after":
            stream.start(200)
            stream.write(b"partial")
            raise ValueError("the agent went away")
        elif path == "/raise-before":
            raise KeyError("no tunnel")
        elif path == "/no-prelude":
            # A function that writes its body without API Gateway's metadata and delimiter.
            stream._sink.open()
            stream._sink.send(b"x" * 20_000)
            stream._sink.finish()
            stream.started = stream.closed = True
        elif path == "/until-gone":
            stream.start(200)
            stream.write(b"first")
            try:
                while control.recv(1):  # the test asks for one more write at a time
                    stream.write(b"more")
                    control.sendall(b"wrote")
            except CallerGone:
                control.sendall(b"gone")
        elif path == "/idle":
            stream.start(200)
            control.recv(1)  # never sent: the stream idles
