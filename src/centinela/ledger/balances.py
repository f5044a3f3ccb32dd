"""Periodic balances of controlled medicines: reconciliation with the ledger.

Every Peruvian establishment that handles narcotics keeps the official book and closes it each
period with opening stock, receipts, issues and closing stock per product. ``balances.csv``
(an extension file, ``docs/intake.md``, read by ``centinela.ingest.balances``) carries those
figures. ``reconcile`` compares each
balance with its own arithmetic, with the previous period's closing and, where the establishment
also reports movements, with the movement-level ledger of the same period.
"""

from __future__ import annotations

import bisect
import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from centinela.ledger.models import PeriodicBalance
from centinela.ledger.records import STOCK_SIGN, Movement
from centinela.lib.clock import lima_midnight

KEY = ("establishment_id", "product_code", "period_end")
# A book may round a fraction of an ampoule (administer/waste of part of a unit).
ARITHMETIC_TOLERANCE = 0.5


@dataclass
class BalanceCheck:
    """One balance against its arithmetic, its previous period and the ledger."""

    establishment_id: str
    product_code: str
    period_start: dt.date
    period_end: dt.date
    department: str
    arithmetic_gap: float  # opening + receipts − issues − closing
    carry_gap: float | None  # opening − previous closing
    ledger_receipts: float | None  # from movements, when the establishment reports them
    ledger_issues: float | None
    receipts_gap: float | None
    issues_gap: float | None
    handled: float  # receipts + issues of the balance (the scale of the period)

    @property
    def units_unexplained(self) -> float:
        """Units the book cannot account for (the largest of the three disagreements)."""
        gaps = [abs(self.arithmetic_gap), abs(self.carry_gap or 0.0)]
        if self.issues_gap is not None:
            gaps.append(abs(self.issues_gap) + abs(self.receipts_gap or 0.0))
        return max(gaps)


def reconcile(session: Session, since: dt.date | None = None) -> list[BalanceCheck]:
    """Check every stored balance (ending on or after ``since``)."""
    q = select(PeriodicBalance).order_by(PeriodicBalance.establishment_id,
                                         PeriodicBalance.product_code,
                                         PeriodicBalance.period_end)
    balances = list(session.scalars(q))
    flows = _Flows(session, {b.establishment_id for b in balances})
    out: list[BalanceCheck] = []
    previous: dict[tuple[str, str], PeriodicBalance] = {}
    for b in balances:
        key = (b.establishment_id, b.product_code)
        prev = previous.get(key)
        previous[key] = b
        if since is not None and b.period_end < since:
            continue
        lr = li = rg = ig = None
        if key in flows:
            lr, li = flows.between(key, b.period_start, b.period_end)
            rg, ig = b.receipts_units - lr, b.issues_units - li
        carry = b.opening_units - prev.closing_units \
            if prev is not None and prev.period_end < b.period_start else None
        out.append(BalanceCheck(
            b.establishment_id, b.product_code, b.period_start, b.period_end, b.department,
            b.opening_units + b.receipts_units - b.issues_units - b.closing_units, carry,
            lr, li, rg, ig, b.receipts_units + b.issues_units))
    return out


class _Flows:
    """Inflows and outflows of the establishments that report balances, read in one pass and
    summed over any period by prefix sums (no query per balance)."""

    def __init__(self, session: Session, establishments: set[str]) -> None:
        moves: dict[tuple[str, str], list[tuple[dt.datetime, float, float]]] = {}
        ids = sorted(establishments)
        for i in range(0, len(ids), 900):  # under every database's bound-parameter limit
            for est, prod, etype, when, qty in session.execute(
                    select(Movement.establishment_id, Movement.product_code, Movement.event_type,
                           Movement.occurred_at, Movement.quantity)
                    .where(Movement.establishment_id.in_(ids[i:i + 900]),
                           Movement.event_type != "count")):
                sign = STOCK_SIGN[etype]
                moves.setdefault((est, prod), []).append(
                    (when, qty if sign > 0 else 0.0, qty if sign < 0 else 0.0))
        self._times: dict[tuple[str, str], list[dt.datetime]] = {}
        self._sums: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for key, rows in moves.items():
            rows.sort(key=lambda r: r[0])
            acc, tin, tout = [(0.0, 0.0)], 0.0, 0.0
            for _, qin, qout in rows:
                tin, tout = tin + qin, tout + qout
                acc.append((tin, tout))
            self._times[key] = [r[0] for r in rows]
            self._sums[key] = acc

    def __contains__(self, key: tuple[str, str]) -> bool:
        return key in self._times

    def between(self, key: tuple[str, str], first: dt.date,
                last: dt.date) -> tuple[float, float]:
        """(receipts, issues) in units from ``first`` to ``last``, Lima days."""
        start = lima_midnight(first)
        end = lima_midnight(last + dt.timedelta(days=1))
        times, sums = self._times[key], self._sums[key]
        lo, hi = bisect.bisect_left(times, start), bisect.bisect_left(times, end)
        return sums[hi][0] - sums[lo][0], sums[hi][1] - sums[lo][1]


def balance_only_establishments(session: Session) -> set[str]:
    """Establishments that report balances but no movement (counted from their balances)."""
    with_balances = set(session.scalars(select(PeriodicBalance.establishment_id).distinct()))
    with_movements = set(session.scalars(select(Movement.establishment_id).distinct()))
    return with_balances - with_movements


def balances_from_ledger(session: Session, months: list[tuple[dt.date, dt.date]],
                         establishment_ids: set[str] | None = None) -> list[dict[str, Any]]:
    """Write the periodic balances that the movement-level ledger implies (export, round trip).

    Per establishment, product and period (Lima days): opening = book stock before the period,
    receipts and issues = the inflows and outflows in it, closing = opening + receipts − issues.
    Counts are not flows and do not enter a balance.
    """
    rows = session.execute(select(Movement.establishment_id, Movement.product_code,
                                  Movement.event_type, Movement.occurred_at, Movement.quantity)
                           .where(Movement.event_type != "count")).all()
    edges = [(lima_midnight(a), lima_midnight(b + dt.timedelta(days=1)))
             for a, b in months]
    acc: dict[tuple[str, str], list[list[float]]] = {}
    for est, prod, etype, when, qty in rows:
        if establishment_ids is not None and est not in establishment_ids:
            continue
        per = acc.setdefault((est, prod), [[0.0, 0.0, 0.0] for _ in months])
        sign = STOCK_SIGN[etype]
        for i, (lo, hi) in enumerate(edges):
            if when < lo:
                per[i][0] += sign * qty  # before the period: the opening stock
            elif when < hi:
                per[i][1 if sign > 0 else 2] += qty
    out = []
    for (est, prod), per in sorted(acc.items()):
        for (start, end), (opening, receipts, issues) in zip(months, per, strict=True):
            if not (opening or receipts or issues):
                continue
            out.append({"establishment_id": est, "product_code": prod,
                        "period_start": start.isoformat(), "period_end": end.isoformat(),
                        "opening_units": round(opening, 4), "receipts_units": round(receipts, 4),
                        "issues_units": round(issues, 4),
                        "closing_units": round(opening + receipts - issues, 4)})
    return out
