"""Book stock derived from movements, and its reconciliation against physical counts.

Book stock is the signed sum of movements (``+`` import, receipt, transfer_in; ``−`` the rest;
``count`` does not move stock). Each count is checked two ways: against the book since the
beginning, and against the previous count plus the net movements since (``expected``), so one
old discrepancy does not echo through every later count.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, literal, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from centinela.ledger.records import STOCK_SIGN, Movement
from centinela.registry.models import Product

PLUS = tuple(t for t, s in STOCK_SIGN.items() if s > 0)
MINUS = tuple(t for t, s in STOCK_SIGN.items() if s < 0)


def signed_quantity() -> ColumnElement[float]:
    """SQL expression of a movement's effect on book stock."""
    return case(
        (Movement.event_type.in_(PLUS), Movement.quantity),
        (Movement.event_type.in_(MINUS), -Movement.quantity),
        else_=literal(0.0),
    )


def strengths(session: Session) -> dict[str, tuple[str, float]]:
    """Return product_code → (substance, mg per unit)."""
    return {code: (sub, mg) for code, sub, mg in session.execute(
        select(Product.product_code, Product.substance, Product.strength_mg_per_unit))}


@dataclass(frozen=True)
class StockLine:
    """Book stock of one establishment and product (and lot, when asked by lot)."""

    establishment_id: str
    product_code: str
    lot: str | None
    units: float
    mg: float
    substance: str | None


def book_stock(session: Session, as_of: dt.datetime | None = None,
               establishment_id: str | None = None, product_code: str | None = None,
               by_lot: bool = False, substance: str | None = None) -> list[StockLine]:
    """Return book stock per establishment/product(/lot) from movements up to ``as_of``."""
    cols: list[Any] = [Movement.establishment_id, Movement.product_code]
    if by_lot:
        cols.append(Movement.lot)
    q = select(*cols, func.sum(signed_quantity())).group_by(*cols).order_by(*cols)
    if as_of is not None:
        q = q.where(Movement.occurred_at <= as_of)
    if establishment_id is not None:
        q = q.where(Movement.establishment_id == establishment_id)
    if product_code is not None:
        q = q.where(Movement.product_code == product_code)
    if substance is not None:
        q = q.where(Movement.product_code.in_(
            select(Product.product_code).where(Product.substance == substance)))
    info = strengths(session)
    out = []
    for row in session.execute(q):
        est, prod = row[0], row[1]
        lot = row[2] if by_lot else None
        units = float(row[-1] or 0.0)
        sub, mg = info.get(prod, (None, 0.0))
        out.append(StockLine(est, prod, lot, units, units * mg, sub))
    return out


def stock_on_hand(session: Session, establishment_id: str, product_code: str,
                  as_of: dt.datetime | None = None, lot: str | None = None) -> float:
    """Return the book units of one establishment and product (optionally one lot)."""
    q = select(func.coalesce(func.sum(signed_quantity()), 0.0)).where(
        Movement.establishment_id == establishment_id, Movement.product_code == product_code)
    if as_of is not None:
        q = q.where(Movement.occurred_at <= as_of)
    if lot is not None:
        q = q.where(Movement.lot == lot)
    return float(session.scalar(q) or 0.0)


@dataclass(frozen=True)
class CountCheck:
    """One physical count set against the books."""

    event_id: str
    establishment_id: str
    product_code: str
    lot: str | None
    counted_at: dt.datetime
    counted: float
    book: float  # signed sum of every movement up to the count
    expected: float  # previous count + net movements since (= book for the first count)
    discrepancy_units: float  # counted − expected (negative: units missing)
    discrepancy_mg: float
    previous_count_at: dt.datetime | None


def reconcile_counts(session: Session, establishment_id: str | None = None,
                     product_code: str | None = None, since: dt.datetime | None = None,
                     until: dt.datetime | None = None,
                     window_from: dt.datetime | None = None) -> list[CountCheck]:
    """Check every count (in ``[since, until]``) against the book; one query per count level.

    A count without a lot is reconciled at product level; a count with a lot, against that lot.
    Movements at the same instant as a count are taken as before it.

    ``window_from`` leaves older movements out of the running book (much less to sort): then
    ``book`` is relative, and ``expected`` exact only for counts with a previous count at or after
    ``window_from`` (``previous_count_at`` set); the caller re-checks the others in full.
    """
    info = strengths(session)
    out: list[CountCheck] = []
    for lot_level in (False, True):
        out.extend(_reconcile_level(session, info, lot_level, establishment_id, product_code,
                                    since, until, window_from))
    out.sort(key=lambda c: (c.establishment_id, c.product_code, c.counted_at, c.lot or ""))
    return out


def _reconcile_level(session: Session, info: dict[str, tuple[str, float]], lot_level: bool,
                     establishment_id: str | None, product_code: str | None,
                     since: dt.datetime | None, until: dt.datetime | None,
                     window_from: dt.datetime | None = None) -> Iterable[CountCheck]:
    part: list[Any] = [Movement.establishment_id, Movement.product_code]
    if lot_level:
        part.append(Movement.lot)
    is_count = case((Movement.event_type == "count", 1), else_=0)
    book = func.sum(signed_quantity()).over(
        partition_by=part, order_by=[Movement.occurred_at, is_count, Movement.id],
        rows=(None, 0))
    inner = select(Movement.event_id, Movement.establishment_id, Movement.product_code,
                   Movement.lot, Movement.occurred_at, Movement.quantity, Movement.event_type,
                   Movement.id, book.label("book"))
    if lot_level:
        inner = inner.where(Movement.lot.is_not(None))
    if establishment_id is not None:
        inner = inner.where(Movement.establishment_id == establishment_id)
    if product_code is not None:
        inner = inner.where(Movement.product_code == product_code)
    if until is not None:
        inner = inner.where(Movement.occurred_at <= until)
    if window_from is not None:
        inner = inner.where(Movement.occurred_at >= window_from)
    sub = inner.subquery()
    q = select(sub).where(sub.c.event_type == "count").order_by(
        sub.c.establishment_id, sub.c.product_code, sub.c.lot, sub.c.occurred_at, sub.c.id)
    if lot_level:
        q = q.where(sub.c.lot.is_not(None))
    else:
        q = q.where(sub.c.lot.is_(None))
    prev: dict[tuple[str, str, str | None], tuple[float, float, dt.datetime]] = {}
    for r in session.execute(q):
        key = (r.establishment_id, r.product_code, r.lot)
        book_units = float(r.book or 0.0)
        last = prev.get(key)
        expected = book_units if last is None else last[0] + (book_units - last[1])
        prev[key] = (r.quantity, book_units, r.occurred_at)
        if since is not None and r.occurred_at < since:
            continue
        diff = r.quantity - expected
        mg = info.get(r.product_code, (None, 0.0))[1]
        yield CountCheck(r.event_id, r.establishment_id, r.product_code, r.lot, r.occurred_at,
                         r.quantity, book_units, expected, diff, diff * mg,
                         last[2] if last else None)
