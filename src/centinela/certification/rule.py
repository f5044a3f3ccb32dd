"""The one certification rule: a certificate is valid from its issue date to its expiry, both
included. The detector ``uncertified_handler``, ``centinela certification status``, the reminders,
the web page and the quarterly report all call these functions.

A professional's certificates come from two places: the ``certificates`` table (the extension
file and the API) and the base format's ``professionals.opioid_certified_on`` (valid for
``certification_valid_days`` from that date, as the base format always meant).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from centinela.certification.models import Certificate
from centinela.registry.models import Establishment, Professional

HANDLING_ROLES = ("pharmacist", "prescriber")  # must hold a certificate; nurses are counted apart
STATES = ("valid", "expiring", "expired", "missing")


@dataclass(frozen=True)
class Period:
    """One certificate's validity, both ends included."""

    start: dt.date
    end: dt.date
    certificate_id: str | None
    source: str  # "certificate" or "registry"


@dataclass(frozen=True)
class Standing:
    """Where a professional stands on one day."""

    state: str  # valid, expiring (valid but ends within the warning window), expired, missing
    certified_on: dt.date | None  # start of the period that counts (or of the last one)
    valid_until: dt.date | None


def registry_period(certified_on: dt.date | None, certificate_id: str | None,
                    valid_days: int) -> Period | None:
    """Return the period meant by a base-format ``opioid_certified_on`` (None when empty)."""
    if certified_on is None:
        return None
    return Period(certified_on, certified_on + dt.timedelta(days=valid_days), certificate_id,
                  "registry")


def periods_by_professional(session: Session, valid_days: int,
                            ids: list[str] | None = None) -> dict[str, list[Period]]:
    """Return professional id → validity periods (sorted by start), from both sources."""
    out: dict[str, list[Period]] = defaultdict(list)
    q = select(Professional.professional_id, Professional.opioid_certified_on,
               Professional.certificate_id).where(Professional.opioid_certified_on.is_not(None))
    c = select(Certificate.professional_id, Certificate.issued_on, Certificate.expires_on,
               Certificate.certificate_id)
    if ids is not None:
        q = q.where(Professional.professional_id.in_(ids))
        c = c.where(Certificate.professional_id.in_(ids))
    for pid, on, cid in session.execute(q):
        out[pid].append(registry_period(on, cid, valid_days))
    for pid, start, end, cid in session.execute(c):
        out[pid].append(Period(start, end, cid, "certificate"))
    for v in out.values():
        v.sort(key=lambda p: (p.start, p.end))
    return dict(out)


def valid_period(periods: list[Period], day: dt.date) -> Period | None:
    """Return the period valid on ``day`` that lasts longest, or None."""
    ok = [p for p in periods if p.start <= day <= p.end]
    return max(ok, key=lambda p: p.end) if ok else None


def is_valid(periods: list[Period], day: dt.date) -> bool:
    """Return True when a certificate is valid on ``day``."""
    return valid_period(periods, day) is not None


def standing(periods: list[Period], day: dt.date, warn_days: int = 60) -> Standing:
    """Return the state on ``day``: valid, expiring within ``warn_days``, expired or missing.

    A certificate issued after ``day`` does not count yet (it is "missing" that day).
    """
    p = valid_period(periods, day)
    if p is not None:
        # A later certificate that starts before this one ends continues it without a gap.
        end = p.end
        for q in periods:
            if q.start <= end + dt.timedelta(days=1) and q.end > end:
                end = q.end
        state = "expiring" if (end - day).days <= warn_days else "valid"
        return Standing(state, p.start, end)
    past = [q for q in periods if q.end < day]
    if past:
        last = max(past, key=lambda q: q.end)
        return Standing("expired", last.start, last.end)
    return Standing("missing", None, None)


@dataclass(frozen=True)
class Person:
    """A registered professional with the department that answers for them."""

    professional_id: str
    role: str
    department: str | None
    establishment_id: str | None
    ubigeo: str | None = None  # own district, else the workplace's (for DIRIS-level routing)


def registered_people(session: Session) -> list[Person]:
    """Return every registered professional with their department (own ubigeo, else workplace)."""
    est_at = {e: (d, u) for e, d, u in session.execute(
        select(Establishment.establishment_id, Establishment.department, Establishment.ubigeo))}
    out = []
    for pid, role, dep, ubi, est in session.execute(
            select(Professional.professional_id, Professional.role, Professional.department,
                   Professional.ubigeo, Professional.establishment_id)
            .order_by(Professional.professional_id)):
        e_dep, e_ubi = est_at.get(est or "", (None, None))
        dep = dep or (ubi[:2] if ubi else None) or e_dep
        out.append(Person(pid, role, dep, est, ubi or e_ubi))
    return out
