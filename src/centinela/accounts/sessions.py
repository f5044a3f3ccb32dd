"""Server-side web sessions: create, resolve, revoke (logout, password change, disable)."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from centinela.accounts.models import User, WebSession


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_session(session: Session, user: User, max_age_s: int,
                   now: dt.datetime | None = None) -> str:
    """Store a new session of ``user``; return its random token (for the cookie only)."""
    now = now or _now()
    token = secrets.token_urlsafe(32)
    # Expired rows of anyone are dropped here: the table stays as small as the live sessions.
    session.execute(delete(WebSession).where(WebSession.expires_at < now - dt.timedelta(days=1)))
    session.add(WebSession(token_hash=_hash(token), user_id=user.id, created_at=now,
                           expires_at=now + dt.timedelta(seconds=max_age_s)))
    session.flush()
    return token


def session_user_id(session: Session, token: str, now: dt.datetime | None = None) -> int | None:
    """Return the user id of a live session token, or None (unknown, expired or revoked)."""
    if not token or len(token) > 100:
        return None
    row = session.execute(select(WebSession.user_id, WebSession.expires_at, WebSession.revoked_at)
                          .where(WebSession.token_hash == _hash(token))).first()
    if row is None or row.revoked_at is not None or row.expires_at <= (now or _now()):
        return None
    return row.user_id


def revoke_session(session: Session, token: str, reason: str = "logout") -> None:
    """End one session."""
    session.execute(update(WebSession).where(WebSession.token_hash == _hash(token),
                                             WebSession.revoked_at.is_(None))
                    .values(revoked_at=_now(), revoked_reason=reason))


def revoke_user_sessions(session: Session, user_id: int | None, reason: str) -> int:
    """End every session of a user; return how many were live."""
    if user_id is None:
        return 0
    return session.execute(update(WebSession).where(WebSession.user_id == user_id,
                                                    WebSession.revoked_at.is_(None))
                           .values(revoked_at=_now(), revoked_reason=reason)).rowcount
