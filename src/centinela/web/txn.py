"""Transactions of web requests: a response leaves only after its transaction has committed.

FastAPI runs the exit code of a ``yield`` dependency *after* the response has been sent, so a
client could be told "201 Created" for a row that a failed commit then lost, and a follow-up
request could miss it. :class:`CommitBeforeResponse` commits the request's session when the
response starts; if that commit fails (e.g. SQLite still busy after its timeout) the client gets
503 with ``Retry-After`` instead, and nothing was stored.
"""

from __future__ import annotations

import json
import logging
from collections.abc import MutableMapping
from typing import Any

import anyio
from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger("centinela.web")

STATE_KEY = "centinela_db_session"


def remember(scope_state: MutableMapping[str, Any], session) -> None:
    """Register the request's session (called by the ``db_session`` dependency)."""
    scope_state[STATE_KEY] = session


def _commit(session) -> None:
    if session.in_transaction():
        session.commit()


class CommitBeforeResponse:
    """Pure ASGI middleware: commit the request's session before the response starts."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        failed = False

        async def send_after_commit(message: MutableMapping[str, Any]) -> None:
            nonlocal failed
            if failed:
                return  # the original body of a response replaced by the 503
            if message["type"] == "http.response.start":
                session = state.pop(STATE_KEY, None)
                if session is not None:
                    try:
                        await anyio.to_thread.run_sync(_commit, session)
                    except Exception:  # noqa: BLE001 - any failed commit: say so, store nothing
                        log.exception("commit failed; answering 503")
                        await anyio.to_thread.run_sync(session.rollback)
                        failed = True
                        body = json.dumps({"detail": "el servidor está ocupado, no se guardó "
                                           "nada; intente de nuevo / server busy, nothing was "
                                           "saved; please retry"}).encode()
                        await send({"type": "http.response.start", "status": 503, "headers": [
                            (b"content-type", b"application/json"),
                            (b"retry-after", b"2"),
                            (b"content-length", str(len(body)).encode())]})
                        await send({"type": "http.response.body", "body": body})
                        return
            await send(message)

        await self.app(scope, receive, send_after_commit)
