"""``upsert_alerts`` (the real-time rules' batch) leaves exactly what ``upsert_alert`` one draft
at a time leaves: the same alerts, occurrences, suppressions, routing and outbox rows."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from sqlalchemy import select

from centinela.alerts.cases import act
from centinela.alerts.models import Alert, Delivery
from centinela.alerts.service import AlertDraft, upsert_alert, upsert_alerts
from centinela.registry.models import Establishment, Professional

T = dt.datetime(2025, 6, 1, 12)


def _draft(detector: str, kind: str, subject: str, day: int, score: float = 50.0,
           grouped: bool = True, **kw) -> AlertDraft:
    return AlertDraft(
        detector=detector, subject_kind=kind, subject_id=subject,
        severity="medium" if score < 65 else ("high" if score < 85 else "critical"), score=score,
        window_start=T + dt.timedelta(days=day), window_end=T + dt.timedelta(days=day + 2),
        summary=f"{detector} {subject} {day}", department=kw.pop("department", None),
        ubigeo=kw.pop("ubigeo", None), topics=kw.pop("topics", ["waste"]),
        evidence={"mme": kw.pop("mme", 100.0), "event_ids": [f"E{day}"]} | kw, grouped=grouped)


def _world(session) -> None:
    session.add_all([
        Establishment(establishment_id="EST-LIM", name="Lima", kind="hospital", sector="public",
                      ubigeo="150101", department="15", authorized_controlled=True),
        Establishment(establishment_id="EST-CUS", name="Cusco", kind="pharmacy",
                      sector="private", ubigeo="080101", department="08",
                      authorized_controlled=True),
        Professional(professional_id="CMP-1", role="prescriber", full_name="Dra. Uno",
                     establishment_id="EST-CUS"),
    ])
    session.flush()
    # Stored before the batch: an open alert, and a case closed as a false positive.
    upsert_alert(session, _draft("stock_gap", "establishment", "EST-LIM", 0), now=T)
    closed, _ = upsert_alert(session, _draft("waste_unwitnessed", "professional", "CEP-9", 0),
                             now=T)
    act(session, closed.alert_id, "close", "analista", outcome="false_positive", now=T)
    session.flush()


DRAFTS = [
    _draft("loss", "establishment", "EST-LIM", 30, score=90, topics=["loss"]),  # new, routed
    _draft("stock_gap", "establishment", "EST-LIM", 40, score=70),  # folds into the stored one
    _draft("waste_unwitnessed", "professional", "CEP-9", 40),  # suppressed by the closed case
    _draft("prescriber_volume", "professional", "CMP-1", 10, score=66, topics=["prescribing"]),
    _draft("patient_doctor_shopping", "patient", "PSN:abc", 5, department="15"),
    _draft("patient_doctor_shopping", "patient", "PSN:abc", 60, score=80, department="15"),
    _draft("transfer_not_received", "establishment", "EST-CUS", 3, score=70,
           counterparty_id="EST-LIM", topics=["diversion"]),
    _draft("records", "establishment", "EST-NONE", 7, grouped=False, department="08"),
    _draft("records", "establishment", "EST-NONE", 8, grouped=False, department="08"),
    _draft("records", "establishment", "EST-NONE", 20, grouped=False, department="08"),  # apart
    _draft("loss", "establishment", "EST-LIM", 31, score=95, topics=["loss"]),  # rises: re-routed
    _draft("loss", "establishment", "EST-LIM", 32, score=40, topics=["loss"]),  # lower: not
    replace(_draft("patient_doctor_shopping", "patient", "PSN:abc", 61, department="15"),
            variant="cash"),  # another variant: its own alert
]


def _state(session) -> list:
    alerts = [(a.alert_id, a.dedup_key, a.detector, a.subject_kind, a.subject_id, a.status,
               a.severity, a.score, a.window_start, a.window_end, a.summary, a.evidence,
               sorted(a.routed_to or []), a.topics, a.department, a.ubigeo, a.created_at,
               a.updated_at)
              for a in session.scalars(select(Alert).order_by(Alert.alert_id))]
    deliveries = [(d.alert_id, d.channel_id, d.severity, d.status, d.payload, d.ref)
                  for d in session.scalars(select(Delivery).order_by(Delivery.id))]
    return [alerts, deliveries]


def test_batch_leaves_what_one_by_one_leaves(session):
    _world(session)
    session.commit()
    now = T + dt.timedelta(days=70)
    one = [upsert_alert(session, d, now=now) for d in DRAFTS]
    want = _state(session)
    want_out = [(a.alert_id, created) for a, created in one]
    session.rollback()
    many = upsert_alerts(session, DRAFTS, now=now)
    got = _state(session)
    assert [(a.alert_id, created) for a, created in many] == want_out
    assert got == want
    # The cases the batch covers: created, folded, suppressed, grouped repeat, windows.
    assert [c for _a, c in many] == [True, False, False, True, True, False, True, True, False,
                                     True, False, False, True]
    assert len(got[1]) > 0 and len(got[0]) == 9
