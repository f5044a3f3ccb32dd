"""A patient's controlled-medicine history: the clinical report a prescriber or pharmacist reads
before the next dose (MME, benzodiazepine overlap, providers, a transparent risk score).

Pure domain code over the ledger: the document check, the identity cues, the clinical report
and its warnings. The web lookup and the API render what these return; nothing here knows
about HTTP or templates.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from centinela.config import get_settings
from centinela.ledger.mme import daily_mme, days_covered, unit_mme
from centinela.ledger.records import Movement
from centinela.privacy import DOCUMENT_SEPARATORS
from centinela.reference import ubigeo
from centinela.reference.substances import diazepam_mg, substance_class
from centinela.registry.models import Establishment, Product, Professional

DAYS = 365
RECENT = 90
OUTFLOWS = ("dispense", "administer")


@dataclass
class Fill:
    """One dispensation (or administration) with its daily dose and the days it covers."""

    movement: Movement
    product: Product | None
    prescriber_name: str | None
    establishment_name: str | None
    klass: str  # substance class: opioid, benzodiazepine, …
    daily_mme: float
    daily_diazepam_mg: float
    days: int


@dataclass
class Factor:
    """One term of the risk score: what it measures, its value and the points it adds."""

    key: str
    value: float
    points: int
    rule: str


@dataclass
class ClinicalReport:
    since: dt.date
    today_index: int
    fills: list[Fill]
    mme: list[float]  # per day, opioids
    diazepam: list[float]  # per day, benzodiazepines and Z-drugs (diazepam mg)
    overlap_days: int  # last 90 days with an opioid and a benzodiazepine both active
    opioid_overlap_days: int  # last 90 days with opioid fills of two prescribers active
    prescribers_90: int
    pharmacies_90: int
    prescribers_365: int
    pharmacies_365: int
    factors: list[Factor] = field(default_factory=list)

    @property
    def current_mme(self) -> float:
        return self.mme[self.today_index]

    @property
    def max_mme(self) -> float:
        return max(self.mme) if self.mme else 0.0

    @property
    def current_diazepam(self) -> float:
        return self.diazepam[self.today_index]

    @property
    def risk_score(self) -> int:
        return min(100, sum(f.points for f in self.factors))

    @property
    def risk_band(self) -> str:
        s = self.risk_score
        return "high" if s >= 60 else "moderate" if s >= 30 else "low"

    @property
    def naloxone(self) -> bool:
        """Offer naloxone: current MME ≥ 50, or an opioid with a benzodiazepine now."""
        return self.current_mme >= 50 or (self.current_mme > 0 and self.current_diazepam > 0)


class LookupRefused(ValueError):
    """The lookup lacks its attestation or has a malformed document (message is safe to show)."""


def valid_document(kind: str, number: str) -> str:
    """Return the document number checked for its type, or refuse it with a clear reason.

    DNI: 8 digits. Carné de extranjería (CE): 9 digits. Passport: 6 to 12 letters and digits
    with at least one digit. Spaces, dots and dashes that people type are ignored; the number
    is never echoed in the message.
    """
    n = number.translate(DOCUMENT_SEPARATORS).upper()
    if kind == "DNI":
        if not (n.isdigit() and len(n) == 8):
            raise LookupRefused("document_dni: a DNI has exactly 8 digits")
    elif kind == "CE":
        if not (n.isdigit() and len(n) == 9):
            raise LookupRefused("document_ce: a carné de extranjería has 9 digits")
    elif not (n.isascii() and n.isalnum() and 6 <= len(n) <= 12
              and any(c.isdigit() for c in n)):
        raise LookupRefused("document_pas: a passport number has 6 to 12 letters and digits")
    return n


@dataclass
class PatientIdentity:
    """What the records say about the person, so the clinician can confirm who it is."""

    sex: str | None
    birth_year: int | None
    age: int | None
    district: str | None
    district_name: str | None
    varies: bool  # the records disagree (a typo, or two people under one number)
    last_seen: dt.datetime  # the most recent record (naive UTC)


def patient_identity(session: Session, psn: str, now: dt.datetime) -> PatientIdentity | None:
    """Return the identity cues stored with a pseudonym (the most common of its last 500
    records), or None when it has no record up to ``now``."""
    rows = session.execute(
        select(Movement.patient_sex, Movement.patient_birth_year, Movement.patient_ubigeo,
               Movement.occurred_at)
        .where(Movement.patient_id == psn, Movement.occurred_at <= now)
        .order_by(Movement.occurred_at.desc()).limit(500)).all()
    if not rows:
        return None
    sexes = Counter(r[0] for r in rows if r[0])
    years = Counter(r[1] for r in rows if r[1])
    places = Counter(r[2] for r in rows if r[2])
    sex = sexes.most_common(1)[0][0] if sexes else None
    year = years.most_common(1)[0][0] if years else None
    place = places.most_common(1)[0][0] if places else None
    d = ubigeo.get(place) if place else None
    name = f"{d.district}, {d.province}, {d.department}" if d else None
    return PatientIdentity(sex=sex, birth_year=year, age=now.year - year if year else None,
                           district=place, district_name=name,
                           varies=len(sexes) > 1 or len(years) > 1, last_seen=rows[0][3])


def history_warnings(report: ClinicalReport) -> list[str]:
    """Return the warning keys of a patient's history (``lookup.warn_*``, docs/lookup.md)."""
    settings = get_settings()
    prescribers = {f.movement.prescriber_id for f in report.fills} - {None}
    pharmacies = {f.movement.establishment_id for f in report.fills}
    threshold = settings.mme_threshold
    warnings = []
    if report.current_mme >= threshold:
        warnings.append("lookup.warn_high_mme")
    if any(v >= threshold for v in report.mme):
        warnings.append("lookup.warn_days_over")
    if len(prescribers) >= settings.pdmp_prescribers or len(pharmacies) >= settings.pdmp_pharmacies:
        warnings.append("lookup.warn_multiple_providers")
    if len(prescribers) > 1 and any(
            f.product is not None and (f.product.substance or "") == "methadone"
            for f in report.fills):
        warnings.append("lookup.warn_methadone")
    if report.overlap_days:
        warnings.append("lookup.warn_benzodiazepine")
    if report.naloxone:
        warnings.append("lookup.warn_naloxone")
    return warnings


