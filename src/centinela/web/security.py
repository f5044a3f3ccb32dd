"""Sessions, CSRF, API tokens and secure headers of the web app.

* Pages: a signed, HttpOnly, SameSite=Lax session cookie holding the user id, a fingerprint of
  the password hash and a random token of a server-side session (``web_sessions``): logout, a
  password change or disabling the user revoke it at once.
* Every form POST carries the CSRF token of the ``centinela_csrf`` cookie (double submit) in the
  ``csrf_token`` field or the ``X-CSRF-Token`` header (htmx sends it from ``hx-headers``).
* The API also takes ``Authorization: Bearer cnt_…`` tokens, limited to their scopes' paths.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import HTTPException, Request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.orm import Session
from starlette.datastructures import Headers
from starlette.responses import Response

from centinela.accounts.models import User
from centinela.accounts.sessions import create_session, revoke_session, session_user_id
from centinela.accounts.tokens import resolve_token, scope_allows
from centinela.config import get_settings

SESSION_COOKIE = "centinela_session"
CSRF_COOKIE = "centinela_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SESSION_MAX_AGE = 8 * 3600
MAX_FORM_BYTES = 64 * 1024 * 1024
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data", "text/plain")

CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; "
       "form-action 'self'; frame-ancestors 'none'")


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(get_settings().secret_key, salt="centinela-session")


def _fingerprint(user: User) -> str:
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def start_session(response: Response, user: User, secure: bool, session: Session) -> None:
    """Store a server-side session of ``user`` and set its signed cookie on ``response``."""
    token = create_session(session, user, SESSION_MAX_AGE)
    value = _serializer().dumps({"u": user.id, "f": _fingerprint(user), "s": token})
    response.set_cookie(SESSION_COOKIE, value, max_age=SESSION_MAX_AGE, httponly=True,
                        samesite="lax", secure=secure, path="/")


def end_session(response: Response, request: Request | None = None,
                session: Session | None = None) -> None:
    """Revoke the request's server-side session (if any) and clear the cookie."""
    if request is not None and session is not None:
        data = _cookie_data(request)
        if data and isinstance(data.get("s"), str):
            revoke_session(session, data["s"], "logout")
    response.delete_cookie(SESSION_COOKIE, path="/")


def _cookie_data(request: Request) -> dict | None:
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw or len(raw) > 4096:
        return None
    try:
        data = _serializer().loads(raw, max_age=SESSION_MAX_AGE)
    except BadSignature:
        return None
    return data if isinstance(data, dict) else None


def _session_user(request: Request, session: Session) -> User | None:
    data = _cookie_data(request)
    if not data or not isinstance(data.get("u"), int) or not isinstance(data.get("s"), str):
        return None
    if session_user_id(session, data["s"]) != data["u"]:
        return None  # logged out, revoked or expired on the server
    user = session.get(User, data["u"])
    if user is None or not user.active or data.get("f") != _fingerprint(user):
        return None
    return user


def resolve_user(request: Request, session: Session) -> User | None:
    """Return the user of a bearer token (API, within its scopes) or of the session cookie."""
    cached = getattr(request.state, "user_resolved", False)
    if cached:
        return request.state.user
    user: User | None = None
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        found = resolve_token(session, auth[7:].strip())
        if found is None:
            raise HTTPException(401, "invalid, expired or revoked API token",
                                headers={"WWW-Authenticate": "Bearer"})
        user, token = found
        if not scope_allows(list(token.scopes or []), request.method, request.url.path):
            raise HTTPException(403, "this API token's scopes do not cover this endpoint")
        request.state.token_scopes = list(token.scopes or [])
        session.commit()  # keep last_used_at even when the handler fails
    else:
        user = _session_user(request, session)
    if user is not None:
        # Detached with its attributes loaded: a rollback in the route cannot expire it, and
        # the menu of an error page can still read it.
        session.expunge(user)
    request.state.user = user
    request.state.user_resolved = True
    return user


