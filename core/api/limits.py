"""The limit on a request's body, applied as it streams in.

A declared Content-Length above the limit is refused before a byte of the body is read; a body
sent without one (chunked) is counted as it arrives and refused the moment it passes the limit.
Either way the server never holds more than the limit.
"""

from __future__ import annotations

import json

from core.errors import TooLargeError


class BodyLimit:
    """ASGI middleware: 413 for a body larger than `max_bytes`."""

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            return await _refuse(send, self._error())
        received = 0

        async def counted():
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise self._error()  # the app's VisionError handler answers 413
            return message

        await self.app(scope, counted, send)

    def _error(self) -> TooLargeError:
        return TooLargeError(f"The request is larger than this server's limit of {self.max_bytes / 1e6:g} MB.")


async def _refuse(send, error: TooLargeError) -> None:
    body = json.dumps({"error": error.payload()}, separators=(",", ":")).encode()
    await send({"type": "http.response.start", "status": error.http_status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
