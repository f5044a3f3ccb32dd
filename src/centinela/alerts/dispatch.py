"""The dispatcher: claim pending deliveries, send them through their channel, record attempts.

Claiming is a conditional UPDATE (``status='pending' AND id=?`` → ``'sending'``), identical on
SQLite and PostgreSQL, so several dispatchers never send the same row twice. Transient failures
are retried with exponential backoff and marked ``failed`` after ``max_attempts``; a permanent
failure disables the channel (its pending deliveries wait for an operator; none is lost).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from centinela.alerts.channels import PermanentError, TransientError, transport
from centinela.alerts.models import Channel, Delivery, DeliveryAttempt

MAX_ATTEMPTS = 8
BASE_BACKOFF_S = 60
MAX_BACKOFF_S = 6 * 3600
STALE_CLAIM_S = 900  # a 'sending' row older than this was left by a crashed dispatcher


def backoff(attempts: int, base_s: float = BASE_BACKOFF_S) -> dt.timedelta:
    """Return the wait before retry number ``attempts`` (1, 2, … → base, 2×base, 4×base …)."""
    return dt.timedelta(seconds=min(base_s * 2 ** max(attempts - 1, 0), MAX_BACKOFF_S))


def _factory(session_factory) -> Callable[[], Session]:
    if isinstance(session_factory, Engine):
        from centinela.db import session_factory as make

        return make(session_factory)
    return session_factory


def dispatch_pending(session_factory, now: dt.datetime | None = None, limit: int = 100,
                     max_attempts: int = MAX_ATTEMPTS, base_backoff_s: float = BASE_BACKOFF_S) -> int:
    """Deliver up to ``limit`` due deliveries; return how many were sent successfully."""
    make = _factory(session_factory)
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with make() as s:
        s.execute(update(Delivery)
                  .where(Delivery.status == "sending",
                         Delivery.claimed_at < now - dt.timedelta(seconds=STALE_CLAIM_S))
                  .values(status="pending"))
        ids = list(s.scalars(
            select(Delivery.id).join(Channel, Channel.id == Delivery.channel_id)
            .where(Delivery.status == "pending", Delivery.next_attempt_at <= now,
                   Channel.enabled.is_(True))
            .order_by(Delivery.next_attempt_at, Delivery.id).limit(limit)))
        s.commit()
    sent = 0
    for did in ids:
        with make() as s:
            claimed = s.execute(
                update(Delivery).where(Delivery.id == did, Delivery.status == "pending")
                .values(status="sending", claimed_at=now)
            ).rowcount
            s.commit()
        if claimed != 1:
            continue  # another dispatcher took it
        sent += _deliver(make, did, now, max_attempts, base_backoff_s)
    return sent


def _deliver(make, did: int, now: dt.datetime, max_attempts: int, base_s: float) -> int:
    with make() as s:
        d = s.get(Delivery, did)
        ch = s.get(Channel, d.channel_id)
        ok, permanent = False, False
        try:
            if not ch.enabled:
                raise TransientError("channel disabled")
            detail = transport(ch.kind).notify(ch, d.payload or {}, d.payload_kind, d.id)
            ok = True
        except PermanentError as exc:
            detail, permanent = f"permanent: {exc}", True
        except TransientError as exc:
            detail = f"transient: {exc}"
        except Exception as exc:  # noqa: BLE001 - a transport bug must not lose the delivery
            detail = f"transient: {type(exc).__name__}: {exc}"
        d.attempts = (d.attempts or 0) + 1
        s.add(DeliveryAttempt(delivery_id=d.id, attempted_at=now, ok=ok, detail=detail[:2000]))
        if ok:
            d.status, d.sent_at, d.last_error = "sent", now, None
        elif permanent:
            ch.enabled = False
            ch.disabled_reason = detail[:2000]
            d.status, d.last_error, d.next_attempt_at = "pending", detail, now
        elif d.attempts >= max_attempts:
            d.status, d.last_error = "failed", detail
        else:
            d.status, d.last_error = "pending", detail
            d.next_attempt_at = now + backoff(d.attempts, base_s)
        s.commit()
        return int(ok)


def retry_failed(session: Session, channel_id: int | None = None, now: dt.datetime | None = None) -> int:
    """Put failed deliveries (of one channel, or all) back in the queue; return how many."""
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    stmt = update(Delivery).where(Delivery.status == "failed")
    if channel_id is not None:
        stmt = stmt.where(Delivery.channel_id == channel_id)
    n = session.execute(stmt.values(status="pending", attempts=0, next_attempt_at=now)).rowcount
    session.flush()
    return n