def csrf_token(request: Request) -> str:
    """Return this browser's CSRF token (set as a cookie by the middleware)."""
    return request.scope.get("state", {}).get("csrf_token", "")


Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class SecurityMiddleware:
    """Pure ASGI middleware: CSRF check of unsafe browser requests, CSRF cookie, secure headers.

    ``app.state.csrf_exempt`` (a set of path prefixes) lets machine-to-machine webhooks that
    post forms without cookies through; bearer-token requests are never cookie-authenticated.
    """

    def __init__(self, app, exempt: set[str], https_only: bool = False) -> None:
        self.app = app
        self.exempt = exempt
        self.https_only = https_only

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        cookie_token = _cookie(headers.get("cookie", ""), CSRF_COOKIE)
        fresh = None
        if not cookie_token or len(cookie_token) != 43:
            fresh = secrets.token_urlsafe(32)
        scope.setdefault("state", {})["csrf_token"] = fresh or cookie_token
        path: str = scope["path"]
        if scope["method"] in UNSAFE and not self._exempt(path, headers):
            ctype = headers.get("content-type", "").split(";")[0].strip().lower()
            has_session = bool(_cookie(headers.get("cookie", ""), SESSION_COOKIE))
            if ctype in FORM_TYPES or has_session or not ctype:
                body, receive = await _buffer(receive)
                if body is None:
                    await _reject(scope, send, 413, "request body too large")
                    return
                sent = headers.get(CSRF_HEADER) or _form_token(ctype, headers, body)
                if not cookie_token or not sent or not hmac.compare_digest(sent, cookie_token):
                    await _reject(scope, send, 403, "CSRF token missing or invalid; reload the page")
                    return

        async def send_wrapper(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                raw = list(message.get("headers", []))
                names = {k.lower() for k, _ in raw}
                for k, v in self._headers(path):
                    if k not in names:
                        raw.append((k, v))
                if fresh:
                    flags = "HttpOnly; SameSite=Strict; Path=/"
                    if self.https_only:
                        flags += "; Secure"
                    raw.append((b"set-cookie", f"{CSRF_COOKIE}={fresh}; {flags}".encode()))
                message["headers"] = raw
            await send(message)

        await self.app(scope, receive, send_wrapper)

    def _exempt(self, path: str, headers: Headers) -> bool:
        if headers.get("authorization", "").lower().startswith("bearer "):
            return True
        return any(path.startswith(p) for p in self.exempt)

    def _headers(self, path: str) -> list[tuple[bytes, bytes]]:
        out = [
            (b"content-security-policy", CSP.encode()),
            (b"x-frame-options", b"DENY"),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"same-origin"),
            (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
            (b"cross-origin-opener-policy", b"same-origin"),
        ]
        if not path.startswith("/static/"):
            out.append((b"cache-control", b"no-store"))
        if self.https_only:
            out.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
        return out


def _cookie(header: str, name: str) -> str:
    for part in header.split(";"):
        k, _, v = part.strip().partition("=")
        if k == name:
            return v
    return ""


async def _buffer(receive: Receive) -> tuple[bytes | None, Receive]:
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        msg = await receive()
        if msg["type"] == "http.disconnect":
            break
        chunk = msg.get("body", b"")
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            return None, receive
        chunks.append(chunk)
        more = msg.get("more_body", False)
    body = b"".join(chunks)
    done = False

    async def replay() -> MutableMapping[str, Any]:
        nonlocal done
        if done:
            return await receive()
        done = True
        return {"type": "http.request", "body": body, "more_body": False}

    return body, replay


def _form_token(ctype: str, headers: Headers, body: bytes) -> str:
    if ctype == "application/x-www-form-urlencoded":
        from urllib.parse import parse_qs

        vals = parse_qs(body.decode("latin-1"), keep_blank_values=True).get(CSRF_FIELD)
        return vals[0] if vals else ""
    if ctype == "multipart/form-data":
        # The token field comes first in our forms; find it without parsing the upload.
        marker = f'name="{CSRF_FIELD}"'.encode()
        at = body.find(marker)
        if at < 0:
            return ""
        start = body.find(b"\r\n\r\n", at)
        end = body.find(b"\r\n", start + 4)
        if start < 0 or end < 0:
            return ""
        return body[start + 4:end].decode("latin-1").strip()
    return ""


async def _reject(scope: Scope, send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
