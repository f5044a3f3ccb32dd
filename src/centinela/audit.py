"""Append-only, hash-chained audit log of every read of personal data and every case action."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

from sqlalchemy import JSON, DateTime, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from centinela.db import Base

GENESIS = "0" * 64


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    actor: Mapped[str] = mapped_column(String(80), index=True)
    action: Mapped[str] = mapped_column(String(60), index=True)
    subject: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))


def _digest(prev: str, at: dt.datetime, actor: str, action: str, subject: str, reason: str,
            details: dict) -> str:
    body = json.dumps(
        [prev, at.isoformat(), actor, action, subject, reason, details],
        sort_keys=True, ensure_ascii=False, default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def record(session: Session, actor: str, action: str, subject: str, reason: str = "",
           details: dict | None = None, now: dt.datetime | None = None) -> AuditEntry:
    """Append an entry chained to the previous one (caller commits with its own work)."""
    details = details or {}
    at = (now or dt.datetime.now(dt.UTC).replace(tzinfo=None)).replace(microsecond=0)
    last = session.scalar(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1))
    prev = last.entry_hash if last else GENESIS
    entry = AuditEntry(
        at=at, actor=actor, action=action, subject=subject, reason=reason, details=details,
        prev_hash=prev, entry_hash=_digest(prev, at, actor, action, subject, reason, details),
    )
    session.add(entry)
    session.flush()
    return entry


def verify(session: Session) -> tuple[bool, int | None]:
    """Walk the chain; return (ok, id of the first bad entry or None)."""
    prev = GENESIS
    for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id)):
        expected = _digest(prev, e.at, e.actor, e.action, e.subject, e.reason, e.details or {})
        if e.prev_hash != prev or e.entry_hash != expected:
            return False, e.id
        prev = e.entry_hash
    return True, None
