"""Transfers matched end to end: each ``transfer_out`` with its receipt at the counterparty.

A shipment from A to B matches a ``receipt`` or ``transfer_in`` reported by B with counterparty
A, for the same product and quantity (and lot and serial when both sides give them), inside the
**receipt window** (``receipt_window``): from ``RECEIPT_LEAD`` (three days) before the shipment
(the sender may book its transfer_out after the receiver booked the receipt: dispatch notes
typed a day or two late, or after a weekend) to
``settings.transfer_receipt_days`` after it. The ledger view and the ``transfer_not_received``
detector use this one window. Each receipt serves one shipment; the closest receipt after the
shipment wins, then the closest before it (a receipt recorded before its shipment is matched
but shows a negative lag: a signal, not an error). A shipment unmatched once the window has
closed is unreceived.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from centinela.config import get_settings
from centinela.ledger.records import Movement

RECEIVING = ("receipt", "transfer_in")
RECEIPT_LEAD = dt.timedelta(days=3)
"""How long before its shipment a receipt may be booked and still match it."""

LATE_RECEIPT_DAYS = 31
"""A receipt that no shipment claims within the receipt window still matches an unreceived
shipment booked up to this many days before it (one monthly reporting cycle): a delivery note
typed in weeks late is a late booking, not a missing shipment."""


def receipt_window(days: int | None = None) -> tuple[dt.timedelta, dt.timedelta]:
    """Return (lead, grace): a receipt matches a shipment sent at ``t`` when it was booked in
    ``[t - lead, t + grace]``; grace is ``days`` (default ``settings.transfer_receipt_days``)."""
    days = get_settings().transfer_receipt_days if days is None else days
    return RECEIPT_LEAD, dt.timedelta(days=days)


@dataclass(frozen=True)
class Leg:
    """One side of a transfer, as reported."""

    id: int
    event_id: str
    event_type: str
    establishment_id: str
    counterparty_id: str
    product_code: str
    quantity: float
    lot: str | None
    serial: str | None
    occurred_at: dt.datetime


@dataclass(frozen=True)
class TransferPair:
    shipment: Leg
    receipt: Leg

    @property
    def lag_hours(self) -> float:
        return (self.receipt.occurred_at - self.shipment.occurred_at).total_seconds() / 3600


@dataclass
class TransferMatch:
    """Result of matching: pairs, shipments never received, receipts with no shipment."""

    pairs: list[TransferPair] = field(default_factory=list)
    unreceived: list[Leg] = field(default_factory=list)  # deadline passed; alert subject: event_id
    in_transit: list[Leg] = field(default_factory=list)  # unmatched, still within the deadline
    unmatched_receipts: list[Leg] = field(default_factory=list)


def _legs(session: Session, types: tuple[str, ...], since: dt.datetime | None,
          until: dt.datetime | None) -> list[Leg]:
    q = select(Movement.id, Movement.event_id, Movement.event_type, Movement.establishment_id,
               Movement.counterparty_id, Movement.product_code, Movement.quantity, Movement.lot,
               Movement.serial, Movement.occurred_at).where(
        Movement.event_type.in_(types), Movement.counterparty_id.is_not(None))
    if since is not None:
        q = q.where(Movement.occurred_at >= since)
    if until is not None:
        q = q.where(Movement.occurred_at <= until)
    return [Leg(**row._asdict())
            for row in session.execute(q.order_by(Movement.occurred_at, Movement.id))]


def _compatible(out: Leg, rec: Leg) -> bool:
    if out.quantity != rec.quantity:
        return False
    if out.lot and rec.lot and out.lot != rec.lot:
        return False
    return not (out.serial and rec.serial and out.serial != rec.serial)


def match_transfers(session: Session, now: dt.datetime, since: dt.datetime | None = None,
                    until: dt.datetime | None = None, days: int | None = None) -> TransferMatch:
    """Match shipments sent in ``[since, until]`` with receipts (loaded ``days`` wider)."""
    lead, window = receipt_window(days)
    late = max(window, dt.timedelta(days=LATE_RECEIPT_DAYS))
    outs = _legs(session, ("transfer_out",), since, until)
    recs = _legs(session, RECEIVING, since - window if since else None,
                 until + late if until else None)
    groups: dict[tuple[str, str, str], list[Leg]] = defaultdict(list)
    for r in recs:  # received by r.establishment_id from r.counterparty_id
        groups[(r.counterparty_id, r.establishment_id, r.product_code)].append(r)
    times = {k: [r.occurred_at for r in v] for k, v in groups.items()}
    # Every compatible (shipment, receipt) pair within the window, cheapest first: a receipt
    # after its shipment costs its lag, one before it twice its lead.
    cands: list[tuple[float, int, int, Leg, Leg]] = []
    for out in outs:
        key = (out.establishment_id, out.counterparty_id, out.product_code)
        group = groups.get(key)
        if not group:
            continue
        ts = times[key]
        lo = bisect.bisect_left(ts, out.occurred_at - lead)
        hi = bisect.bisect_right(ts, out.occurred_at + window)
        for rec in group[lo:hi]:
            if _compatible(out, rec):
                lag = (rec.occurred_at - out.occurred_at).total_seconds()
                cands.append((lag if lag >= 0 else -2 * lag, out.id, rec.id, out, rec))
    cands.sort(key=lambda c: c[:3])
    used: set[int] = set()
    matched: dict[int, Leg] = {}
    for _cost, out_id, rec_id, _out, rec in cands:
        if out_id in matched or rec_id in used:
            continue
        matched[out_id] = rec
        used.add(rec_id)
    # Second pass: receipts left over match still-unmatched shipments booked up to ``late``
    # before them (a late booking), closest first.
    late_cands: list[tuple[float, int, int, Leg]] = []
    for out in outs:
        if out.id in matched:
            continue
        key = (out.establishment_id, out.counterparty_id, out.product_code)
        group = groups.get(key)
        if not group:
            continue
        ts = times[key]
        lo = bisect.bisect_right(ts, out.occurred_at + window)
        hi = bisect.bisect_right(ts, out.occurred_at + late)
        for rec in group[lo:hi]:
            if rec.id not in used and _compatible(out, rec):
                lag = (rec.occurred_at - out.occurred_at).total_seconds()
                late_cands.append((lag, out.id, rec.id, rec))
    late_cands.sort(key=lambda c: c[:3])
    for _lag, out_id, rec_id, rec in late_cands:
        if out_id in matched or rec_id in used:
            continue
        matched[out_id] = rec
        used.add(rec_id)
    result = TransferMatch()
    for out in outs:
        got = matched.get(out.id)
        if got is not None:
            result.pairs.append(TransferPair(out, got))
        elif out.occurred_at + window <= now:
            result.unreceived.append(out)
        else:
            result.in_transit.append(out)
    lo_t = since if since is not None else None
    for r in recs:
        if r.id in used:
            continue
        if lo_t is not None and r.occurred_at < lo_t:
            continue  # loaded only as a candidate for shipments inside the window
        if until is not None and r.occurred_at > until:
            continue
        result.unmatched_receipts.append(r)
    return result
