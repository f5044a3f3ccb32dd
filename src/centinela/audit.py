"""Append-only, hash-chained audit log of every read of personal data and every case action.

Appends are serialised by an upsert on the single ``audit_head`` row (a row lock on PostgreSQL,
the database write lock on SQLite), so the chain stays linear under any number of concurrent
writers: the previous entry is read only once that lock is held. PostgreSQL refuses UPDATE and
DELETE on ``audit_log`` (trigger, migration 0003). Truncation and rewrites that recompute every
hash are caught by HMAC-signed checkpoints of the chain head, written outside the database with
a key the database never sees (:mod:`centinela.audit_checkpoints`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass

from sqlalchemy import JSON, DateTime, Integer, String, Text, func, select, text
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


class AuditHead(Base):
    """The single row that serialises appends and remembers the newest entry (truncation check)."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    appends: Mapped[int] = mapped_column(Integer, default=0)
    last_id: Mapped[int] = mapped_column(Integer, default=0)
    last_hash: Mapped[str] = mapped_column(String(64), default=GENESIS)


def _digest(prev: str, at: dt.datetime, actor: str, action: str, subject: str, reason: str,
            details: dict) -> str:
    body = json.dumps(
        [prev, at.isoformat(), actor, action, subject, reason, details],
        sort_keys=True, ensure_ascii=False, default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


_LOCK_HEAD = text(
    "INSERT INTO audit_head (id, appends, last_id, last_hash) VALUES (1, 1, 0, :genesis) "
    "ON CONFLICT (id) DO UPDATE SET appends = audit_head.appends + 1"
)


def record(session: Session, actor: str, action: str, subject: str, reason: str = "",
           details: dict | None = None, now: dt.datetime | None = None) -> AuditEntry:
    """Append an entry chained to the previous one (caller commits with its own work).

    The head row stays locked until the caller's transaction ends, so keep audit writes near
    the end of a transaction.
    """
    details = details or {}
    at = (now or dt.datetime.now(dt.UTC).replace(tzinfo=None)).replace(microsecond=0)
    session.flush()
    # Take the append lock first; only then is "the newest entry" stable.
    session.execute(_LOCK_HEAD, {"genesis": GENESIS})
    last = session.execute(
        select(AuditEntry.id, AuditEntry.entry_hash).order_by(AuditEntry.id.desc()).limit(1)
    ).first()
    prev = last.entry_hash if last else GENESIS
    entry = AuditEntry(
        at=at, actor=actor, action=action, subject=subject, reason=reason, details=details,
        prev_hash=prev, entry_hash=_digest(prev, at, actor, action, subject, reason, details),
    )
    session.add(entry)
    session.flush()
    session.execute(text("UPDATE audit_head SET last_id = :i, last_hash = :h WHERE id = 1"),
                    {"i": entry.id, "h": entry.entry_hash})
    return entry


@dataclass(frozen=True)
class Verdict:
    """Result of verifying the chain: ``bad_id`` is the first entry that fails, with why."""

    ok: bool
    entries: int
    bad_id: int | None = None
    reason: str = ""
    last_id: int = 0
    last_hash: str = GENESIS

    def describe(self) -> str:
        if self.ok:
            return f"audit chain OK: {self.entries} entries, head #{self.last_id} {self.last_hash[:16]}"
        return f"audit chain BROKEN at entry #{self.bad_id}: {self.reason}"


def verify_chain(session: Session, batch: int = 5000) -> Verdict:
    """Walk the chain in id order and compare its end with the head row."""
    prev, n, last_id = GENESIS, 0, 0
    after = 0
    while True:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.id > after)
                               .order_by(AuditEntry.id).limit(batch)).all()
        if not rows:
            break
        for e in rows:
            expected = _digest(prev, e.at, e.actor, e.action, e.subject, e.reason, e.details or {})
            if e.prev_hash != prev:
                return Verdict(False, n, e.id, "does not link to the entry before it "
                               "(an entry was deleted or rewritten)", last_id, prev)
            if e.entry_hash != expected:
                return Verdict(False, n, e.id, "content does not match its hash (edited)",
                               last_id, prev)
            prev, last_id, n = e.entry_hash, e.id, n + 1
        after = rows[-1].id
    head = session.get(AuditHead, 1)
    if head is not None and head.last_id and (head.last_id != last_id or head.last_hash != prev):
        bad = last_id + 1 if head.last_id > last_id else head.last_id
        return Verdict(False, n, bad, f"the head records entry #{head.last_id} as the newest but the "
                       f"log ends at #{last_id} (entries removed or rewritten)", last_id, prev)
    return Verdict(True, n, None, "", last_id, prev)


def verify(session: Session) -> tuple[bool, int | None]:
    """Walk the chain; return (ok, id of the first bad entry or None)."""
    v = verify_chain(session)
    return v.ok, v.bad_id


def entry_hash_at(session: Session, entry_id: int) -> str | None:
    """Return the stored hash of one entry (None if it is gone)."""
    return session.scalar(select(AuditEntry.entry_hash).where(AuditEntry.id == entry_id))


def count(session: Session) -> int:
    """Number of entries in the log."""
    return int(session.scalar(select(func.count()).select_from(AuditEntry)) or 0)
