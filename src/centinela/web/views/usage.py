"""Per-region figures of the map and the region profile, computed in ONE place.

Both the map (``/map``) and the region profile (``/profiles/region/{code}``) show "mg of fentanyl
per 100,000 inhabitants". They used to disagree (1,368.97 vs 1,253.21 for Lima) because the map
summed the 365 days before *now* while the profile summed its 12 monthly chart buckets (the
current, partial month and 11 whole months before it: a window of 11-12 months, not 365 days).
The population was the same (INEI 2025, summed from the districts). Now both call
:func:`use_per_capita` with the same window (:func:`window`).

Regions are INEI ubigeo prefixes: 2 digits (department), 4 (province), 6 (district).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from centinela.alerts.models import Alert
from centinela.geo.peru import population
from centinela.ledger.records import Movement, Seizure
from centinela.registry.models import Establishment, Product

WINDOW_DAYS = 365
OUTFLOWS = ("dispense", "administer")  # same as centinela.web.views.common.OUTFLOWS
LEVEL_OF = {2: "department", 4: "province", 6: "district"}


def window(now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """Return (since, until) of the per-capita figures: the 365 days before ``now``."""
    return now - dt.timedelta(days=WINDOW_DAYS), now


@dataclass(frozen=True)
class RegionUse:
    code: str
    mg: float
    population: int

    @property
    def per_100k(self) -> float | None:
        """mg per 100,000 inhabitants, or None without population."""
        return self.mg * 100_000 / self.population if self.population else None


def _roll(rows, level: int) -> dict[str, float]:
    out: dict[str, float] = {}
    for ubigeo, dep, value in rows:
        key = (ubigeo or "")[:level] if level > 2 else (dep or (ubigeo or "")[:2])
        if len(key) != level:
            continue
        out[key] = out.get(key, 0.0) + float(value or 0)
    return out


def fentanyl_mg(session: Session, now: dt.datetime, level: int = 2) -> dict[str, float]:
    """Return region code (``level`` digits) → mg of fentanyl dispensed or administered in the
    window. Departments use the establishment's department, finer levels its ubigeo."""
    from centinela.web.views.common import cached

    since, until = window(now)

    def by_district() -> list[tuple[str, str, float]]:
        return [tuple(r) for r in session.execute(
            select(Establishment.ubigeo, Establishment.department,
                   func.sum(Movement.quantity * Product.strength_mg_per_unit))
            .join(Product, Product.product_code == Movement.product_code)
            .join(Establishment, Establishment.establishment_id == Movement.establishment_id)
            .where(Movement.event_type.in_(OUTFLOWS), Product.substance == "fentanyl",
                   Movement.occurred_at >= since, Movement.occurred_at <= until)
            .group_by(Establishment.ubigeo, Establishment.department)).all()]

    # One query per moment at district grain; every level rolls up from it (cached).
    rows = cached(session, ("fentanyl_mg_by_district", now.isoformat(timespec="minutes")),
                  by_district)
    return _roll(rows, level)


def use_per_capita(session: Session, now: dt.datetime, level: int = 2) -> dict[str, RegionUse]:
    """Return region code → :class:`RegionUse` for every region of ``level`` (the one function
    behind the map and the region profile)."""
    from centinela.web.views.common import cached

    def compute() -> dict[str, RegionUse]:
        mg = fentanyl_mg(session, now, level)
        pop = population(level)
        return {code: RegionUse(code, mg.get(code, 0.0), p) for code, p in pop.items()}

    return cached(session, ("use_per_capita", level, now.isoformat(timespec="minutes")), compute)


def region_use(session: Session, code: str, now: dt.datetime) -> RegionUse:
    """Return the use of one region (department, province or district code)."""
    table = use_per_capita(session, now, len(code))
    return table.get(code) or RegionUse(code, 0.0, 0)


def open_alerts(session: Session, level: int, police: bool = False) -> dict[str, int]:
    """Return region code → open alerts. Departments count by the alert's department; provinces
    and districts by its district (ubigeo), or by a region subject's own code."""
    q = select(Alert.department, Alert.ubigeo, Alert.subject_kind, Alert.subject_id,
               func.count()).where(Alert.status != "closed")
    if police:
        q = q.where(Alert.subject_kind != "patient")
    q = q.group_by(Alert.department, Alert.ubigeo, Alert.subject_kind, Alert.subject_id)
    out: dict[str, int] = {}
    for dep, ubigeo, kind, subject, n in session.execute(q):
        if level == 2:
            key = dep
        else:
            place = ubigeo or (subject if kind == "region" else None) or ""
            key = place[:level] if len(place) >= level else None
        if key:
            out[key] = out.get(key, 0) + int(n)
    return out


def seizures(session: Session, now: dt.datetime, level: int) -> dict[str, int]:
    """Return region code → seizures in the window."""
    since, until = window(now)
    rows = session.execute(
        select(Seizure.ubigeo, func.count()).where(
            Seizure.occurred_at >= since, Seizure.occurred_at <= until)
        .group_by(Seizure.ubigeo)).all()
    out: dict[str, int] = {}
    for ubigeo, n in rows:
        if ubigeo and len(ubigeo) >= level:
            out[ubigeo[:level]] = out.get(ubigeo[:level], 0) + int(n)
    return out


def citizen_reports(session: Session, now: dt.datetime, level: int) -> dict[str, int]:
    """Return region code → citizen reports received in the window."""
    from centinela.public.models import CitizenReport

    since, until = window(now)
    rows = session.execute(
        select(CitizenReport.ubigeo, CitizenReport.department, func.count()).where(
            CitizenReport.created_at >= since, CitizenReport.created_at <= until)
        .group_by(CitizenReport.ubigeo, CitizenReport.department)).all()
    return {k: int(v) for k, v in _roll(rows, level).items()}
