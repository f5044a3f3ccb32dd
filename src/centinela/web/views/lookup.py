"""Patient-history lookup (PDMP) for prescribers and pharmacists: one form, one page.

The document number is pseudonymized at query time and never stored, logged or echoed; only
its pseudonym reaches the audit log, with the stated reason and the treatment attestation.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from centinela import audit
from centinela.accounts.models import User
from centinela.config import get_settings
from centinela.ledger.patients import (
    LookupRefused,
    clinical_report,
    history_warnings,
    patient_identity,
    valid_document,
)
from centinela.privacy import DocumentError, pseudonymize
from centinela.web.views.common import Point, Series, lima_iso

REASONS = ("new_prescription", "dispensing", "ongoing_treatment", "emergency_care")


class LookupRequest(BaseModel):
    document_type: Literal["DNI", "CE", "PAS"] = "DNI"
    # Checked per document type by ``valid_document`` (spaces, dots and dashes are ignored).
    document_number: str = Field(..., min_length=1, max_length=30)
    reason: Literal["new_prescription", "dispensing", "ongoing_treatment", "emergency_care"]
    note: str = Field("", max_length=500)
    attest: bool = Field(..., description="I attest a current treatment relationship")


class Dispensation(BaseModel):
    occurred_at: str
    event_type: str
    product_code: str
    product_name: str | None
    substance: str | None
    substance_class: str
    quantity: float
    days_supply: int | None
    daily_mme: float
    daily_diazepam_mg: float
    prescriber_id: str | None
    prescriber_name: str | None
    establishment_id: str
    establishment_name: str | None


class Counted(BaseModel):
    id: str
    name: str | None
    dispensations: int


class RiskFactor(BaseModel):
    key: str
    value: float
    points: int
    rule: str


class Identity(BaseModel):
    """What the records say about the person, so the clinician can confirm who it is."""

    sex: str | None
    birth_year: int | None
    age: int | None
    district: str | None
    district_name: str | None
    varies: bool  # the records disagree (a typo, or two people under one number)


class LookupResult(BaseModel):
    # found: dispensations in the last 12 months; no_recent_history: known to Centinela, none
    # in the window; not_found: this document has no record at all (check the number).
    status: Literal["found", "no_recent_history", "not_found"]
    document_type: str
    identity: Identity | None
    last_seen: str | None
    patient_id: str
    since: str
    until: str
    dispensations: list[Dispensation]
    prescribers: list[Counted]
    pharmacies: list[Counted]
    daily_mme: Series
    daily_diazepam_mg: Series
    current_mme: float
    max_mme: float
    current_diazepam_mg: float
    days_over_threshold: int
    mme_threshold: float
    benzodiazepine_overlap_days: int  # last 90 days with an opioid and a benzodiazepine
    opioid_overlap_days: int  # last 90 days with opioids of two prescribers at once
    prescribers_90d: int
    pharmacies_90d: int
    prescribers_12m: int
    pharmacies_12m: int
    risk_score: int  # 0-100, the sum of risk_factors' points (docs/lookup.md)
    risk_band: Literal["low", "moderate", "high"]
    risk_factors: list[RiskFactor]
    naloxone: bool  # offer naloxone: ≥ 50 MME/day now, or an opioid with a benzodiazepine
    warnings: list[str]


def identity_of(session: Session, psn: str, now: dt.datetime) -> tuple[Identity | None, str | None]:
    """The identity cues stored with a pseudonym and its last record, for the page."""
    found = patient_identity(session, psn, now)
    if found is None:
        return None, None
    cues = {k: v for k, v in found.__dict__.items() if k != "last_seen"}
    return Identity(**cues), lima_iso(found.last_seen)


def lookup(session: Session, user: User, req: LookupRequest, now: dt.datetime) -> LookupResult:
    """Return the last 12 months of controlled dispensations of a patient; audit the read."""
    if not req.attest:
        raise LookupRefused("attest: confirm the treatment relationship with this patient")
    principal = None
    if user.role == "delegate":
        from centinela.accounts.service import active_principal

        principal = active_principal(session, user)
        if principal is None:
            raise LookupRefused("delegation: this delegation is no longer in force")
    number = valid_document(req.document_type, req.document_number)
    try:
        psn = pseudonymize(f"{req.document_type}:{number}")
    except DocumentError:
        raise LookupRefused("document_number: letters and digits only") from None
    result = result_for(session, psn, req.document_type, now)
    reason = f"{req.reason}: {req.note.strip()}".strip(": ")
    details = {"attested": True, "role": user.role, "professional_id": user.professional_id,
               "dispensations": len(result.dispensations)}
    if principal is not None:  # audited under both names
        details.update(on_behalf_of=principal.username,
                       professional_id=principal.professional_id)
        audit.record(session, principal.username, "pdmp.lookup_by_delegate", psn, reason=reason,
                     details={"delegate": user.username}, now=now)
    audit.record(session, user.username, "pdmp.lookup", psn, reason=reason, details=details,
                 now=now)
    return result


PDF_WINDOW = dt.timedelta(minutes=30)


def recent_lookup(session: Session, user: User, psn: str, now: dt.datetime) -> bool:
    """Whether ``user`` ran an attested lookup of ``psn`` in the last 30 minutes (the PDF of a
    report is only given to whoever just looked the patient up)."""
    from centinela.audit import AuditEntry

    return session.scalar(select(AuditEntry.id).where(
        AuditEntry.actor == user.username, AuditEntry.action == "pdmp.lookup",
        AuditEntry.subject == psn, AuditEntry.at >= (now - PDF_WINDOW).replace(microsecond=0))
        .limit(1)) is not None


def result_for(session: Session, psn: str, document_type: str,
               now: dt.datetime) -> LookupResult:
    """Build the report of a pseudonym (the caller checks access and audits the read)."""
    report = clinical_report(session, psn, now)
    start = report.since
    items: list[Dispensation] = []
    prescribers: dict[str, Counted] = {}
    pharmacies: dict[str, Counted] = {}
    for f in report.fills:
        m, product = f.movement, f.product
        items.append(Dispensation(
            occurred_at=lima_iso(m.occurred_at) or "", event_type=m.event_type,
            product_code=m.product_code, product_name=product.name if product else None,
            substance=product.substance if product else None, substance_class=f.klass,
            quantity=m.quantity, days_supply=m.days_supply, daily_mme=round(f.daily_mme, 2),
            daily_diazepam_mg=round(f.daily_diazepam_mg, 2), prescriber_id=m.prescriber_id,
            prescriber_name=f.prescriber_name, establishment_id=m.establishment_id,
            establishment_name=f.establishment_name))
        if m.prescriber_id:
            c = prescribers.setdefault(m.prescriber_id, Counted(
                id=m.prescriber_id, name=f.prescriber_name, dispensations=0))
            c.dispensations += 1
        c = pharmacies.setdefault(m.establishment_id, Counted(
            id=m.establishment_id, name=f.establishment_name, dispensations=0))
        c.dispensations += 1
    per_day = report.mme
    threshold = get_settings().mme_threshold
    over = sum(1 for v in per_day if v >= threshold)
    warnings = history_warnings(report)
    identity, last_seen = identity_of(session, psn, now)
    status = "found" if items else "no_recent_history" if identity else "not_found"
    return LookupResult(
        status=status, document_type=document_type, identity=identity,
        last_seen=last_seen,
        patient_id=psn, since=start.isoformat(), until=now.date().isoformat(),
        dispensations=items,
        prescribers=sorted(prescribers.values(), key=lambda c: -c.dispensations),
        pharmacies=sorted(pharmacies.values(), key=lambda c: -c.dispensations),
        daily_mme=Series(name="daily_mme", points=[
            Point(label=(start + dt.timedelta(days=i)).isoformat(), value=round(v, 2))
            for i, v in enumerate(per_day)]),
        daily_diazepam_mg=Series(name="daily_diazepam_mg", points=[
            Point(label=(start + dt.timedelta(days=i)).isoformat(), value=round(v, 2))
            for i, v in enumerate(report.diazepam)]),
        current_mme=round(report.current_mme, 2), max_mme=round(report.max_mme, 2),
        current_diazepam_mg=round(report.current_diazepam, 2),
        days_over_threshold=over, mme_threshold=threshold,
        benzodiazepine_overlap_days=report.overlap_days,
        opioid_overlap_days=report.opioid_overlap_days,
        prescribers_90d=report.prescribers_90, pharmacies_90d=report.pharmacies_90,
        prescribers_12m=report.prescribers_365, pharmacies_12m=report.pharmacies_365,
        risk_score=report.risk_score, risk_band=report.risk_band,
        risk_factors=[RiskFactor(**f.__dict__) for f in report.factors],
        naloxone=report.naloxone, warnings=warnings)
