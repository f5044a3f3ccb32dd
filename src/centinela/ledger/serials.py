"""Unit serials and lots followed along their movements: timelines and custody as of a time."""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from centinela.ledger.records import Movement
from centinela.ledger.stock import signed_quantity

# What the last movement of a unit says about where it is.
STATUS = {
    "import": "held", "receipt": "held", "transfer_in": "held", "count": "held",
    "transfer_out": "in_transit", "dispense": "dispensed", "administer": "administered",
    "waste": "wasted", "loss": "lost", "export": "exported",
}


@dataclass(frozen=True)
class SerialEvent:
    """One movement of a serialized unit."""

    event_id: str
    event_type: str
    occurred_at: dt.datetime
    establishment_id: str
    counterparty_id: str | None
    product_code: str
    lot: str | None
    serial: str


@dataclass(frozen=True)
class Custody:
    """Who had a serial (or lot) last as of a time, and in what state."""

    establishment_id: str  # the last establishment that reported it
    status: str  # held, in_transit, dispensed, administered, wasted, lost, exported
    since: dt.datetime
    event_id: str
    destination_id: str | None = None  # for in_transit: the counterparty


_COLS = (Movement.event_id, Movement.event_type, Movement.occurred_at, Movement.establishment_id,
         Movement.counterparty_id, Movement.product_code, Movement.lot, Movement.serial)


def serial_timeline(session: Session, serial: str, product_code: str | None = None,
                    as_of: dt.datetime | None = None) -> list[SerialEvent]:
    """Return every movement of one serial in time order (across establishments)."""
    q = select(*_COLS).where(Movement.serial == serial)
    if product_code is not None:
        q = q.where(Movement.product_code == product_code)
    if as_of is not None:
        q = q.where(Movement.occurred_at <= as_of)
    q = q.order_by(Movement.occurred_at, Movement.id)
    return [SerialEvent(**row._asdict()) for row in session.execute(q)]


def serial_paths(session: Session, serials: Iterable[str] | None = None,
                 since: dt.datetime | None = None) -> dict[str, list[SerialEvent]]:
    """Return serial → timeline for many serials at once (all serials when None)."""
    q = select(*_COLS).where(Movement.serial.is_not(None))
    if serials is not None:
        wanted = sorted(set(serials))
        if not wanted:
            return {}
        q = q.where(Movement.serial.in_(wanted))
    if since is not None:
        q = q.where(Movement.occurred_at >= since)
    out: dict[str, list[SerialEvent]] = defaultdict(list)
    for row in session.execute(q.order_by(Movement.serial, Movement.occurred_at, Movement.id)):
        out[row.serial].append(SerialEvent(**row._asdict()))
    return dict(out)


def _custody(last: SerialEvent) -> Custody:
    status = STATUS.get(last.event_type, "held")
    dest = last.counterparty_id if status == "in_transit" else None
    return Custody(last.establishment_id, status, last.occurred_at, last.event_id, dest)


def last_custodian(session: Session, as_of: dt.datetime, serial: str | None = None,
                   lot: str | None = None, product_code: str | None = None) -> Custody | None:
    """Return the last custodian of a serial, or of a lot, as of ``as_of`` (None if never seen).

    For a serial: its last movement. When that serial was never reported unit by unit (boxes
    move by lot) and its ``lot`` is given, its neighbours answer first: boxes ship in
    contiguous serial ranges, so the establishment that used the closest serial numbers of the
    same lot (within ``NEIGHBOUR_SPAN``) and still holds units of it is where the unit went.
    Otherwise the lot answers: for a lot spread over many places, the most recent movement
    among establishments that still hold units of it on the books (else the last movement of
    the lot anywhere).
    """
    if serial is None and lot is None:
        raise ValueError("give a serial, a lot, or both")
    if serial is not None:
        events = serial_timeline(session, serial, product_code, as_of)
        if events:
            return _custody(events[-1])
        if lot is None:
            return None
    assert lot is not None  # a serial without history falls back on its lot
    holders = lot_holders(session, lot, as_of, product_code)
    if serial is not None:
        near = _neighbour_custodian(session, serial, lot, as_of, product_code,
                                    {h.establishment_id: h for h in holders if h.units > 0})
        if near is not None:
            return near
    q = select(*_COLS).where(Movement.lot == lot, Movement.occurred_at <= as_of)
    if product_code is not None:
        q = q.where(Movement.product_code == product_code)
    positive = {h.establishment_id for h in holders if h.units > 0}
    if positive:
        q = q.where(Movement.establishment_id.in_(positive))
    last = session.execute(q.order_by(Movement.occurred_at.desc(), Movement.id.desc())
                           .limit(1)).first()
    if last is None:
        return None
    custody = _custody(SerialEvent(**last._asdict()))
    if last.establishment_id in positive and custody.status != "in_transit":
        # Units of the lot remain on that shelf whatever its last movement was.
        custody = Custody(custody.establishment_id, "held", custody.since, custody.event_id)
    return custody


NEIGHBOUR_SPAN = 100
_TRAILING = re.compile(r"(\d+)$")


def _neighbour_custodian(session: Session, serial: str, lot: str, as_of: dt.datetime,
                         product_code: str | None, holding: dict[str, Any]) -> Custody | None:
    """The holder of the lot that used the serial numbers closest to ``serial``."""
    m = _TRAILING.search(serial)
    if m is None or not holding:
        return None
    stem, number = serial[:m.start()], int(m.group(1))
    q = select(Movement.serial, Movement.establishment_id).where(
        Movement.lot == lot, Movement.serial.is_not(None), Movement.occurred_at <= as_of,
        Movement.establishment_id.in_(list(holding)))
    if product_code is not None:
        q = q.where(Movement.product_code == product_code)
    best: tuple[int, str] | None = None
    for other, est in session.execute(q):
        if other is None:
            continue
        om = _TRAILING.search(other)
        if om is None or other[:om.start()] != stem:
            continue
        gap = abs(int(om.group(1)) - number)
        if gap <= NEIGHBOUR_SPAN and (best is None or gap < best[0]):
            best = (gap, est)
    if best is None:
        return None
    h = holding[best[1]]
    last = session.scalar(select(Movement.event_id).where(
        Movement.lot == lot, Movement.establishment_id == h.establishment_id,
        Movement.occurred_at <= as_of).order_by(Movement.occurred_at.desc(), Movement.id.desc())
        .limit(1))
    return Custody(h.establishment_id, "held", h.last_movement_at, last or "")


@dataclass(frozen=True)
class Holding:
    """Book units of a lot at one establishment."""

    establishment_id: str
    product_code: str
    units: float
    last_movement_at: dt.datetime


def lot_holders(session: Session, lot: str, as_of: dt.datetime,
                product_code: str | None = None) -> list[Holding]:
    """Return every establishment that moved a lot, with its book units as of ``as_of``."""
    q = (select(Movement.establishment_id, Movement.product_code, func.sum(signed_quantity()),
                func.max(Movement.occurred_at))
         .where(Movement.lot == lot, Movement.occurred_at <= as_of)
         .group_by(Movement.establishment_id, Movement.product_code))
    if product_code is not None:
        q = q.where(Movement.product_code == product_code)
    rows = [Holding(e, p, float(u or 0.0), t) for e, p, u, t in session.execute(q)]
    return sorted(rows, key=lambda h: h.last_movement_at, reverse=True)
