"""Record a signal from any source (idempotent on source kind + id)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from centinela.ews.models import SIGNAL_SOURCES, Signal


def record_signal(session: Session, source_kind: str, source_id: str, occurred_at: dt.datetime,
                  ubigeo: str | None = None, substance: str | None = None,
                  inchikey: str | None = None, weight: float = 1.0,
                  payload: dict | None = None) -> Signal:
    """Insert or update the signal for (source_kind, source_id) and return it."""
    if source_kind not in SIGNAL_SOURCES:
        raise ValueError(f"unknown signal source {source_kind!r}")
    sig = session.scalar(
        select(Signal).where(Signal.source_kind == source_kind, Signal.source_id == source_id)
    )
    if sig is None:
        sig = Signal(source_kind=source_kind, source_id=source_id)
        session.add(sig)
    sig.occurred_at = occurred_at
    sig.ubigeo = ubigeo
    sig.department = ubigeo[:2] if ubigeo else None
    sig.substance = substance
    sig.inchikey = inchikey
    sig.weight = weight
    sig.payload = payload or {}
    session.flush()
    return sig
