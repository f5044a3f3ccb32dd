"""The new-user QA walkthrough of the public channel: yes/no leads that agree with the question,
the overdose answer said to the helper when someone else is in danger, Quechua for the emergency
and the basic questions, treatment and prescription gaps, and identity documents kept out of a
report's contact field (at intake and by ``redact-stored``)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from centinela.config import get_settings
from centinela.public.assistant import kb
from centinela.public.assistant import messages as msg
from centinela.public.assistant.engine import ask, red_flag_text
from centinela.public.assistant.polarity import BARE_LEAD, question_polarity
from centinela.public.directory import add_service
from centinela.public.intake import ReportError, ReportInput, redact_contact, submit
from centinela.public.matching import contact_key
from centinela.public.models import CitizenReport, ReportEvent
from centinela.public.reredact import FIELDS, redact_stored
from centinela.public.triage import row_json, triage

# ---------------------------------------------------------------- 1. yes/no leads


@pytest.mark.parametrize("question,lead", [
    ("¿Es delito vender parches de fentanilo de mi abuela que murió?", "Sí."),
    ("¿Es ilegal vender ampollas de fentanilo por WhatsApp?", "Sí."),
    ("¿Es legal vender fentanilo sin receta?", "No."),
    ("¿está permitido comprar ampollas por redes sociales?", "No."),
    ("Is selling opioids without a prescription illegal?", "Yes."),
    ("Is it legal to sell fentanyl without a prescription?", "No."),
])
def test_a_yes_no_lead_agrees_with_the_question(question, lead):
    a = ask(question)
    assert a.kind == "kb" and a.entry_id == "illegal_sale", (a.entry_id, a.answer)
    assert a.answer.startswith(lead + " "), a.answer
    assert "ilegal" in a.answer or "illegal" in a.answer  # the reason still follows


@pytest.mark.parametrize("question", [
    "¿Una farmacia puede vender morfina sin receta?",  # no legality word: polarity unknown
    "¿por qué es ilegal vender fentanilo sin receta?",  # not a yes/no question
    "¿no es delito vender fentanilo sin receta?",  # negated: "No" would be ambiguous
    "¿es legal o es delito vender fentanilo sin receta?",  # both
])
def test_no_bare_yes_or_no_when_the_polarity_cannot_be_known(question):
    a = ask(question)
    assert a.kind == "kb" and a.entry_id == "illegal_sale", a.entry_id
    assert not BARE_LEAD.match(a.answer), a.answer


def test_question_polarity_reads_the_predicate_not_a_relative_que():
    assert question_polarity("¿Es delito vender los parches de mi abuela que murió?",
                             "legal") is False
    assert question_polarity("vendí unos parches, ¿es legal?", "legal") is True
    assert question_polarity("¿qué pena tiene vender parches?", "legal") is None
    assert question_polarity("isn't it illegal to sell patches?", "legal") is None


def test_no_knowledge_base_answer_opens_with_a_bare_yes_or_no():
    for entry in kb.entries():
        for lang, text in entry.answer.items():
            assert not BARE_LEAD.match(text), (entry.id, lang)
    with pytest.raises(kb.KBError, match="bare yes/no"):
        kb._entry({"id": "x", "topic": "t", "title": {"es": "x"},
                   "answer": {"es": "No. Es ilegal.", "en": "No. It is illegal."},
                   "sources": [{"org": "MINSA", "title": "T"}]}, "f.json")
    with pytest.raises(kb.KBError, match="acts"):
        kb._entry({"id": "x", "topic": "t", "title": {"es": "x"},
                   "answer": {"es": "Es ilegal.", "en": "It is illegal."},
                   "yes_no": {"axis": "legal", "answer": "no"},
                   "sources": [{"org": "MINSA", "title": "T"}]}, "f.json")


# ---------------------------------------------------------------- 2. someone else's overdose


@pytest.mark.parametrize("message", [
    "mi pata está con los labios morados después de jalar, ¿le echo agua?",
    "el causa no reacciona después de meterse fenta, ¿lo meto a la ducha?",
    "mi hermano no respira bien, tiene la cara morada, ¿lo hago vomitar?",
])
def test_someone_elses_overdose_is_answered_to_the_helper_in_spanish(message):
    a = ask(message)
    assert a.kind == "red_flag" and a.red_flag == "overdose"
    text = a.answer
    for must in ("106", "116", "105", "naloxona", "respiración de rescate", "de costado",
                 "quédese con la persona", "agua fría", "vomitar"):
        assert must in text, must
    # said to the helper, not to the person in danger
    assert "usted no responde" not in text and "no maneje" not in text
    # the home remedy asked about is answered right after the numbers to call
    assert text.index("no sacan a nadie de una sobredosis") < text.index("Mientras llega")
    assert text.index("106") < text.index("no sacan a nadie")


@pytest.mark.parametrize("message", [
    "my friend's lips are blue after using, should I put him in a cold shower?",
    "my brother won't wake up after taking pills, should I make him throw up?",
])
def test_someone_elses_overdose_is_answered_to_the_helper_in_english(message):
    a = ask(message)
    assert a.kind == "red_flag" and a.red_flag == "overdose" and a.language == "en"
    for must in ("106", "116", "105", "naloxone", "rescue breaths", "recovery position",
                 "stay with them", "cold water", "vomit"):
        assert must in a.answer, must
    assert "you do not respond" not in a.answer and "do not drive" not in a.answer
    assert a.answer.index("do not bring anyone out of an overdose") < a.answer.index("Until")


def test_a_bystander_answer_without_a_remedy_question_still_lists_what_not_to_do():
    a = ask("mi hermano no respira")
    assert a.answer == msg.OVERDOSE_HELPER["es"].format(remedy="")
    assert "no la haga vomitar" in a.answer


@pytest.mark.parametrize("message,lang", [
    ("tomé fentanilo y me siento muy dormido", "es"),
    ("I took my oxy and I feel super sleepy", "en"),
    ("tomé doble dosis de tramadol porque mi tratamiento no funciona y tengo mucho sueño",
     "es"),
])
def test_first_person_overdose_replies_are_unchanged(message, lang):
    a = ask(message)
    assert a.kind == "red_flag" and a.answer == msg.OVERDOSE_SELF[lang]


def test_an_object_pronoun_for_the_patch_is_not_another_person():
    a = ask("me puse dos parches y tengo mucho sueño, ¿lo saco?")
    assert a.answer == msg.OVERDOSE_SELF["es"] + " " + msg.PATCH_OFF["es"]
    other = ask("no puedo despertarla, tomó pastillas")  # "-la" on a body verb is a person
    assert other.answer.startswith(msg.OVERDOSE_HELPER["es"].split("{remedy}")[0])


def test_quechua_bystander_and_every_channel_use_the_helper_answer(session, now):
    from centinela.public.citizen_messages import emergency_message
    from centinela.public.messaging import handle_sms

    qu = ask("wawqiy mana rikchanchu, yakuta hich'asaqchu?")
    assert qu.kind == "red_flag" and qu.language == "qu"
    assert qu.answer.startswith(msg.OVERDOSE_HELPER["qu"].split("{remedy}")[0])
    assert msg.REMEDY_FIRST["qu"] in qu.answer and qu.note == msg.QU_PENDING
    text = "mi pata está con los labios morados después de jalar, ¿le echo agua?"
    expected = red_flag_text("overdose", text, "es")
    assert emergency_message(text) == expected  # the report form
    assert handle_sms(session, "+51911222333", text, now) == expected  # SMS
    assert "{remedy}" not in expected


# ---------------------------------------------------------------- 3. Quechua


@pytest.mark.parametrize("question,entry_id,quechua", [
    ("Imataq fentanilo?", "fentanyl_what", "Fentanilo nisqaqa"),
    ("Fentanilo imataq?", "fentanyl_what", "Fentanilo nisqaqa"),
    ("Maypitaq yanapayta tarisaq?", "get_help", "Yanapayta munaspaqa"),
    ("Pitaq yanapawanman?", "get_help", "Yanapayta munaspaqa"),
    ("Imaynatataq sobredosista reqsiyman?", "overdose_signs", "Sobredosis unanchakuna"),
    ("Ima unanchakunataq sobredosispa?", "overdose_signs", "Sobredosis unanchakuna"),
    ("Hampikuy kanchu opioidekunapaq?", "treatment", "hampikunmi"),
])
def test_basic_questions_asked_in_quechua_are_answered_in_quechua(question, entry_id, quechua):
    a = ask(question)
    assert a.language == "qu" and a.kind == "kb" and a.entry_id == entry_id, a.entry_id
    assert quechua in a.answer and a.note == msg.QU_PENDING


def test_a_quechua_question_without_a_quechua_answer_says_so_in_quechua():
    a = ask("Imarayku fentanilo wañuchin?")
    assert a.language == "qu" and a.kind == "kb" and a.entry_id == "fentanyl_danger"
    assert a.answer.startswith(msg.QU_IN_SPANISH_HEAD)
    assert kb.by_id("fentanyl_danger").answer["es"] in a.answer  # the full Spanish answer
    assert a.answer.endswith(msg.QU_EMERGENCY_TAIL)
    assert all(n in msg.QU_EMERGENCY_TAIL for n in ("106", "116", "105", "113"))
    assert "castellano" in a.note and "Runasimipi" in a.note


def test_quechua_written_here_is_marked_as_not_reviewed_by_a_native_speaker():
    for entry_id in ("fentanyl_what", "treatment"):
        entry = kb.by_id(entry_id)
        assert entry.quechua_review == "pending"
        assert "not reviewed by a native speaker" in (entry.quechua_note or "")


@pytest.fixture
def client(engine, now, monkeypatch):
    from centinela.web.app import create_app

    monkeypatch.setenv("CENTINELA_PUBLIC_MIN_SUBMIT_SECONDS", "0")
    get_settings.cache_clear()
    app = create_app(engine)
    app.state.public_clock = lambda: now
    with TestClient(app) as c:
        yield c
    get_settings.cache_clear()


def test_the_chat_page_offers_quechua_answers(client):
    page = client.get("/asistente")
    assert '<option value="qu" lang="qu">Runasimi (quechua)</option>' in page.text
    assert "hablantes nativos" in page.text  # says the Quechua is not reviewed
    token = client.cookies.get("centinela_csrf")
    chat = client.post("/asistente/mensaje", data={"question": "¿qué es el fentanilo?",
                                                   "language": "qu"},
                       headers={"X-CSRF-Token": token})
    assert 'data-lang="qu"' in chat.text and "Fentanilo nisqaqa" in chat.text
    auto = client.post("/asistente/mensaje", data={"question": "¿qué es el fentanilo?",
                                                   "language": ""},
                       headers={"X-CSRF-Token": token})
    assert 'data-lang="es"' in auto.text


# ---------------------------------------------------------------- 4. assistant gaps


def test_quitting_methadone_in_a_place_finds_services(session, now):
    a = ask("¿hay centros para dejar la metadona en Piura?", session=session, now=now)
    assert a.kind == "locator" and a.services, a.answer
    assert a.services[0]["department"].upper() == "PIURA"
    assert "CSMC" in a.answer and "generales" in a.answer  # honest: no CSMC known there
    disposal = ask("¿dónde dejo los parches usados en Piura?", session=session, now=now)
    assert disposal.kind == "kb"  # leaving used patches somewhere is not quitting


def test_addiction_questions_list_mental_health_services_first(session, now):
    # CSMCs added by an admin before the locator's first use: the hospitals are seeded anyway
    for i, name in enumerate(("CSMC Castilla", "CSMC Piura Centro")):
        add_service(session, name=f"{name} Demo", ubigeo="200101", kind="csmc",
                    latitude=-5.19 - i / 100, longitude=-80.63, now=now)
    a = ask("necesito ayuda para dejar las drogas en Piura", session=session, now=now)
    kinds = [s["kind"] for s in a.services]
    assert kinds[:2] == ["csmc", "csmc"] and "hospital" in kinds[2:], kinds
    assert "centro de salud mental comunitario" in a.answer


@pytest.mark.parametrize("question,entry_id,lang", [
    ("¿me pueden recetar fentanilo?", "opioid_for_pain", "es"),
    ("¿me pueden recetar fentanilo para el dolor de espalda?", "opioid_for_pain", "es"),
    ("can my doctor give me fentanyl for my back?", "opioid_for_pain", "en"),
    ("¿el tramadol es igual que el fentanilo?", "opioid_comparison", "es"),
    ("is tramadol like fentanyl?", "opioid_comparison", "en"),
])
def test_prescription_and_comparison_questions_get_their_own_answer(question, entry_id, lang):
    a = ask(question)
    assert a.kind == "kb" and a.entry_id == entry_id and a.language == lang, (a.entry_id,
                                                                             a.language)


# ---------------------------------------------------------------- 5. the contact field


CONTACT = "yo mismo: Rosa, DNI 41234567, 999 888 777"


def test_identity_documents_never_reach_the_contact_field(session, now):
    report, _ = submit(session, ReportInput(kind="pills", ubigeo="150101",
                                            text="venden pastillas sin receta",
                                            contact=CONTACT), "web", now)
    assert "41234567" not in report.contact and "41234567" not in report.contact_key
    assert report.contact == "yo mismo: Rosa, DNI [DNI redactado], 999 888 777"  # phone kept
    rows = [row_json(r) for r in triage(session, now)]
    assert "41234567" not in json.dumps(rows) and "999 888 777" in json.dumps(rows)
    for contact, kept in (("CE 001234567 / ventas@botica.pe", "ventas@botica.pe"),
                          ("pasaporte AB123456 wsp 987654321", "987654321"),
                          ("RUC 10412345678 - 945 123 456", "945 123 456")):
        stored = redact_contact(contact)
        assert kept in stored and not any(d in stored for d in ("001234567", "AB123456",
                                                                 "10412345678"))
        assert redact_contact(stored) == stored  # idempotent
    assert redact_contact("DNI 41234567") is None  # nothing but a document: no contact
    with pytest.raises(ReportError) as err:
        submit(session, ReportInput(kind="pills", ubigeo="150101", contact="DNI 41234567"),
               "web", now)
    assert err.value.field == "text"


def test_redact_stored_removes_documents_from_old_contacts_once(session, now):
    old = CitizenReport(report_id="CR-2512-CONT01", code_hash="c" * 64, channel="web",
                        kind="pills", how="in_person", ubigeo="150101", department="15",
                        contact=CONTACT, contact_key=contact_key(CONTACT),
                        text="venden pastillas", status="received", priority=10.0,
                        created_at=now - dt.timedelta(days=3),
                        updated_at=now - dt.timedelta(days=3))
    session.add(old)
    session.add(ReportEvent(report_id=old.report_id, at=old.created_at, kind="created",
                            actor="reporter", to_status="received", public=True))
    session.commit()
    dry = redact_stored(session, apply=False, actor="t", now=now)
    assert dry.counts["contact_redacted"] == 1 and dry.ids["contact_redacted"] == [old.report_id]
    assert not dry.counts["contact_removed"] and not dry.counts["contact_added"]
    redact_stored(session, apply=True, actor="t", now=now)
    stored = session.scalar(select(CitizenReport).where(CitizenReport.report_id
                                                        == old.report_id))
    assert stored.contact == redact_contact(CONTACT) and "41234567" not in stored.contact_key
    assert stored.updated_at == now - dt.timedelta(days=3)
    again = redact_stored(session, apply=True, actor="t", now=now)
    assert {f: again.counts[f] for f in FIELDS} == {f: 0 for f in FIELDS}  # idempotent
