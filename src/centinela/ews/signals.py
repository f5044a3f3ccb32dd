"""Record a signal from any source (idempotent on source kind + id).

Every signal says when it happened (``occurred_at``) and, in its payload, when it became known
to the system (``recorded_at``, naive UTC, ISO 8601): a laboratory identification usually
arrives weeks after the seizure it analyses. Counts and series go by the first date; the
early-warning rules also judge a record by the second, so a late result that is new to the
system still raises its alert (docs/ews.md, "Late results").
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from centinela.ews.models import SIGNAL_SOURCES, Signal
from centinela.lib.clock import utcnow

RECORDED_AT = "recorded_at"  # the payload key of the time a signal became known


def recorded_at(sig: Signal) -> dt.datetime | None:
    """Return when ``sig`` became known to the system (None: not stored, e.g. a signal written
    before the time was kept; such a signal counts as known when it happened)."""
    value = (sig.payload or {}).get(RECORDED_AT)
    if not isinstance(value, str) or not value:
        return None
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return when.astimezone(dt.UTC).replace(tzinfo=None) if when.tzinfo else when


def _stamp(value: dt.datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value.isoformat(timespec="seconds")


def record_signal(session: Session, source_kind: str, source_id: str, occurred_at: dt.datetime,
                  ubigeo: str | None = None, substance: str | None = None,
                  inchikey: str | None = None, weight: float = 1.0,
                  payload: dict | None = None,
                  recorded_at: dt.datetime | None = None) -> Signal:
    """Insert or update the signal for (source_kind, source_id) and return it.

    ``recorded_at`` is when the record became known (an import's time; default: now). A new
    signal keeps it in its payload; an update keeps the time already stored unless the
    identification changed (another substance or structure: new information, known now).
    """
    if source_kind not in SIGNAL_SOURCES:
        raise ValueError(f"unknown signal source {source_kind!r}")
    sig = session.scalar(
        select(Signal).where(Signal.source_kind == source_kind, Signal.source_id == source_id)
    )
    known = _stamp(recorded_at or utcnow())
    payload = dict(payload or {})
    payload.pop(RECORDED_AT, None)
    if sig is None:
        sig = Signal(source_kind=source_kind, source_id=source_id)
        session.add(sig)
        payload[RECORDED_AT] = known
    else:
        before = (sig.payload or {}).get(RECORDED_AT)
        if sig.inchikey != inchikey or sig.substance != substance:
            payload[RECORDED_AT] = known
        elif before:
            payload[RECORDED_AT] = before
    sig.occurred_at = occurred_at
    sig.ubigeo = ubigeo
    sig.department = ubigeo[:2] if ubigeo else None
    sig.substance = substance
    sig.inchikey = inchikey
    sig.weight = weight
    sig.payload = payload
    session.flush()
    return sig
