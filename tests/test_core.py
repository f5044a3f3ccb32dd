"""Core seams: settings, ubigeo reference, pseudonyms, audit chain, alert upsert."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text, update

from centinela.alerts.payload import alert_json
from centinela.alerts.service import AlertDraft, upsert_alert
from centinela.audit import AuditEntry, record, verify
from centinela.config import Settings
from centinela.privacy import DocumentError, pseudonymize, redact
from centinela.reference import ubigeo


def test_ubigeo_reference_has_every_inei_district():
    ds = ubigeo.districts()
    assert len(ds) == 1891
    assert ds["150101"].district == "Lima"
    assert ubigeo.departments()["07"] == "Callao"  # INEI code, not RENIEC's 24
    assert sum(ubigeo.department_population().values()) == 34_350_244


def test_pseudonym_is_keyed_and_never_echoes_the_number():
    a = pseudonymize("DNI:12345678", key="k1")
    assert a.startswith("PSN:") and "12345678" not in a
    assert pseudonymize("DNI:12345678", key="k1") == a
    assert pseudonymize("DNI:12345678", key="k2") != a
    assert pseudonymize("PSN:abcdef123", key="k1") == "PSN:abcdef123"
    with pytest.raises(DocumentError) as err:
        pseudonymize("87654321", key="k1")
    assert "87654321" not in str(err.value)
    assert "44556677" not in redact("paciente DNI 44556677 llegó")


def test_production_refuses_development_secret():
    with pytest.raises(ValueError):
        Settings(environment="production")


def test_audit_chain_detects_tampering(session):
    for i in range(3):
        record(session, "ana", "patient.lookup", f"PSN:{i}", reason="test")
    session.commit()
    assert verify(session) == (True, None)
    if session.bind.dialect.name == "postgresql":  # an attacker with rights lifts the guard
        session.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
    session.execute(update(AuditEntry).where(AuditEntry.id == 2).values(actor="mallory"))
    session.commit()
    assert verify(session) == (False, 2)


def test_same_subject_detector_window_updates_one_alert(session):
    start, end = dt.datetime(2025, 1, 1), dt.datetime(2025, 3, 31)
    draft = AlertDraft("prescriber_volume", "professional", "CMP-000001", "high", 70.0, start,
                       end, "Volumen atípico.", {"observed": 10})
    a1, created1 = upsert_alert(session, draft)
    draft.score, draft.evidence = 80.0, {"observed": 12}
    a2, created2 = upsert_alert(session, draft)
    assert created1 and not created2 and a1.alert_id == a2.alert_id
    out = alert_json(a2)
    assert out["score"] == 80.0 and out["evidence"] == {"observed": 12}
    assert out["window_start"].endswith("-05:00")


def test_every_setting_is_documented():
    from pathlib import Path

    from centinela.config import settings_markdown

    doc = Path(__file__).resolve().parents[1] / "docs" / "settings.md"
    assert doc.read_text(encoding="utf-8") == settings_markdown(), (
        "docs/settings.md is stale: run `centinela settings --markdown > docs/settings.md`"
    )
