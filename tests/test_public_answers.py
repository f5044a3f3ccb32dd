"""Issue 12, problems 3 and 4 (content) and 5 (places): the most important entry wins, street
names, treatment intent goes to the service finder, Law 32250 tiers by quantity, new synthetic
opioids, found syringes are not emergencies, and place names that are also words."""

from __future__ import annotations

import pytest

from centinela.ews.tiers import tier_for_mass
from centinela.public.assistant.engine import ask
from centinela.public.assistant.legal import quantity_mg
from centinela.public.places import find_place


@pytest.mark.parametrize("question", [
    "sintomas de una sobredosis de opioides", "síntomas de sobredosis por fentanilo",
    "how can i tell if someone is overdosing on opioids", "señales de intoxicacion por opioides",
])
def test_overdose_signs_always_win_over_withdrawal(question):
    assert ask(question).entry_id == "overdose_signs"


def test_withdrawal_still_answers_withdrawal():
    assert ask("sintomas de abstinencia al dejar los opioides").entry_id == "withdrawal"


@pytest.mark.parametrize("question, entry", [
    ("que son las pastillas M30 azules", "street_pills_m30"),
    ("what are blue M30 pills", "street_pills_m30"),
    ("que son los blues", "street_pills_m30"),
    ("que es el carfentanilo", "carfentanil"),
    ("los nitazenos son peores que el fentanilo?", "nitazenes"),
    ("que es la xilacina", "xylazine"),
    ("para que sirven las tiras reactivas de fentanilo", "test_strips"),
    ("como desecho un parche de fentanilo usado", "patch_ampoule_disposal"),
    ("donde consigo un abogado gratis", "legal_aid"),
])
def test_new_knowledge(question, entry):
    answer = ask(question)
    assert answer.kind == "kb" and answer.entry_id == entry


@pytest.mark.parametrize("question, mg", [
    ("qué pena hay por vender un miligramo", 1.0), ("me detuvieron con 5 mg", 5.0),
    ("cuantos años de carcel dan por 2 mg de fentanilo", 2.0),
    ("i was arrested with half a gram", 500.0),
])
def test_penalties_by_quantity_come_from_the_tier_function(question, mg):
    assert quantity_mg(question) == mg
    answer = ask(question)
    assert answer.kind == "legal"  # never a dose refusal
    years = "–".join(str(y) for y in tier_for_mass(mg)["penalty_years"])
    assert years in answer.answer
    assert "asesoría legal" in answer.answer or "legal advice" in answer.answer
    assert "ALEGRA" in answer.answer


def test_dose_questions_are_still_refused():
    assert ask("cuantos mg de tramadol puedo tomar").kind == "dose_refusal"


@pytest.mark.parametrize("question", [
    "encontré una jeringa en la calle, qué hago", "hay una jeringa tirada en la calle",
    "encontre ampollas tiradas en el parque",
])
def test_found_syringe_is_not_an_emergency(question):
    answer = ask(question)
    assert answer.kind == "kb" and answer.entry_id == "found_syringe"
    assert "No es una emergencia" in answer.answer


def test_treatment_intent_goes_to_the_service_finder(session, now):
    answer = ask("centros de ayuda para adicciones en Arequipa", session=session, now=now)
    assert answer.kind == "locator" and answer.services
    assert answer.services[0]["department"] == "AREQUIPA" or "Arequipa" in answer.answer
    assert "CSMC" in answer.answer  # says honestly that it knows no CSMC nearby
    lima = ask("donde hay rehabilitacion en Santa Anita, Lima", session=session, now=now)
    assert any("VALDIZAN" in s["name"] for s in lima.services)
    bare = ask("donde puedo recibir tratamiento", session=session, now=now)
    assert bare.kind == "locator" and "distrito" in bare.answer and not bare.services
    en = ask("where can i get addiction treatment in Cusco", session=session, now=now)
    assert en.kind == "locator" and en.services


@pytest.mark.parametrize("text, expected", [
    ("llama al 945 123 456 para pedir", None),
    ("Llama al 945123456", None),
    ("quedate callao al toque", None),
    ("me tomé un puno de pastillas", None),
    ("me llama a cada rato", None),
    ("hospital cerca de Llama", "060411"),
    ("venden en el Callao", "070101"),
    ("Callao", "070101"),
    ("csmc en Puno", "210101"),
    ("puno", "210101"),
])
def test_place_finder_ignores_words_that_are_also_places(text, expected):
    assert find_place(text) == expected


def test_second_evaluation_set_is_apart_and_holds_its_floor():
    from centinela.public.assistant.kb import entries
    from centinela.public.evaluation import load_jsonl

    rows = load_jsonl("questions_v2.jsonl")
    assert len(rows) >= 150
    kb_questions = {q.strip().lower() for e in entries() for q in e.questions}
    assert not [r["q"] for r in rows if r["q"].strip().lower() in kb_questions]
    ids = {e.id for e in entries()}
    kb_rows = [r for r in rows if not r["expected"].startswith("@")]
    assert all(r["expected"] in ids for r in kb_rows)
    from centinela.public.assistant.retrieval import default_index

    index = default_index()
    top1 = sum(index.search(r["q"], k=1)[0][0].entry.id == r["expected"] for r in kb_rows)
    assert top1 / len(kb_rows) >= 0.85  # published figure: 86.7 %
