"""Which movements belong to an alert's or profile's subject, and who its peers are."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from centinela.ledger.records import Movement
from centinela.reference.ubigeo import department_population
from centinela.registry.models import Establishment, Professional
from centinela.web.views.common import (
    OUTFLOWS,
    Series,
    cached,
    median,
    month_labels,
    monthly_mme,
    series,
)

SUPPLY_KINDS = ("distributor", "importer", "manufacturer", "laboratory")


class Chart(BaseModel):
    """Subject against peers, monthly MME."""

    title: str
    unit: str
    subject: Series
    peers: Series | None
    peer_label: str
    extra: dict = {}


def subject_where(session: Session, kind: str, subject_id: str) -> list:
    """Return WHERE clauses for the movements of a subject."""
    if kind == "professional":
        prof = session.get(Professional, subject_id)
        if prof is not None and prof.role != "prescriber":
            return [Movement.professional_id == subject_id]
        return [Movement.prescriber_id == subject_id]
    if kind == "establishment":
        return [Movement.establishment_id == subject_id]
    if kind == "patient":
        return [Movement.patient_id == subject_id]
    if kind == "lot":
        return [Movement.lot == subject_id]
    if kind == "serial":
        return [Movement.serial == subject_id]
    if kind == "shipment":
        return [Movement.event_id == subject_id]
    if kind == "region":
        ests = select(Establishment.establishment_id).where(Establishment.department == subject_id)
        return [Movement.establishment_id.in_(ests)]
    return [Movement.id < 0]


def chart_for(session: Session, kind: str, subject_id: str, end: dt.datetime) -> Chart:
    """Return the monthly MME of the subject and the median of its peers for 12 months."""
    labels = month_labels(end)
    own = subject_where(session, kind, subject_id)
    if kind == "professional":
        prof = session.get(Professional, subject_id)
        col = Movement.prescriber_id if prof is None or prof.role == "prescriber" \
            else Movement.professional_id
        peers_q = select(Professional.professional_id).where(
            Professional.role == (prof.role if prof else "prescriber"))
        label = "peers.all_prescribers"
        if prof is not None and prof.specialty:
            peers_q = peers_q.where(Professional.specialty == prof.specialty)
            label = "peers.same_specialty"
        elif prof is not None and prof.department:
            peers_q = peers_q.where(Professional.department == prof.department)
            label = "peers.same_department"
        group = (prof.role if prof else "prescriber", label,
                 prof.specialty if prof else None, prof.department if prof else None)
        grouped = cached(session, ("professional", *group, tuple(labels)), lambda: monthly_mme(
            session, [col.in_(peers_q), Movement.event_type.in_(OUTFLOWS)], labels,
            group_by=col))
        return _vs_peers(grouped, subject_id, labels, label)
    if kind == "establishment":
        est = session.get(Establishment, subject_id)
        types = ("transfer_out", "export", *OUTFLOWS) if est and est.kind in SUPPLY_KINDS \
            else OUTFLOWS
        peers_q = select(Establishment.establishment_id)
        label = "peers.same_kind"
        if est is not None:
            peers_q = peers_q.where(Establishment.kind == est.kind,
                                    Establishment.department == est.department)
            label = "peers.same_kind_department"
        group = (est.kind, est.department) if est is not None else (None, None)
        grouped = cached(session, ("establishment", *group, tuple(labels)), lambda: monthly_mme(
            session, [Movement.establishment_id.in_(peers_q), Movement.event_type.in_(types)],
            labels, group_by=Movement.establishment_id))
        if est is None or subject_id not in grouped:
            own_months = cached(session, ("establishment-own", subject_id, tuple(labels)),
                                lambda: monthly_mme(session, [*own, Movement.event_type.in_(types)],
                                                    labels))
            grouped = {**grouped, subject_id: own_months.get(None, {})}
        return _vs_peers(grouped, subject_id, labels, label)
    if kind == "region":
        grouped = cached(session, ("region", tuple(labels)), lambda: monthly_mme(
            session, [Movement.event_type.in_(OUTFLOWS)], labels,
            group_by=Establishment.department, join_establishments=True))
        pop = department_population()
        per_cap = {d: {m: v * 100_000 / max(pop.get(d or "", 1), 1) for m, v in months.items()}
                   for d, months in grouped.items()}
        chart = _vs_peers(per_cap, subject_id, labels, "peers.departments")
        chart.unit = "mme_per_100k"
        return chart
    grouped = monthly_mme(session, own, labels)
    return Chart(title="chart.mme_monthly", unit="mme",
                 subject=series(subject_id, grouped.get(None), labels), peers=None,
                 peer_label="")


def _vs_peers(grouped: dict, subject_id: str, labels: list[str], label: str) -> Chart:
    others = [v for k, v in grouped.items() if k != subject_id]
    peer_median = {m: median([o[m] for o in others]) for m in labels}
    return Chart(title="chart.mme_monthly", unit="mme",
                 subject=series(subject_id, grouped.get(subject_id), labels),
                 peers=series("median", peer_median, labels) if others else None,
                 peer_label=label, extra={"peers": len(others)})
