"""Case workflow: transitions, refusals, audit trail, precision per detector, CLI."""

from __future__ import annotations

import datetime as dt

import pytest
from typer.testing import CliRunner

from centinela import audit
from centinela.alerts.cases import CaseError, act, history, precision_by_detector
from centinela.alerts.service import AlertDraft, upsert_alert
from centinela.cli import app

T = dt.datetime(2025, 6, 1, 12)


def _alert(session, detector="loss_report", subject="E1"):
    alert, _ = upsert_alert(session, AlertDraft(
        detector=detector, subject_kind="establishment", subject_id=subject, severity="high",
        score=70, window_start=T, window_end=T, summary="Prueba.", department="15"), now=T)
    return alert


def test_full_workflow_is_recorded_and_audited(session):
    a = _alert(session)
    act(session, a.alert_id, "triage", "ana", note="Revisar libro de control", now=T)
    act(session, a.alert_id, "schedule-audit", "ana", note="Inspección el 10/06", now=T)
    act(session, a.alert_id, "close", "luis", outcome="confirmed", note="Faltante verificado", now=T)
    assert a.status == "closed" and a.outcome == "confirmed"
    steps = [(e.action, e.from_status, e.to_status) for e in history(session, a.alert_id)]
    assert steps == [("triage", "new", "triaged"), ("schedule_audit", "triaged", "audit_scheduled"),
                     ("close", "audit_scheduled", "closed")]
    ok, bad = audit.verify(session)
    assert ok and bad is None
    from centinela.audit import AuditEntry

    assert session.query(AuditEntry).filter(AuditEntry.action.like("case.%")).count() == 3


def test_invalid_transitions_are_refused_clearly(session):
    a = _alert(session)
    with pytest.raises(CaseError, match="outcome"):
        act(session, a.alert_id, "close", "ana")
    act(session, a.alert_id, "close", "ana", outcome="false_positive")
    with pytest.raises(CaseError, match="closed"):
        act(session, a.alert_id, "triage", "ana")
    with pytest.raises(CaseError, match="no existe"):
        act(session, "ALR-NOPE", "triage", "ana")
    with pytest.raises(CaseError, match="unknown action"):
        act(session, a.alert_id, "explode", "ana")
    act(session, a.alert_id, "reopen", "jefe", note="Nueva evidencia")
    assert a.status == "triaged" and a.outcome is None


def test_precision_by_detector_from_closed_outcomes(session):
    outcomes = ["confirmed", "confirmed", "false_positive", "justified"]
    for i, o in enumerate(outcomes):
        a = _alert(session, subject=f"E{i}")
        act(session, a.alert_id, "close", "ana", outcome=o)
    b = _alert(session, detector="waste_share", subject="N1")
    act(session, b.alert_id, "triage", "ana")
    rows = {p.detector: p for p in precision_by_detector(session)}
    assert set(rows) == {"loss_report"}
    p = rows["loss_report"]
    assert (p.closed, p.confirmed, p.false_positive, p.justified) == (4, 2, 1, 1)
    assert p.precision == 0.5


def test_case_cli(session, db_url):
    a = _alert(session)
    session.commit()
    runner = CliRunner()
    res = runner.invoke(app, ["case", a.alert_id, "triage", "--note", "ok", "--actor", "ana"])
    assert res.exit_code == 0 and "new → triaged" in res.output
    res = runner.invoke(app, ["case", a.alert_id, "close"])
    assert res.exit_code == 2 and "outcome" in res.output
    res = runner.invoke(app, ["case", a.alert_id, "close", "--outcome", "justified"])
    assert res.exit_code == 0 and "(justified)" in res.output
    res = runner.invoke(app, ["precision"])
    assert "loss_report" in res.output and "0 %" in res.output


def test_a_document_number_typed_into_a_note_or_an_access_reason_is_never_stored(session):
    """Staff free text (case notes, case-file notes, police access reasons) keeps its words and
    phones but not a patient's document number: stored and audited redacted."""
    from centinela.accounts.access import request_access
    from centinela.accounts.models import User
    from centinela.audit import AuditEntry

    a = _alert(session)
    ev = act(session, a.alert_id, "note", "ana", now=T,
             note="Llamé a la paciente DNI 74125896, cel 912 345 678; confirma la receta.")
    assert "74125896" not in ev.note and "DNI:[redactado]" in ev.note
    assert "912 345 678" in ev.note and "confirma la receta" in ev.note
    for typed in ("paciente con documento 45781236 acudió", "D.N.I. N° 45781236",
                  "pasaporte AB1234567", "DNI nº 45781236"):
        ev = act(session, a.alert_id, "note", "ana", now=T, note=typed)
        assert "45781236" not in ev.note and "AB1234567" not in ev.note, ev.note
    police = User(username="poli", role="police", password_hash="x", created_at=T)
    session.add(police)
    session.flush()
    req = request_access(session, police, "FISC-2025-001",
                         "la paciente DNI 45678912 declaró ante fiscal", "DNI:45678912", now=T)
    assert "45678912" not in req.reason and "declaró ante fiscal" in req.reason
    session.flush()
    stored = " ".join(str(e.reason) + str(e.details) for e in session.query(AuditEntry))
    assert "74125896" not in stored and "45678912" not in stored


def test_attachment_names_keep_their_words_and_lose_their_paths():
    """'Acta de inspección Nº 12 – Cusco.pdf' was stored as 'Acta de inspección N_ 12 _ Cusco.pdf';
    folders, quotes and control characters still go."""
    from centinela.alerts.casefiles import clean_filename

    assert clean_filename("Acta de inspección Nº 12 – Cusco.pdf") == \
        "Acta de inspección Nº 12 – Cusco.pdf"
    assert clean_filename("Ñandú (copia).pdf") == "Ñandú (copia).pdf"
    assert clean_filename("../../etc/passwd") == "passwd"
    assert clean_filename('a"b<c>\x00.pdf') == "a_b_c_.pdf"
    assert clean_filename("x/y\\z.pdf") == "z.pdf"


def test_a_case_title_is_cut_between_words_never_inside_one():
    from centinela.alerts.casefiles import TITLE_MAX, case_title

    short = "Pérdida de 12 ampollas de fentanilo en EST-0001"
    assert case_title(short) == short
    words = "Compras que superan el uso en la farmacia EST-0004411 durante 2025: " * 6
    got = case_title(words)
    assert len(got) <= TITLE_MAX and got.endswith("…")
    assert words.startswith(got[:-1]) and words[len(got) - 1] == " "  # a whole word before it
    number = "x" * 190 + " 1234567890123"
    assert case_title(number) == "x" * 190 + "…"  # the number is not cut in two
