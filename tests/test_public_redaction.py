"""Redaction of citizens' free text: documents and phones go, ordinary words and numbers stay
(issue 12, problem 1). The sentence set in fixtures/public/redaction_es.jsonl was written for
this test only and is not used to tune anything else."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from centinela.privacy import redact
from centinela.public.intake import ReportInput, add_info, submit
from centinela.public.models import CitizenReport, ReportEvent
from centinela.public.redaction import LABELS, lead_phones, redact_text, scan

SET = Path(__file__).parent / "fixtures" / "public" / "redaction_es.jsonl"
ROWS = [json.loads(line) for line in SET.read_text(encoding="utf-8").splitlines() if line]


def _digits(s: str) -> str:
    return "".join(c for c in s if c.isdigit())


def test_set_is_large_and_mixed():
    assert len(ROWS) >= 100
    assert sum(1 for r in ROWS if r["secrets"]) >= 40
    assert sum(1 for r in ROWS if not r["secrets"]) >= 50


def test_every_document_removed_and_no_ordinary_word_altered():
    missed, altered = [], []
    for row in ROWS:
        out = redact_text(row["text"])
        for secret in row["secrets"]:
            if secret in out or (_digits(secret) and _digits(secret) in _digits(out)):
                missed.append((row["text"], secret))
        expected = row["text"]
        for secret in row["secrets"]:
            expected = expected.replace(secret, "\x00")
        actual = out
        for label in LABELS.values():
            actual = actual.replace(label, "\x00")
        if actual != expected:
            altered.append((row["text"], out))
    assert missed == []  # 100 % of documents removed
    assert altered == []  # 0 ordinary words (or non-document numbers) altered


@pytest.mark.parametrize("text", [
    "Venden pastillas azules en el cementerio del Cercado a los pasajeros",
    "Pasaron parches en el pasaje, cerca de la cevichería",
])
def test_prefix_words_survive_both_redactors(text):
    assert redact_text(text) == text
    assert redact(text) == text  # the shared redactor of logs and ingest messages too


def test_shared_redactor_keeps_typed_documents_out():
    assert "45678912" not in redact("patient_id DNI:45678912 rejected")
    assert "AB1234567" not in redact("PAS AB1234567")


def test_kinds_and_first_person():
    found = {f.kind: f for f in scan("mi DNI 45678912, CE 001234567, el vendedor: 987 654 321")}
    assert set(found) == {"dni", "ce", "phone"}
    assert found["dni"].own and not found["phone"].own
    assert lead_phones("llámame al 987654321") == []
    assert lead_phones("el dealer atiende al 912 345 678") == ["912345678"]


def test_report_stores_no_document_and_keeps_words(session, now):
    report, _ = submit(session, ReportInput(
        kind="pills", ubigeo="150101",
        text="Venden pastillas en el cementerio del Cercado a los pasajeros. Mi DNI es "
             "45678912 y mi celular 987 654 321"), "web", now)
    session.commit()
    stored = session.scalar(select(CitizenReport).where(
        CitizenReport.report_id == report.report_id))
    assert "45678912" not in stored.text and "987 654 321" not in stored.text
    assert "pastillas" in stored.text and "cementerio" in stored.text
    assert "pasajeros" in stored.text
    assert stored.contact is None  # the reporter's own phone is not a lead


def test_seller_phone_in_text_moves_to_contact(session, now):
    report, _ = submit(session, ReportInput(
        kind="online_offer", ubigeo="150101",
        text="por whatsapp venden fenta, el vendedor atiende al 912 345 678"), "web", now)
    assert "912 345 678" not in report.text and "[teléfono redactado]" in report.text
    assert report.contact == "912345678" and report.contact_key


def test_additions_are_redacted(session, now):
    report, _ = submit(session, ReportInput(kind="pills", ubigeo="150101", text="venden"),
                       "web", now)
    add_info(session, report, "mi dni: 70.123.456", None, now)
    session.commit()
    texts = [e.text for e in session.scalars(select(ReportEvent).where(
        ReportEvent.report_id == report.report_id))]
    assert not any("70.123.456" in (t or "") for t in texts)


def test_a_phone_spelled_out_in_words_is_redacted_and_a_sellers_kept_as_a_lead():
    own = redact_text("mi número es nueve ocho siete seis cinco cuatro tres dos uno")
    assert own == "mi número es [teléfono redactado]"
    seller = "el vendedor atiende al nueve, ocho, siete, seis, cinco, cuatro, tres, dos, uno"
    assert "[teléfono redactado]" in redact_text(seller)
    assert lead_phones(seller) == ["987654321"]
    # counting words in a sentence are not a phone
    plain = "compré dos cajas y tres ampollas, una de ellas rota, a las cinco"
    assert redact_text(plain) == plain
