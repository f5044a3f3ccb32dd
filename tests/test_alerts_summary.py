"""The data contract's alert summary is one sentence in Spanish (``alerts.service.one_sentence``)."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from centinela.alerts.service import AlertDraft, one_sentence, upsert_alert

# A second sentence: a period, a space, then a capital letter or an opening mark.
SECOND_SENTENCE = re.compile(r"\.\s+[¿¡(«\"A-ZÁÉÍÓÚÑ]")


@pytest.mark.parametrize(("text", "expected"), [
    ("EST-0014284 acumuló 5 705.70 mg (14.7 meses de su uso). Verificar las existencias.",
     "EST-0014284 acumuló 5 705.70 mg (14.7 meses de su uso); verificar las existencias."),
    ("Huancayo: 8.0 veces lo esperado. Un solo establecimiento: la pista es EST-0008459.",
     "Huancayo: 8.0 veces lo esperado; un solo establecimiento: la pista es EST-0008459."),
    ("Aumento en Lima. DIGEMID debe verificar. Lima concentra el 90 %.",
     "Aumento en Lima; DIGEMID debe verificar; Lima concentra el 90 %."),
    ("Una sola frase con 0.5 ampollas y 3.6 veces.", "Una sola frase con 0.5 ampollas y 3.6 veces."),
])
def test_one_sentence_joins_sentences_and_keeps_ids_and_numbers(text, expected):
    assert one_sentence(text) == expected
    assert not SECOND_SENTENCE.search(one_sentence(text))


def test_a_stored_alert_summary_is_one_sentence(session):
    t = dt.datetime(2026, 3, 1)
    alert, _ = upsert_alert(session, AlertDraft(
        detector="suspicious_order", subject_kind="establishment", subject_id="EST-1",
        severity="high", score=70.0, window_start=t, window_end=t,
        summary="EST-1 acumuló 10 meses de uso. Verificar las existencias físicas.",
        grouped=True))
    assert alert.summary == "EST-1 acumuló 10 meses de uso; verificar las existencias físicas."
