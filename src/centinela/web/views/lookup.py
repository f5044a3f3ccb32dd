"""Patient-history lookup (PDMP) for prescribers and pharmacists: one form, one page.

The document number is pseudonymized at query time and never stored, logged or echoed; only
its pseudonym reaches the audit log, with the stated reason and the treatment attestation.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from centinela import audit
from centinela.accounts.models import User
from centinela.config import get_settings
from centinela.ingest.models import Movement
from centinela.privacy import DocumentError, pseudonymize
from centinela.registry.models import Establishment, Product, Professional
from centinela.web.views.common import OUTFLOWS, Point, Series, lima_iso
from centinela.web.views.mme import daily_mme, unit_of

REASONS = ("new_prescription", "dispensing", "ongoing_treatment", "emergency_care")
DAYS = 365


class LookupRequest(BaseModel):
    document_type: Literal["DNI", "CE", "PAS"] = "DNI"
    document_number: str = Field(..., min_length=4, max_length=20, pattern=r"^[A-Za-z0-9]+$")
    reason: Literal["new_prescription", "dispensing", "ongoing_treatment", "emergency_care"]
    note: str = Field("", max_length=500)
    attest: bool = Field(..., description="I attest a current treatment relationship")


class Dispensation(BaseModel):
    occurred_at: str
    event_type: str
    product_code: str
    product_name: str | None
    substance: str | None
    quantity: float
    days_supply: int | None
    daily_mme: float
    prescriber_id: str | None
    prescriber_name: str | None
    establishment_id: str
    establishment_name: str | None


class Counted(BaseModel):
    id: str
    name: str | None
    dispensations: int


class LookupResult(BaseModel):
    patient_id: str
    since: str
    until: str
    dispensations: list[Dispensation]
    prescribers: list[Counted]
    pharmacies: list[Counted]
    daily_mme: Series
    current_mme: float
    max_mme: float
    days_over_threshold: int
    mme_threshold: float
    warnings: list[str]


class LookupRefused(ValueError):
    """The lookup lacks its attestation or has a malformed document (message is safe to show)."""


def lookup(session: Session, user: User, req: LookupRequest, now: dt.datetime) -> LookupResult:
    """Return the last 12 months of controlled dispensations of a patient; audit the read."""
    if not req.attest:
        raise LookupRefused("attest: confirm the treatment relationship with this patient")
    try:
        psn = pseudonymize(f"{req.document_type}:{req.document_number}")
    except DocumentError:
        raise LookupRefused("document_number: letters and digits only") from None
    since = now - dt.timedelta(days=DAYS)
    pres = aliased(Professional)
    rows = session.execute(
        select(Movement, Product, pres.full_name, Establishment.name, Establishment.kind)
        .join(Product, Product.product_code == Movement.product_code, isouter=True)
        .join(pres, pres.professional_id == Movement.prescriber_id, isouter=True)
        .join(Establishment, Establishment.establishment_id == Movement.establishment_id,
              isouter=True)
        .where(Movement.patient_id == psn, Movement.occurred_at >= since,
               Movement.occurred_at <= now, Movement.event_type.in_(OUTFLOWS))
        .order_by(Movement.occurred_at.desc())).all()
    settings = get_settings()
    start = since.date()
    per_day = [0.0] * (DAYS + 1)
    items: list[Dispensation] = []
    prescribers: dict[str, Counted] = {}
    pharmacies: dict[str, Counted] = {}
    for m, product, pres_name, est_name, _kind in rows:
        d_mme = 0.0
        if product is not None:
            unit = unit_of(product)
            d_mme = daily_mme(unit, m.quantity, m.days_supply)
            days = (m.days_supply if m.days_supply and m.days_supply > 0 else
                    (3 * m.quantity if unit.route == "transdermal" else max(m.quantity, 1.0)))
            first = (m.occurred_at.date() - start).days
            for i in range(max(first, 0), min(first + max(int(round(days)), 1), DAYS + 1)):
                per_day[i] += d_mme
        items.append(Dispensation(
            occurred_at=lima_iso(m.occurred_at) or "", event_type=m.event_type,
            product_code=m.product_code, product_name=product.name if product else None,
            substance=product.substance if product else None, quantity=m.quantity,
            days_supply=m.days_supply, daily_mme=round(d_mme, 2), prescriber_id=m.prescriber_id,
            prescriber_name=pres_name, establishment_id=m.establishment_id,
            establishment_name=est_name))
        if m.prescriber_id:
            c = prescribers.setdefault(m.prescriber_id, Counted(id=m.prescriber_id,
                                                                name=pres_name, dispensations=0))
            c.dispensations += 1
        c = pharmacies.setdefault(m.establishment_id, Counted(id=m.establishment_id,
                                                              name=est_name, dispensations=0))
        c.dispensations += 1
    threshold = settings.mme_threshold
    today = (now.date() - start).days
    over = sum(1 for v in per_day if v >= threshold)
    warnings = []
    if per_day[today] >= threshold:
        warnings.append("lookup.warn_high_mme")
    if over:
        warnings.append("lookup.warn_days_over")
    if len(prescribers) >= settings.pdmp_prescribers or len(pharmacies) >= settings.pdmp_pharmacies:
        warnings.append("lookup.warn_multiple_providers")
    if any((i.substance or "") == "methadone" for i in items) and len(prescribers) > 1:
        warnings.append("lookup.warn_methadone")
    audit.record(session, user.username, "pdmp.lookup", psn,
                 reason=f"{req.reason}: {req.note.strip()}".strip(": "),
                 details={"attested": True, "role": user.role,
                          "professional_id": user.professional_id, "dispensations": len(items)},
                 now=now)
    return LookupResult(
        patient_id=psn, since=start.isoformat(), until=now.date().isoformat(),
        dispensations=items,
        prescribers=sorted(prescribers.values(), key=lambda c: -c.dispensations),
        pharmacies=sorted(pharmacies.values(), key=lambda c: -c.dispensations),
        daily_mme=Series(name="daily_mme", points=[
            Point(label=(start + dt.timedelta(days=i)).isoformat(), value=round(v, 2))
            for i, v in enumerate(per_day)]),
        current_mme=round(per_day[today], 2), max_mme=round(max(per_day), 2),
        days_over_threshold=over, mme_threshold=threshold, warnings=warnings)
