"""Profiles: prescriber/professional, establishment, region, lot/serial chain of custody, patient.

Each profile shows facts, monthly volumes (MME) and open alerts. Patient profiles are audited;
other profiles never show patient pseudonyms.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from centinela import audit
from centinela.accounts.models import User
from centinela.accounts.policy import department_scope, may_see_department, may_see_patient
from centinela.alerts.models import Alert
from centinela.ledger.records import Movement, Seizure
from centinela.reference.ubigeo import department_population, departments
from centinela.registry.models import Establishment, Product, Professional
from centinela.web.views.alert import NotVisible
from centinela.web.views.common import (
    OUTFLOWS,
    AlertRow,
    MovementRow,
    Series,
    alert_row,
    department_name,
    month_labels,
    month_of,
    monthly_mme,
    movement_row,
    products,
    series,
)
from centinela.web.views.subjects import Chart, chart_for, subject_where
from centinela.web.views.usage import region_use

PROFILE_KINDS = ("professional", "establishment", "region", "lot", "serial", "patient")
RECENT = 50
TIMELINE = 500


class Fact(BaseModel):
    key: str
    value: str | None
    number: float | None = None  # a figure the page writes in the reader's style (fmt.py)
    digits: int = 0


class Ranked(BaseModel):
    id: str
    name: str
    value: float


class Profile(BaseModel):
    kind: str
    subject_id: str
    title: str
    department: str | None
    facts: list[Fact]
    chart: Chart
    volumes: list[Series]
    alerts: list[AlertRow]
    movements: list[MovementRow]
    movements_total: int
    top: list[Ranked]
    patient_level: bool


def _alerts(session: Session, kind: str, subject_id: str) -> list[AlertRow]:
    rows = session.scalars(select(Alert).where(
        Alert.subject_kind == kind, Alert.subject_id == subject_id, Alert.status != "closed",
    ).order_by(Alert.score.desc()).limit(50)).all()
    return [alert_row(a) for a in rows]


def _moves(session: Session, where: list, limit: int, show_patient: bool, oldest_first=False):
    prods = products(session)
    total = session.scalar(select(func.count()).select_from(Movement).where(*where)) or 0
    order = Movement.occurred_at.asc() if oldest_first else Movement.occurred_at.desc()
    rows = session.scalars(select(Movement).where(*where).order_by(order, Movement.id)
                           .limit(limit)).all()
    return [movement_row(m, prods, show_patient) for m in rows], total


def _fentanyl_mg(session: Session, where: list, now: dt.datetime) -> dict[str, float]:
    """Return month → mg of fentanyl in outflows matching ``where``."""
    labels = month_labels(now)
    month = month_of(session, Movement.occurred_at)
    rows = session.execute(
        select(month, func.sum(Movement.quantity * Product.strength_mg_per_unit))
        .join(Product, Product.product_code == Movement.product_code)
        .where(*where, Product.substance == "fentanyl", Movement.event_type.in_(OUTFLOWS),
               Movement.occurred_at >= dt.datetime(int(labels[0][:4]), int(labels[0][5:]), 1))
        .group_by(month)).all()
    return {m: float(v or 0) for m, v in rows}


def build_profile(session: Session, user: User, kind: str, subject_id: str,
                  now: dt.datetime) -> Profile:
    """Return the profile of a subject, or raise NotVisible when absent or out of reach."""
    if kind not in PROFILE_KINDS:
        raise NotVisible(kind)
    builder = {"professional": _professional, "establishment": _establishment,
               "region": _region, "lot": _chain, "serial": _chain, "patient": _patient}[kind]
    return builder(session, user, kind, subject_id, now)


def _volumes(session: Session, where: list, now: dt.datetime) -> list[Series]:
    labels = month_labels(now)
    mme = monthly_mme(session, [*where, Movement.event_type.in_(OUTFLOWS)], labels)
    return [series("mme", mme.get(None), labels),
            series("fentanyl_mg", _fentanyl_mg(session, where, now), labels)]


def _certification(session, professional_id: str, now) -> list[Fact]:
    """The professional's certification as of ``now``: its state, the certificate that counts
    (from the registry file or the certificates imported apart, ``certification.rule``) and
    its dates."""
    from centinela.certification.rule import periods_by_professional, standing, valid_period
    from centinela.config import get_settings
    from centinela.lib.clock import lima_day

    s = get_settings()
    periods = periods_by_professional(session, s.certification_valid_days,
                                      ids=[professional_id]).get(professional_id, [])
    day = lima_day(now)
    st = standing(periods, day, s.certification_reminder_days)
    counted = valid_period(periods, day) or (periods[-1] if periods else None)
    return [Fact(key="profile.certification_state", value=st.state),
            Fact(key="profile.certified_on",
                 value=st.certified_on.isoformat() if st.certified_on else None),
            Fact(key="profile.valid_until",
                 value=st.valid_until.isoformat() if st.valid_until else None),
            Fact(key="profile.certificate", value=counted.certificate_id if counted else None)]


def _professional(session, user, kind, subject_id, now) -> Profile:
    prof = session.get(Professional, subject_id)
    if prof is None or not may_see_department(user, prof.department):
        raise NotVisible(subject_id)
    where = subject_where(session, "professional", subject_id)
    moves, total = _moves(session, where, RECENT, False)
    est = session.get(Establishment, prof.establishment_id) if prof.establishment_id else None
    facts = [Fact(key="profile.role", value=prof.role),
             Fact(key="profile.specialty", value=prof.specialty),
             Fact(key="profile.establishment", value=f"{est.name} ({est.establishment_id})"
                  if est else prof.establishment_id),
             Fact(key="profile.department", value=department_name(prof.department)),
             *_certification(session, subject_id, now)]
    return Profile(kind=kind, subject_id=subject_id, title=prof.full_name,
                   department=prof.department, facts=facts,
                   chart=chart_for(session, "professional", subject_id, now),
                   volumes=_volumes(session, where, now),
                   alerts=_alerts(session, "professional", subject_id), movements=moves,
                   movements_total=total, top=[], patient_level=False)


def _establishment(session, user, kind, subject_id, now) -> Profile:
    est = session.get(Establishment, subject_id)
    if est is None or not may_see_department(user, est.department):
        raise NotVisible(subject_id)
    where = [Movement.establishment_id == subject_id]
    moves, total = _moves(session, where, RECENT, False)
    facts = [Fact(key="profile.kind", value=est.kind), Fact(key="profile.sector", value=est.sector),
             Fact(key="profile.ubigeo", value=est.ubigeo),
             Fact(key="profile.department", value=department_name(est.department)),
             Fact(key="profile.ruc", value=est.ruc),
             Fact(key="profile.authorized", value="sí" if est.authorized_controlled else "no"),
             Fact(key="profile.authorization_expires", value=est.authorization_expires.isoformat()
                  if est.authorization_expires else None)]
    since = now - dt.timedelta(days=365)
    top = session.execute(
        select(Movement.prescriber_id, func.sum(Movement.quantity))
        .where(*where, Movement.event_type == "dispense", Movement.prescriber_id.is_not(None),
               Movement.occurred_at >= since)
        .group_by(Movement.prescriber_id).order_by(func.sum(Movement.quantity).desc()).limit(10)
    ).all()
    names = _names(session, [t[0] for t in top])
    return Profile(kind=kind, subject_id=subject_id, title=est.name, department=est.department,
                   facts=facts, chart=chart_for(session, "establishment", subject_id, now),
                   volumes=_volumes(session, where, now),
                   alerts=_alerts(session, "establishment", subject_id), movements=moves,
                   movements_total=total,
                   top=[Ranked(id=p, name=names.get(p, p), value=float(q)) for p, q in top],
                   patient_level=False)


def _names(session: Session, ids: list[str]) -> dict[str, str]:
    if not ids:
        return {}
    return dict(session.execute(select(Professional.professional_id, Professional.full_name)
                                .where(Professional.professional_id.in_(ids))).all())


def _region(session, user, kind, subject_id, now) -> Profile:
    if subject_id not in departments() or not may_see_department(user, subject_id):
        raise NotVisible(subject_id)
    ests = select(Establishment.establishment_id).where(Establishment.department == subject_id)
    where = [Movement.establishment_id.in_(ests)]
    pop = department_population().get(subject_id, 0)
    vols = _volumes(session, where, now)
    # The same function (and window) as the map, so both pages show one number per region.
    use = region_use(session, subject_id, now)
    mg = use.mg
    n_est = session.scalar(select(func.count()).select_from(Establishment)
                           .where(Establishment.department == subject_id)) or 0
    n_prof = session.scalar(select(func.count()).select_from(Professional)
                            .where(Professional.department == subject_id)) or 0
    open_alerts = session.scalars(select(Alert).where(
        Alert.department == subject_id, Alert.status != "closed",
        Alert.subject_kind != "patient" if user.role == "police" else Alert.id > 0,
    ).order_by(Alert.score.desc()).limit(50)).all()
    since = now - dt.timedelta(days=365)
    top = session.execute(
        select(Movement.establishment_id, func.sum(Movement.quantity))
        .where(*where, Movement.event_type.in_(OUTFLOWS), Movement.occurred_at >= since)
        .group_by(Movement.establishment_id).order_by(func.sum(Movement.quantity).desc())
        .limit(10)).all()
    est_names = dict(session.execute(select(Establishment.establishment_id, Establishment.name)
                                     .where(Establishment.establishment_id.in_(
                                         [t[0] for t in top] or [""]))).all())
    rate = use.per_100k
    facts = [Fact(key="profile.population", value=f"{pop:,}", number=pop),
             Fact(key="profile.establishments", value=str(n_est), number=n_est),
             Fact(key="profile.professionals", value=str(n_prof), number=n_prof),
             Fact(key="profile.fentanyl_mg_12m", value=f"{mg:,.1f}", number=mg, digits=1),
             Fact(key="profile.fentanyl_mg_per_100k",
                  value=f"{rate:,.2f}" if rate is not None else None,
                  number=round(rate, 2) if rate is not None else None, digits=2)]
    return Profile(kind=kind, subject_id=subject_id, title=departments()[subject_id],
                   department=subject_id, facts=facts,
                   chart=chart_for(session, "region", subject_id, now), volumes=vols,
                   alerts=[alert_row(a, hide=user.role == "police") for a in open_alerts],
                   movements=[], movements_total=0,
                   top=[Ranked(id=e, name=est_names.get(e, e), value=float(q)) for e, q in top],
                   patient_level=False)


def _chain(session, user, kind, subject_id, now) -> Profile:
    where = subject_where(session, kind, subject_id)
    scope = department_scope(user)
    if scope is not None:
        ests = select(Establishment.establishment_id).where(Establishment.department.in_(scope))
        where.append(Movement.establishment_id.in_(ests))
    timeline, total = _moves(session, where, TIMELINE, False, oldest_first=True)
    if not timeline:
        return _unrecorded_chain(session, user, kind, subject_id, now)
    holders = list(dict.fromkeys(m.establishment_id for m in timeline))
    first, last = timeline[0], timeline[-1]
    facts = [Fact(key="profile.product", value=f"{first.product_name} ({first.product_code})"),
             Fact(key="profile.first_seen", value=first.occurred_at),
             Fact(key="profile.last_seen", value=last.occurred_at),
             Fact(key="profile.last_event", value=f"{last.event_type} @ {last.establishment_id}"),
             Fact(key="profile.holders", value=" → ".join(holders[:20]))]
    return Profile(kind=kind, subject_id=subject_id, title=subject_id, department=None,
                   facts=facts, chart=chart_for(session, kind, subject_id, now), volumes=[],
                   alerts=_alerts(session, kind, subject_id), movements=timeline,
                   movements_total=total, top=[], patient_level=False)


def _unrecorded_chain(session, user, kind, subject_id, now) -> Profile:
    """A lot or serial seen only in seizures: alerts link here, so show what is known."""
    alerts = [a for a in session.scalars(select(Alert).where(
        Alert.subject_kind == kind, Alert.subject_id == subject_id, Alert.status != "closed",
    ).order_by(Alert.score.desc()).limit(50)) if may_see_department(user, a.department)]
    column = Seizure.serial if kind == "serial" else Seizure.lot
    seizures = [s for s in session.scalars(select(Seizure).where(column == subject_id)
                                           .order_by(Seizure.occurred_at))
                if may_see_department(user, (s.ubigeo or "")[:2])]
    if not alerts and not seizures:
        raise NotVisible(subject_id)
    facts = [Fact(key="profile.movements_recorded", value="0")]
    if seizures:
        facts += [Fact(key="profile.seized", value="; ".join(
            f"{s.seizure_id} ({s.occurred_at:%Y-%m-%d}, {s.agency})" for s in seizures[:20]))]
    return Profile(kind=kind, subject_id=subject_id, title=subject_id, department=None,
                   facts=facts, chart=chart_for(session, kind, subject_id, now), volumes=[],
                   alerts=[alert_row(a) for a in alerts], movements=[], movements_total=0,
                   top=[], patient_level=False)


def _patient(session, user, kind, subject_id, now) -> Profile:
    if not subject_id.startswith("PSN:") or not may_see_patient(session, user, subject_id, now):
        raise NotVisible(subject_id)
    where = [Movement.patient_id == subject_id]
    scope = department_scope(user)
    if scope is not None:
        ests = select(Establishment.establishment_id).where(Establishment.department.in_(scope))
        where.append(Movement.establishment_id.in_(ests))
    moves, total = _moves(session, where, RECENT, True)
    if not total:
        raise NotVisible(subject_id)
    latest = session.scalar(select(Movement).where(*where)
                            .order_by(Movement.occurred_at.desc()).limit(1))
    facts = [Fact(key="profile.sex", value=latest.patient_sex if latest else None),
             Fact(key="profile.birth_year", value=str(latest.patient_birth_year)
                  if latest and latest.patient_birth_year else None),
             Fact(key="profile.department", value=department_name(
                 (latest.patient_ubigeo or "")[:2]) if latest else None)]
    reason = "patient profile"
    if user.role == "police":
        from centinela.accounts.access import active_grant

        grant = active_grant(session, user, subject_id, now)
        reason = f"case {grant.case_number}: {grant.reason}" if grant else reason
    audit.record(session, user.username, "patient.profile", subject_id, reason=reason,
                 details={"role": user.role, "movements": total}, now=now)
    return Profile(kind=kind, subject_id=subject_id, title=subject_id, department=None,
                   facts=facts, chart=chart_for(session, "patient", subject_id, now),
                   volumes=_volumes(session, where, now),
                   alerts=_alerts(session, "patient", subject_id), movements=moves,
                   movements_total=total, top=[], patient_level=True)
