"""Routing to authorities by jurisdiction and topic; outbox rows; re-notification."""

from __future__ import annotations

import datetime as dt

from centinela.alerts.authorities import LIMA_DIRIS, add_channel, seed_authorities
from centinela.alerts.models import Authority, Delivery
from centinela.alerts.routing import enqueue_payload
from centinela.alerts.service import AlertDraft, upsert_alert

T = dt.datetime(2025, 6, 1, 12)


def _draft(**kw) -> AlertDraft:
    base = dict(detector="loss_report", subject_kind="establishment", subject_id="E1",
                severity="medium", score=50.0, window_start=T, window_end=T,
                summary="Prueba.", department="15", ubigeo="150132", topics=["theft_loss"])
    return AlertDraft(**(base | kw))


def test_seed_covers_every_department_and_lima_districts(session):
    seed_authorities(session)
    ids = {a.authority_id for a in session.query(Authority)}
    assert {"DIGEMID", "PNP-DIRANDRO", "PNP-DIVINDAT", "DIRIS-LC", "DIRIS-LE"} <= ids
    assert len([i for i in ids if i.startswith(("DIRESA-", "GERESA-"))]) == 25
    lima = [u for _, (_, ds) in LIMA_DIRIS.items() for u in ds]
    assert len(lima) == len(set(lima)) == 43  # every district of Lima province, once
    assert seed_authorities(session) == 0  # idempotent


def test_route_by_district_department_topic_and_severity(session):
    alert, _ = upsert_alert(session, _draft(), now=T)
    assert alert.routed_to == ["DIGEMID", "DIRIS-LE", "PNP-DIRANDRO"]  # San Juan de Lurigancho
    prov, _ = upsert_alert(session, _draft(subject_id="E2", ubigeo="150501", department="15",
                                           topics=["waste"], severity="low", score=20), now=T)
    assert prov.routed_to == ["DIGEMID", "DIRESA-15"]  # Cañete: outside Lima province
    cusco, _ = upsert_alert(session, _draft(subject_id="E3", ubigeo="080101", department="08",
                                            topics=["seizure_trace"], severity="critical",
                                            score=90), now=T)
    assert cusco.routed_to == ["DIGEMID", "DIRESA-08", "FISCALIA-TID", "PNP-DIRANDRO"]
    online, _ = upsert_alert(session, _draft(subject_id="E4", topics=["online"], ubigeo=None,
                                             department=None), now=T)
    assert online.routed_to == ["DIGEMID", "PNP-DIRANDRO", "PNP-DIVINDAT"]


def test_one_delivery_per_channel_and_renotify_when_severity_rises(session):
    alert, _ = upsert_alert(session, _draft(), now=T)
    first = session.query(Delivery).filter_by(alert_id=alert.alert_id).count()
    assert first == 3  # one outbox channel per routed authority
    upsert_alert(session, _draft(summary="Actualizada."), now=T)
    assert session.query(Delivery).filter_by(alert_id=alert.alert_id).count() == first
    upsert_alert(session, _draft(severity="high", score=70), now=T)
    rows = session.query(Delivery).filter_by(alert_id=alert.alert_id).all()
    assert len(rows) == 2 * first + 1  # re-notified, and now the prosecutors too (high theft)
    assert {d.payload["authority_id"] for d in rows if d.severity == "high"} >= {"FISCALIA-TID"}
    assert sorted({d.severity for d in rows}) == ["high", "medium"]
    assert all(d.status == "pending" and d.payload["alert_id"] == alert.alert_id for d in rows)


def test_overlapping_window_updates_the_same_alert(session):
    a, created = upsert_alert(session, _draft(window_end=T + dt.timedelta(days=3)), now=T)
    b, created2 = upsert_alert(session, _draft(window_end=T + dt.timedelta(days=9)), now=T)
    assert created and not created2 and a.alert_id == b.alert_id
    assert b.window_end == T + dt.timedelta(days=9)
    c, created3 = upsert_alert(session, _draft(window_start=T + dt.timedelta(days=30),
                                               window_end=T + dt.timedelta(days=31)), now=T)
    assert created3 and c.alert_id != a.alert_id


def test_enqueue_bulletin_once_per_channel(session):
    seed_authorities(session)
    add_channel(session, "DIGEMID", "webhook", "http://127.0.0.1:9/hook", secret="s3cret")
    payload = {"id": "BOL-2025-007", "title": "Boletín de alerta temprana 7", "summary": "Nitazeno."}
    rows = enqueue_payload(session, "bulletin", payload, ["early_warning"], "08", "high", now=T)
    assert {r.payload["authority_id"] for r in rows} == {"DIGEMID", "DIRESA-08"}
    assert len(rows) == 3  # DIGEMID outbox + webhook, DIRESA-08 outbox
    again = enqueue_payload(session, "bulletin", payload, ["early_warning"], "08", "high", now=T)
    assert again == []


def test_lima_metropolitana_and_callao_never_reach_diresa_lima(session):
    from tests.detect_factory import est

    est(session, "E-SJL", ubigeo="150132")
    est(session, "E-CALLAO", ubigeo="070101")
    # No district on the alert: its establishment's decides (San Juan de Lurigancho → DIRIS-LE).
    a, _ = upsert_alert(session, _draft(subject_id="E-SJL", ubigeo=None, department="15"), now=T)
    assert "DIRIS-LE" in a.routed_to and "DIRESA-15" not in a.routed_to
    b, _ = upsert_alert(session, _draft(subject_id="E-CALLAO", ubigeo=None, department="15"), now=T)
    assert "DIRESA-07" in b.routed_to and "DIRESA-15" not in b.routed_to
    # Lima department, district unknown and no establishment to ask: never assume provincias.
    c, _ = upsert_alert(session, _draft(subject_id="NOPE", ubigeo=None, department="15"), now=T)
    assert "DIRESA-15" not in c.routed_to and "DIGEMID" in c.routed_to


def test_an_alert_spanning_regions_reaches_every_regional_authority(session):
    from tests.detect_factory import est

    est(session, "E-CUS", ubigeo="080101")
    est(session, "E-AQP", ubigeo="040101")
    a, _ = upsert_alert(session, _draft(subject_id="PSN:x", subject_kind="patient", ubigeo="080101",
                                        department="08",
                                        evidence={"establishments": ["E-CUS", "E-AQP"]}), now=T)
    assert {"DIRESA-08", "GERESA-04"} <= set(a.routed_to)
