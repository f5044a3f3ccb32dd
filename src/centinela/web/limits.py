"""Request size limits enforced before the body is read (pure ASGI middleware).

A declared ``Content-Length`` above the path's limit is answered 413 without reading a byte; a
chunked body is counted as it streams and cut off at the limit. Intake paths (file uploads and
record batches) get ``max_upload_bytes``; everything else ``max_body_bytes``.
"""

from __future__ import annotations

import json
from collections.abc import MutableMapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from centinela.config import get_settings

UPLOAD_PREFIXES = ("/imports", "/api/v1/imports", "/api/v1/movements", "/api/v1/seizures",
                   "/api/v1/establishments", "/api/v1/professionals", "/api/v1/products",
                   "/api/online/ingest")


def limit_for(path: str) -> int:
    """Return the largest body accepted on ``path``, in bytes."""
    s = get_settings()
    return s.max_upload_bytes if path.startswith(UPLOAD_PREFIXES) else s.max_body_bytes


async def _too_large(send: Send, limit: int) -> None:
    body = json.dumps({"detail": f"cuerpo demasiado grande / request body larger than "
                                 f"{limit} bytes"}).encode()
    await send({"type": "http.response.start", "status": 413, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """Refuse bodies above the path's limit before (or while) reading them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        limit = limit_for(scope["path"])
        declared = None
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
        if declared is not None and (declared < 0 or declared > limit):
            await _too_large(send, limit)
            return
        seen = 0
        over = False
        started = False

        async def counted() -> Message:
            nonlocal seen, over
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    over = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: MutableMapping[str, Any]) -> None:
            nonlocal started
            if over and not started:
                started = True
                await _too_large(send, limit)
                return
            if over:
                return
            started = True
            await send(message)

        try:
            await self.app(scope, counted, guarded_send)
        except Exception:
            if not over:
                raise
            if not started:
                await _too_large(send, limit)
