"""Data-quality warnings of an import: accepted records that deserve a second look.

A warning never rejects anything: the contract accepts late and out-of-order movements, and a
well-formed record is stored as sent. It is reported (``ImportReport.warnings``, hence
``ImportRun.summary["warnings"]``, the command line and the import page) so that whoever sent
the file can check it.

``future_dated``: movements of the import dated more than ``FUTURE_TOLERANCE`` after the
import's ``now`` — a typo in the year (2062 for 2026), a device clock set ahead. One set-based
query over the import's own rows (``import_id``, ``occurred_at`` above the threshold: on
PostgreSQL only the months past the threshold are read), whatever the import's size.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, null, select, union_all
from sqlalchemy.orm import Session

from centinela.ledger.records import Movement
from centinela.lib.clock import lima_iso

FUTURE_TOLERANCE = dt.timedelta(days=1)
FUTURE_SAMPLES = 5
FUTURE_DATED = "future_dated_movements"


def future_dated(session: Session, import_id: int, now: dt.datetime) -> dict | None:
    """Return the warning for the movements of ``import_id`` dated after ``now`` + 1 day
    (count, latest date, up to ``FUTURE_SAMPLES`` samples, latest first), or None if none."""
    if now.tzinfo is not None:
        now = now.astimezone(dt.UTC).replace(tzinfo=None)  # stored times are naive UTC
    after = now + FUTURE_TOLERANCE
    mine = (Movement.import_id == import_id, Movement.occurred_at > after)
    # One statement: the count and latest date (the row without event_id), then the latest
    # rows as samples (a top-5 sort). No window function: a whole import dated ahead (a clock
    # a year off) is only counted, never buffered and sorted whole.
    latest = (select(Movement.event_id, Movement.establishment_id, Movement.occurred_at)
              .where(*mine).order_by(Movement.occurred_at.desc(), Movement.id)
              .limit(FUTURE_SAMPLES).subquery())
    rows = session.execute(union_all(
        select(null().label("event_id"), null().label("establishment_id"),
               func.max(Movement.occurred_at).label("occurred_at"),
               func.count().label("n")).where(*mine),
        select(latest.c.event_id, latest.c.establishment_id, latest.c.occurred_at,
               null()))).all()
    total = next((r for r in rows if r.event_id is None), None)
    samples = [r for r in rows if r.event_id is not None]
    if total is None or not total.n:
        return None
    samples.sort(key=lambda r: _as_time(r.occurred_at), reverse=True)  # a union keeps no order
    count, latest_at = int(total.n), lima_iso(_as_time(total.occurred_at))
    return {
        "code": FUTURE_DATED, "count": count, "latest": latest_at, "after": lima_iso(after),
        "samples": [{"event_id": r.event_id, "establishment_id": r.establishment_id,
                     "occurred_at": lima_iso(_as_time(r.occurred_at))} for r in samples],
        "message": future_message(count, latest_at),
    }


def _as_time(value: dt.datetime | str) -> dt.datetime:
    """A stored time as naive UTC (SQLite may hand an aggregate's text back untyped)."""
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)


def future_message(count: int, latest: str) -> str:
    """The warning in words, Spanish / English (``latest`` is an ISO time; its date is shown)."""
    day = latest[:10]
    es = "movimiento" if count == 1 else "movimientos"
    en = "movement" if count == 1 else "movements"
    return (f"{count} {es} con fecha futura (hasta {day}): revise la fecha / "
            f"{count} {en} dated in the future (up to {day}): check the date")
