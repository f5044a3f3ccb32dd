"""``centinela report redact-stored``: reports stored before the redactor's fix are redacted
again with the current storing logic — personal data gone, the seller's lead kept, alert copies
too, audited, a dry run that writes nothing else, a second run that changes nothing, and text
that was already clean left byte for byte. Rows are inserted directly, as the old code left
them (real SQLite, or PostgreSQL with CENTINELA_TEST_DATABASE_URL)."""

from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata

import pytest
from sqlalchemy import select, text
from typer.testing import CliRunner

from centinela.alerts.models import Alert, Authority, Channel, Delivery
from centinela.audit import AuditEntry, verify
from centinela.cli import app
from centinela.db import Base
from centinela.public.escalation import escalate
from centinela.public.matching import contact_key
from centinela.public.models import CitizenReport, ReportEvent
from centinela.public.redaction import LABELS, redact_text
from centinela.public.reredact import ACTION, FIELDS, redact_stored
from centinela.registry.models import Establishment

from .test_public_redaction import ROWS

# What the old code let through (never to be printed, audited or kept).
REPORTER_PHONE = "987 654 321"
BYSTANDER_PHONE = "912 345 678"
BYSTANDER_NAME = "Rosa Quispe"
REPORTER_DNI = "45678912"
SECRETS = ("987654321", "912345678", BYSTANDER_NAME, REPORTER_DNI, "Quispe")
SELLER_PHONE = "945123456"  # kept as a lead: the words tie it to the seller
NEW_LEAD = "956789012"  # the seller's number in a text whose report had no lead
LATER_LEAD = "987111222"  # the seller's number given in an addition

CLEAN_TEXT = unicodedata.normalize(  # already redacted, and stored decomposed (NFD)
    "NFD", "Venden parches de 25 a S/ 120 en la Av. Grau 345 (Piura); su número era "
           "[teléfono redactado] y el DNI del cliente [DNI redactado]. Código de rastreo "
           "912345670, boleta 001-0045.")
CLEAN_NAME = unicodedata.normalize("NFD", "Botica Virgen de Fátima [teléfono redactado]")
OLD_NAME = f"Botica Sol (mi vecina {BYSTANDER_NAME} {BYSTANDER_PHONE} vio todo)"


def _report(session, now, n: int, *, text: str, contact: str | None = None,
            name: str | None = None, kind: str = "pills") -> CitizenReport:
    """A report row exactly as the old intake could have stored it."""
    r = CitizenReport(report_id=f"CR-2512-OLD00{n}", code_hash=f"{n:064d}", channel="web",
                      kind=kind, how="in_person", ubigeo="150101", department="15",
                      establishment_name=name, contact=contact, contact_key=contact_key(contact),
                      text=text, status="received", priority=10.0,
                      created_at=now - dt.timedelta(days=n), updated_at=now - dt.timedelta(days=n))
    session.add(r)
    session.flush()
    session.add(ReportEvent(report_id=r.report_id, at=r.created_at, kind="created",
                            actor="reporter", to_status="received", public=True))
    return r


def _add(session, report: CitizenReport, text: str) -> None:
    session.add(ReportEvent(report_id=report.report_id, at=report.created_at
                            + dt.timedelta(hours=1), kind="info", actor="reporter", text=text,
                            public=True))


