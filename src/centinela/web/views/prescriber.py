"""A prescriber's own history: what was dispensed under their licence, and "this wasn't me".

Stolen prescription pads and borrowed licences show first to the person whose name is used: a
prescriber who does not recognise a dispensation reports it, and that opens an alert for the
regulator (detector ``prescriber_disputed``).
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from centinela import audit
from centinela.accounts.models import User
from centinela.alerts.service import AlertDraft, upsert_alert
from centinela.ledger.records import Movement
from centinela.registry.models import Establishment, Product
from centinela.web.views.common import lima_iso

DAYS = 180
PER_PAGE = 25  # dispensations shown a page (the page stays short; the API pages too)


class MyDispensation(BaseModel):
    id: int
    occurred_at: str
    product_name: str
    quantity: float
    prescription_id: str | None
    establishment_id: str
    establishment_name: str | None
    patient_sex: str | None
    patient_birth_year: int | None
    disputed: bool


class MyPrescriptions(BaseModel):
    professional_id: str
    since: str
    total: int
    shown: int
    page: int = 1
    pages: int = 1
    first: int = 0
    by_pharmacy: list[dict]
    dispensations: list[MyDispensation]


class NotYours(LookupError):
    """The dispensation does not exist or was not made under this user's licence."""


def my_prescriptions(session: Session, user: User, now: dt.datetime,
                     page: int = 1) -> MyPrescriptions:
    """The last 180 days of dispensations under ``user.professional_id`` (newest first), one
    page of ``PER_PAGE`` at a time."""
    pid = user.professional_id or ""
    since = now - dt.timedelta(days=DAYS)
    where = (Movement.prescriber_id == pid, Movement.event_type == "dispense",
             Movement.occurred_at >= since, Movement.occurred_at <= now)
    total = session.scalar(select(func.count()).select_from(Movement).where(*where)) or 0
    pages = max(1, -(-total // PER_PAGE))
    page = min(max(1, page), pages)
    rows = session.execute(
        select(Movement, Product.name, Establishment.name)
        .join(Product, Product.product_code == Movement.product_code, isouter=True)
        .join(Establishment, Establishment.establishment_id == Movement.establishment_id,
              isouter=True)
        .where(*where).order_by(Movement.occurred_at.desc(), Movement.id.desc())
        .offset((page - 1) * PER_PAGE).limit(PER_PAGE)).all()
    disputed = _disputed(session, pid)
    items = [MyDispensation(
        id=m.id, occurred_at=lima_iso(m.occurred_at) or "", product_name=pname or m.product_code,
        quantity=m.quantity, prescription_id=m.prescription_id,
        establishment_id=m.establishment_id, establishment_name=ename,
        patient_sex=m.patient_sex, patient_birth_year=m.patient_birth_year,
        disputed=m.event_id in disputed) for m, pname, ename in rows]
    per = session.execute(
        select(Movement.establishment_id, Establishment.name, func.count())
        .join(Establishment, Establishment.establishment_id == Movement.establishment_id,
              isouter=True)
        .where(*where).group_by(Movement.establishment_id, Establishment.name)
        .order_by(func.count().desc())).all()
    return MyPrescriptions(
        professional_id=pid, since=since.date().isoformat(), total=total, shown=len(items),
        page=page, pages=pages, first=(page - 1) * PER_PAGE + 1 if items else 0,
        by_pharmacy=[{"establishment_id": e, "name": n, "dispensations": c} for e, n, c in per],
        dispensations=items)


def _disputed(session: Session, pid: str) -> set[str]:
    from centinela.alerts.models import Alert

    out: set[str] = set()
    for ev in session.scalars(select(Alert.evidence).where(
            Alert.detector == "prescriber_disputed", Alert.subject_id == pid)):
        out.update((ev or {}).get("event_ids", []))
    return out


def dispute(session: Session, user: User, movement_id: int, note: str,
            now: dt.datetime) -> str:
    """Report a dispensation the prescriber did not prescribe; return the alert id."""
    m = session.get(Movement, movement_id)
    if m is None or not user.professional_id or m.prescriber_id != user.professional_id:
        raise NotYours(movement_id)
    est = session.get(Establishment, m.establishment_id)
    product = session.get(Product, m.product_code)
    pname = product.name if product else m.product_code
    summary = (f"{user.professional_id} declara no haber prescrito la dispensación de "
               f"{m.quantity:g} × {pname} en {est.name if est else m.establishment_id} "
               f"({(lima_iso(m.occurred_at) or '')[:10]}, receta {m.prescription_id or '—'}): "
               "posible uso indebido de su colegiatura o de sus recetas.")
    draft = AlertDraft(
        detector="prescriber_disputed", subject_kind="professional",
        subject_id=user.professional_id, severity="high", score=80.0,
        window_start=m.occurred_at, window_end=m.occurred_at, summary=summary,
        evidence={"event_ids": [m.event_id], "establishment_id": m.establishment_id,
                  "product_code": m.product_code, "quantity": m.quantity,
                  "prescription_id": m.prescription_id, "reported_by": user.username,
                  "note": note.strip()[:500]},
        department=est.department if est else None, topics=["prescribing", "forgery"],
        ubigeo=est.ubigeo if est else None)
    alert, _ = upsert_alert(session, draft, now=now)
    audit.record(session, user.username, "prescriber.dispute", m.event_id,
                 reason=note.strip()[:200], details={"alert_id": alert.alert_id}, now=now)
    return alert.alert_id