def clinical_report(session: Session, psn: str, now: dt.datetime) -> ClinicalReport:
    """Build the report of the last 12 months (risk factors over the last 90 days)."""
    since = now - dt.timedelta(days=DAYS)
    start = since.date()
    pres = aliased(Professional)
    rows = session.execute(
        select(Movement, Product, pres.full_name, Establishment.name)
        .join(Product, Product.product_code == Movement.product_code, isouter=True)
        .join(pres, pres.professional_id == Movement.prescriber_id, isouter=True)
        .join(Establishment, Establishment.establishment_id == Movement.establishment_id,
              isouter=True)
        .where(Movement.patient_id == psn, Movement.occurred_at >= since,
               Movement.occurred_at <= now, Movement.event_type.in_(OUTFLOWS))
        .order_by(Movement.occurred_at.desc())).all()
    n = DAYS + 1
    mme, dz = [0.0] * n, [0.0] * n
    opioid_by_prescriber: list[set[str]] = [set() for _ in range(n)]
    fills: list[Fill] = []
    recent_start = (now.date() - start).days - RECENT + 1
    pres90, pharm90, pres365, pharm365 = set(), set(), set(), set()
    for m, product, pres_name, est_name in rows:
        klass, d_mme, d_dz, days = "other", 0.0, 0.0, 1
        if product is not None:
            klass = substance_class(product.substance)
            unit = unit_mme(product.substance, product.dosage_form,
                            product.strength_mg_per_unit, product.patch_mcg_per_hour)
            days = int(round(days_covered(unit, m.quantity, m.days_supply)))
            if klass == "opioid" or klass == "other":
                d_mme = daily_mme(unit, m.quantity, m.days_supply)
            if klass == "benzodiazepine":
                d_dz = diazepam_mg(product.substance,
                                   m.quantity * product.strength_mg_per_unit) / max(days, 1)
        first = (m.occurred_at.date() - start).days
        for i in range(max(first, 0), min(first + max(days, 1), n)):
            mme[i] += d_mme
            dz[i] += d_dz
            if d_mme > 0 and m.event_type == "dispense":
                opioid_by_prescriber[i].add(m.prescriber_id or "?")
        fills.append(Fill(m, product, pres_name, est_name, klass, d_mme, d_dz, days))
        if m.event_type == "dispense":
            who = {m.prescriber_id} - {None}
            pres365 |= who
            pharm365.add(m.establishment_id)
            if first >= recent_start:
                pres90 |= who
                pharm90.add(m.establishment_id)
    today = (now.date() - start).days
    window = range(max(recent_start, 0), today + 1)
    report = ClinicalReport(
        since=start, today_index=today, fills=fills, mme=mme, diazepam=dz,
        overlap_days=sum(1 for i in window if mme[i] > 0 and dz[i] > 0),
        opioid_overlap_days=sum(1 for i in window if len(opioid_by_prescriber[i]) >= 2),
        prescribers_90=len(pres90), pharmacies_90=len(pharm90),
        prescribers_365=len(pres365), pharmacies_365=len(pharm365))
    report.factors = risk_factors(report)
    return report


def risk_factors(r: ClinicalReport) -> list[Factor]:
    """The transparent risk score: each factor, its value and its points (sum capped at 100).

    Weights follow the risks the CDC 2022 guideline and PDMP practice name: daily dose (50 and
    90 MME), an opioid with a benzodiazepine, several prescribers and pharmacies, and opioid
    prescriptions of different prescribers overlapping. Bands: < 30 low, 30–59 moderate,
    ≥ 60 high. Documented in ``docs/lookup.md``; validated in ``benchmarks/clinical_risk.py``.
    """
    cur, peak = r.current_mme, r.max_mme
    return [
        Factor("current_mme", round(cur, 1), 25 if cur >= 90 else 15 if cur >= 50 else 0,
               "≥ 50 MME/día: 15; ≥ 90: 25"),
        Factor("max_mme", round(peak, 1), 10 if peak >= 90 else 0, "máximo ≥ 90 MME/día: 10"),
        Factor("benzodiazepine_overlap_days", r.overlap_days,
               (20 if r.overlap_days else 0) + (5 if r.overlap_days >= 30 else 0),
               "≥ 1 día con opioide y benzodiacepina: 20; ≥ 30 días: 25"),
        Factor("prescribers_90d", r.prescribers_90, min(20, 5 * max(0, r.prescribers_90 - 2)),
               "5 por prescriptor después del 2.º (máx. 20)"),
        Factor("pharmacies_90d", r.pharmacies_90, min(15, 5 * max(0, r.pharmacies_90 - 2)),
               "5 por farmacia después de la 2.ª (máx. 15)"),
        Factor("opioid_overlap_days", r.opioid_overlap_days,
               10 if r.opioid_overlap_days >= 7 else 0,
               "≥ 7 días con opioides de dos prescriptores a la vez: 10"),
    ]