@pytest.fixture
def old_rows(session, now):
    """Five reports as the old code stored them, one alert escalated from them with its outbox
    delivery (the alert copies the unredacted establishment name, as the old code did)."""
    session.add(Authority(authority_id="DIGEMID", name="DIGEMID", kind="regulator",
                          departments=[], topics=[], min_severity="low", active=True))
    session.add(Channel(authority_id="DIGEMID", kind="outbox", target="", enabled=True))
    # 1. The reporter's own phone left in the text and taken as the seller's lead.
    _report(session, now, 1, contact="987654321", kind="fentanyl_no_rx",
            text="Venden ampollas de fentanilo sin receta en el mercado. Si necesitan más datos "
                 f"llámenme al {REPORTER_PHONE}, es mío.")
    # 2. The seller's lead (kept) and a bystander's name and phone in the establishment name.
    session.add(Establishment(establishment_id="EST-0000001", name="Botica Sol S.A.C.",
                              kind="drugstore", sector="private", ubigeo="150101",
                              department="15", authorized_controlled=False))
    two = _report(session, now, 2, contact=SELLER_PHONE, name=OLD_NAME,
                  kind="suspicious_pharmacy",
                  text="El que vende las pastillas atiende en la Botica Sol, su wsp 945 123 456.")
    two.establishment_id, two.link_score = "EST-0000001", 0.9  # the alert names the place
    # 3. No lead stored; the text ties a number to the seller (the current rules keep it).
    _report(session, now, 3, text="Para pedidos de fenta escriben al 956 789 012, el vendedor "
                                  "se llama Pepe.")
    # 4. Already clean (labels of an earlier pass, kept numbers), stored as NFD: left alone.
    _report(session, now, 4, contact="@fenta_lima", name=CLEAN_NAME, text=CLEAN_TEXT)
    # 5. A bystander's phone as the lead; an addition with the reporter's DNI and the seller's
    #    number (which becomes the lead, as add_info does today).
    five = _report(session, now, 5, contact="912345678",
                   text=f"La vecina que vio todo tiene el {BYSTANDER_PHONE}, ella les puede "
                        "contar.")
    _add(session, five, f"El vendedor me pasó su número: 987 111 222. Mi DNI es {REPORTER_DNI}.")
    _add(session, five, "Sigue vendiendo los sábados por la tarde.")  # clean: unchanged
    session.flush()
    escalate(session, two, now)
    session.commit()
    assert two.alert_id
    alert = session.scalar(select(Alert).where(Alert.alert_id == two.alert_id))
    assert OLD_NAME in alert.summary and alert.evidence["establishment_names"] == [OLD_NAME]
    delivery = session.scalar(select(Delivery).where(Delivery.alert_id == two.alert_id))
    assert delivery is not None and OLD_NAME in json.dumps(delivery.payload, ensure_ascii=False)
    return {"alert_id": two.alert_id, "delivery_id": delivery.id}


TABLES = ("public_reports", "public_report_events", "alerts", "deliveries")


def _dump(session) -> dict[str, list[tuple]]:
    """Every stored row of the report tables and their alert copies, as the database has them."""
    session.expire_all()
    tables = {t: Base.metadata.tables[t] for t in TABLES}
    return {t: [tuple(row) for row in session.execute(select(tb).order_by(tb.c.id))]
            for t, tb in tables.items()}


def _blob(dump: dict[str, list[tuple]]) -> str:
    return json.dumps(dump, ensure_ascii=False, default=str)


def _digits(s: str) -> str:
    return "".join(c for c in s if c.isdigit())


def _leaks(blob: str) -> list[str]:
    digits = _digits(blob)
    return [s for s in SECRETS if s in blob or (_digits(s) and _digits(s) in digits)]


def _report_row(session, n: int) -> CitizenReport:
    session.expire_all()
    return session.scalar(select(CitizenReport).where(CitizenReport.report_id == f"CR-2512-OLD00{n}"))


def _runs(session) -> list[AuditEntry]:
    session.expire_all()
    return list(session.scalars(select(AuditEntry).where(AuditEntry.action == ACTION)
                                .order_by(AuditEntry.id)))


def test_the_fixture_really_holds_personal_data(session, old_rows):
    assert sorted(_leaks(_blob(_dump(session)))) == sorted(SECRETS)


def test_dry_run_counts_and_ids_and_writes_nothing_but_its_audit_entry(session, old_rows):
    before = _dump(session)
    runner = CliRunner()
    out = runner.invoke(app, ["report", "redact-stored"])
    assert out.exit_code == 0, out.output
    assert _dump(session) == before  # the reports, their events, alerts, deliveries: untouched
    assert "dry run, nothing written" in out.output and "would change: 4 reportes" in out.output
    rows = {m["label"]: (int(m["count"]), m["ids"].split(", "))
            for m in (re.match(r"^  (?P<label>\D+?)\s+(?P<count>\d+)  (?P<ids>.+)$", line)
                      for line in out.output.splitlines()) if m}
    old = [f"CR-2512-OLD00{n}" for n in (1, 2, 3, 5)]
    assert rows == {
        "texto / text": (4, old),
        "establecimiento / establishment name": (1, ["CR-2512-OLD002"]),
        "contacto quitado / lead removed": (2, ["CR-2512-OLD001", "CR-2512-OLD005"]),
        "contacto añadido / lead added": (2, ["CR-2512-OLD003", "CR-2512-OLD005"]),
        "adiciones / additions": (1, ["CR-2512-OLD005"]),
        "resumen de alerta / alert summary": (1, [old_rows["alert_id"]]),
        "evidencia de alerta / alert evidence": (1, [old_rows["alert_id"]]),
        "envío de alerta / outbox payload": (1, [str(old_rows["delivery_id"])]),
    }
    assert _leaks(out.output) == []  # counts and ids, never the data
    run = _runs(session)
    assert [e.details["mode"] for e in run] == ["dry_run"] and run[0].subject == "run"
    assert run[0].details["counts"]["text"] == 4 and _leaks(json.dumps(run[0].details)) == []


