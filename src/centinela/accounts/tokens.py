"""Scoped API tokens for institutions' systems: shown once, stored as a SHA-256 hash."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from centinela.accounts.models import TOKEN_SCOPES, ApiToken, User
from centinela.accounts.policy import INVESTIGATORS
from centinela.accounts.service import AccountError
from centinela.lib.clock import utcnow

PREFIX = "cnt_"
# Which API paths (method, path prefix) each scope opens; anything else is refused to a token.
SCOPE_PATHS: dict[str, tuple[tuple[str, str], ...]] = {
    "ingest": (("POST", "/api/v1/movements"), ("POST", "/api/v1/imports"),
               ("GET", "/api/v1/imports"), ("POST", "/api/v1/seizures"),
               ("POST", "/api/v1/ews/classify"), ("POST", "/api/v1/fhir")),
    # laboratories: classify structures and submit seizures with their identifications
    "ews:classify": (("POST", "/api/v1/ews/classify"), ("POST", "/api/v1/seizures")),
    "alerts:read": (("GET", "/api/v1/alerts"),),
}


def _digest(plain: str) -> str:
    return hashlib.sha256(plain.encode()).hexdigest()


def create_token(session: Session, user: User, name: str, scopes: list[str],
                 days: int | None = 365, now: dt.datetime | None = None) -> tuple[str, ApiToken]:
    """Create a token for ``user``; return (the plain token, shown only now, and its row)."""
    bad = [s for s in scopes if s not in TOKEN_SCOPES]
    if bad or not scopes:
        raise AccountError(f"scopes: choose from {', '.join(TOKEN_SCOPES)}")
    if "alerts:read" in scopes and user.role not in INVESTIGATORS:
        # A token never opens more than its owner's role: alerts:read for an institution
        # would answer 403 on every call.
        raise AccountError(f"scopes: alerts:read needs an owner who may read alerts "
                           f"({', '.join(INVESTIGATORS)}), not role {user.role}")
    now = now or utcnow()
    plain = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        user_id=user.id, name=name.strip() or "token", prefix=plain[:12], token_hash=_digest(plain),
        scopes=sorted(set(scopes)), created_at=now,
        expires_at=now + dt.timedelta(days=days) if days else None,
    )
    session.add(row)
    session.flush()
    return plain, row


def resolve_token(session: Session, plain: str,
                  now: dt.datetime | None = None) -> tuple[User, ApiToken] | None:
    """Return (user, token) for a valid, unexpired, unrevoked token of an active user."""
    if not plain.startswith(PREFIX) or len(plain) > 200:
        return None
    now = now or utcnow()
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(plain)))
    if row is None or not hmac.compare_digest(row.token_hash, _digest(plain)):
        return None
    if row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    row.last_used_at = now
    return user, row


def revoke_token(session: Session, token_id: int, now: dt.datetime | None = None) -> ApiToken:
    """Revoke a token at once."""
    row = session.get(ApiToken, token_id)
    if row is None:
        raise AccountError(f"token {token_id} does not exist")
    row.revoked_at = now or utcnow()
    session.flush()
    return row


def scope_allows(scopes: list[str], method: str, path: str) -> bool:
    """Return True when one of ``scopes`` opens ``method path``."""
    method = "GET" if method == "HEAD" else method
    for scope in scopes:
        for m, prefix in SCOPE_PATHS.get(scope, ()):
            if m == method and (path == prefix or path.startswith(prefix + "/")):
                return True
    return False