def test_apply_removes_personal_data_keeps_the_sellers_lead_and_is_audited(session, old_rows):
    clean_before = session.execute(text(
        "SELECT text, establishment_name, contact, contact_key FROM public_reports "
        "WHERE report_id = 'CR-2512-OLD004'")).one()
    addition_before = session.execute(text(
        "SELECT id, text FROM public_report_events WHERE text LIKE 'Sigue vendiendo%'")).one()
    result = redact_stored(session, apply=True, actor="oficial.datos", now=dt.datetime(2026, 1, 5),
                           batch_size=2)  # three transactions of reports
    after = _dump(session)
    assert _leaks(_blob(after)) == []
    assert {f: result.counts[f] for f in FIELDS} == {
        "text": 4, "establishment_name": 1, "contact_removed": 2, "contact_added": 2,
        "contact_redacted": 0, "addition_text": 1, "alert_summary": 1, "alert_evidence": 1,
        "delivery_payload": 1}
    assert result.report_ids() == ["CR-2512-OLD001", "CR-2512-OLD002", "CR-2512-OLD003",
                                   "CR-2512-OLD005"]

    one, two, three, five = (_report_row(session, n) for n in (1, 2, 3, 5))
    assert one.contact is None and one.contact_key is None  # the reporter's phone is no lead
    assert one.text.endswith(f"llámenme al {LABELS['phone']}, es mío.")
    assert two.contact == SELLER_PHONE and two.contact_key == "tel:+51945123456"  # kept
    assert two.text == f"El que vende las pastillas atiende en la Botica Sol, su wsp {LABELS['phone']}."
    assert two.establishment_name == (f"Botica Sol (mi vecina {LABELS['name']} {LABELS['phone']}"
                                      " vio todo)")
    assert three.contact == NEW_LEAD and three.contact_key == "tel:+51956789012"
    assert five.contact == LATER_LEAD and five.contact_key == "tel:+51987111222"
    assert five.updated_at == five.created_at  # the reporter's timeline does not move
    events = session.scalars(select(ReportEvent).where(
        ReportEvent.report_id == "CR-2512-OLD005", ReportEvent.kind == "info")
        .order_by(ReportEvent.id)).all()
    assert events[0].text == (f"El vendedor me pasó su número: {LABELS['phone']}. "
                              f"Mi DNI es {LABELS['dni']}.")

    # Already-clean text is byte-identical (labels, kept numbers, even its NFD form).
    assert session.execute(text(
        "SELECT text, establishment_name, contact, contact_key FROM public_reports "
        "WHERE report_id = 'CR-2512-OLD004'")).one() == clean_before
    assert clean_before[0] == CLEAN_TEXT and clean_before[1] == CLEAN_NAME
    assert session.execute(text("SELECT id, text FROM public_report_events WHERE id = :i"),
                           {"i": addition_before[0]}).one() == addition_before

    # The alert and its outbox payload carry the redacted name, nothing else changed there.
    alert = session.scalar(select(Alert).where(Alert.alert_id == old_rows["alert_id"]))
    assert alert.evidence["establishment_names"] == [two.establishment_name]
    assert two.establishment_name in alert.summary and "Botica Sol" in alert.summary
    payload = session.get(Delivery, old_rows["delivery_id"]).payload
    assert payload["evidence"]["establishment_names"] == [two.establishment_name]
    assert payload["summary"] == alert.summary and payload["alert_id"] == alert.alert_id

    # Audited: one entry per written batch (counts and ids only) and one for the run.
    run = _runs(session)
    assert [e.subject for e in run] == ["reports CR-2512-OLD001..CR-2512-OLD002",
                                        "reports CR-2512-OLD003..CR-2512-OLD004",
                                        "reports CR-2512-OLD005..CR-2512-OLD005",
                                        f"alerts {alert.alert_id}..{alert.alert_id}", "run"]
    assert {e.actor for e in run} == {"oficial.datos"}
    assert run[1].details["ids"] == {"text": ["CR-2512-OLD003"],
                                     "contact_added": ["CR-2512-OLD003"]}
    assert run[-1].details["mode"] == "apply" and run[-1].details["reports_changed"] == 4
    assert run[-1].details["counts"] == {f: result.counts[f] for f in FIELDS}
    assert _leaks(json.dumps([e.details for e in run] + [e.reason for e in run])) == []
    assert verify(session) == (True, None)


def test_second_run_changes_nothing_and_says_so(session, old_rows):
    runner = CliRunner()
    first = runner.invoke(app, ["report", "redact-stored", "--apply", "--actor", "ana"])
    assert first.exit_code == 0, first.output
    assert "applied: 4 reportes cambiados" in first.output and _leaks(first.output) == []
    once = _dump(session)
    second = runner.invoke(app, ["report", "redact-stored", "--apply", "--actor", "ana"])
    assert second.exit_code == 0, second.output
    assert "nothing to change" in second.output and "Aplicado" not in second.output
    assert _dump(session) == once
    dry = runner.invoke(app, ["report", "redact-stored", "--json"])
    assert json.loads(dry.output)["counts"] == {f: 0 for f in FIELDS}
    assert _dump(session) == once
    modes = [(e.subject, e.details["mode"], e.details["reports_changed"])
             for e in _runs(session) if e.subject == "run"]
    assert modes == [("run", "apply", 4), ("run", "apply", 0), ("run", "dry_run", 0)]


def test_reports_filed_today_are_left_as_they_are(session, now, old_rows):
    """A report stored by the current intake is a fixed point of the pass."""
    from centinela.public.intake import ReportInput, add_info, submit

    report, _ = submit(session, ReportInput(
        kind="pills", ubigeo="150101", establishment_name="Botica Luna - cel dueño 944 555 666",
        text=f"Soy {BYSTANDER_NAME.split()[0]}, mi DNI {REPORTER_DNI}. El que vende tiene el "
             "955 444 333."), "web", now)
    add_info(session, report, "Mi vecina la señora Gladys Ramos vio todo, su cel 966 777 888",
             None, now)
    session.commit()
    before = _dump(session)
    result = redact_stored(session, apply=True, actor="cli", now=now)
    assert result.report_ids() == ["CR-2512-OLD001", "CR-2512-OLD002", "CR-2512-OLD003",
                                   "CR-2512-OLD005"]  # only the old rows
    after = _dump(session)
    new_rows = [r for r in after["public_reports"] if report.report_id in r]
    assert new_rows == [r for r in before["public_reports"] if report.report_id in r]
    assert [r for r in after["public_report_events"] if report.report_id in r] == [
        r for r in before["public_report_events"] if report.report_id in r]


@pytest.mark.parametrize("owner", ["unknown", "seller"])
def test_redacting_redacted_text_changes_nothing(owner):
    """Labels survive a second pass unchanged, and nothing around them moves."""
    for row in ROWS:
        once = redact_text(row["text"], owner)
        assert redact_text(once, owner) == once, row["text"]


@pytest.mark.parametrize("text", [
    # "teléfono" inside a label is no phone word for the date, plate or number after it
    "llámame al [teléfono redactado], la entrega fue el 14-03-2025 a las 10",
    "su número [teléfono redactado] y la placa ABC 123456",
    "Yapeé al [teléfono redactado] el 03-12-2025, operación 7654321",
    "tel [teléfono redactado] hasta las 20 horas, 1234567 es la placa",
    "DNI [DNI redactado] y pagué 1234567 en la boleta 0012345",
    "me llamo [nombre redactado] y vivo en [dirección redactada], San Isidro",
    "[correo redactado] [número redactado] 20 soles, CMP 054321",
    "[pasaporte redactado][CE redactado][RUC redactado] [documento redactado]",
    CLEAN_TEXT,
])
def test_labels_are_opaque_to_the_next_pass(text):
    assert redact_text(text) == unicodedata.normalize("NFC", text)


def test_one_call_redacts_what_a_second_look_finds():
    """Read beside the next number, the landline was missed by a first scan; redact_text scans
    again until nothing is found, so a stored report and a new one end the same."""
    once = redact_text("(01) 555-1234 001234567 es de la tienda")
    assert once == f"{LABELS['phone']} {LABELS['phone']} es de la tienda"
    assert redact_text(once) == once
