"""Bulletins (numbered, HTML + PDF, routed) and the structured incident export."""

import datetime as dt

import pytest

from centinela.ews import pdf as ews_pdf
from centinela.ews.bulletins import BulletinError, create_bulletin
from centinela.ews.export import export_incidents
from centinela.ews.signals import record_signal

ISO = "OIOQREYBGDAYGT-UHFFFAOYSA-N"


def seed(session, now):
    record_signal(session, "lab", "S1", now - dt.timedelta(days=2), ubigeo="150101",
                  substance="isotonitazene", inchikey=ISO,
                  payload={"category": "nitazene", "agency": "PNP-DIRANDRO", "context": "parcel",
                           "form": "pill", "units": 40, "net_mass_mg": 8000.0,
                           "purity_percent": 1.5, "tier": {"mass_mg": 120.0},
                           "reported_as": "oxicodona M30", "smiles": "CCN(CC)CCn1c(Cc2ccc(OC(C)C)cc2)nc2cc([N+](=O)[O-])ccc21"})
    record_signal(session, "overdose", "HOSP-1:E9", now - dt.timedelta(days=1), ubigeo="150113",
                  substance="isotonitazene", inchikey=ISO,
                  payload={"category": "nitazene", "setting": "death", "outcome": "died",
                           "age_band": "20-24", "sex": "M", "route": "oral", "confirmed": True,
                           "reporter": "HOSP-1", "event_id": "E9"})


def test_bulletin_numbering_html_pdf_and_routing(session, now):
    seed(session, now)
    b1 = create_bulletin(session, now, substance="isotonitaceno")
    b2 = create_bulletin(session, now, substance="isotonitazene", department="15")
    assert (b1.number, b2.number) == ("EWS-2025-0001", "EWS-2025-0002")
    c = b1.content
    assert c["counts"] == {"seizures": 0, "lab": 1, "overdoses": 1, "deaths": 1, "online": 0,
                           "citizen": 0}
    assert c["substance"]["category"] == "nitazene" and c["substance"]["inchikey"] == ISO
    assert "Lima" in c["title"] and c["severity"] == "high"
    for section in ("Qué", "Dónde", "Cuándo", "Riesgo", "Recomendaciones", "naloxona"):
        assert section in b1.html
    assert b1.pdf.startswith(b"%PDF") and len(b1.pdf) > 1000
    assert b1.routing["status"] in ("stored", "queued")
    next_year = create_bulletin(session, dt.datetime(2026, 1, 2, 12), substance="isotonitazene",
                                days=40)
    assert next_year.number == "EWS-2026-0001"


def test_pdf_without_unicode_font_falls_back_to_latin1(session, now, monkeypatch):
    seed(session, now)
    monkeypatch.setattr(ews_pdf, "FONT_CANDIDATES", (("/nonexistent.ttf", "/nonexistent.ttf"),))
    assert ews_pdf.unicode_font() is None
    b = create_bulletin(session, now, substance="isotonitazene")
    assert b.pdf.startswith(b"%PDF")


def test_nothing_to_report_is_an_error(session, now):
    with pytest.raises(BulletinError, match="nothing to report"):
        create_bulletin(session, now, substance="carfentanil")
    with pytest.raises(BulletinError, match="unknown alert"):
        create_bulletin(session, now, alert_ids=("ALR-NOPE",))


def test_export_for_international_exchange(session, now):
    seed(session, now)
    doc = export_incidents(session, now - dt.timedelta(days=30), now, now)
    assert doc["format"] == "centinela-ews-incidents" and doc["count"] == 2
    lab, od = doc["incidents"]
    assert lab["type"] == "forensic_identification"
    assert lab["place"]["district"] == "Lima" and lab["place"]["country"] == "PE"
    assert lab["substance"]["inchikey"] == ISO and lab["substance"]["reported_as"] == "oxicodona M30"
    assert lab["quantity"] == {"net_mass_mg": 8000.0, "purity_percent": 1.5, "pure_mass_mg": 120.0,
                               "units": 40}
    assert lab["form"] == "pill" and lab["concealment_context"] == "parcel"
    assert lab["trafficking_route"] == "postal/courier"
    assert od["route_of_administration"] == "oral" and od["overdose"]["outcome"] == "died"
    text = str(doc)
    assert "HOSP-1" not in text and "E9" not in text  # no reporter or internal ids
    assert export_incidents(session, now - dt.timedelta(days=30), now, now, "04")["count"] == 0


def test_bulletin_is_queued_to_the_competent_authorities(session, now):
    from sqlalchemy import select

    from centinela.alerts.models import Authority, Channel, Delivery

    seed(session, now)
    session.add_all([
        Authority(authority_id="DIGEMID", name="DIGEMID", kind="regulator", departments=[],
                  topics=["ews"], min_severity="low", active=True),
        Authority(authority_id="GERESA-AQP", name="GERESA Arequipa", kind="regional_health",
                  departments=["04"], topics=[], min_severity="low", active=True),
    ])
    session.flush()
    session.add_all([Channel(authority_id="DIGEMID", kind="outbox", target="", enabled=True),
                     Channel(authority_id="GERESA-AQP", kind="outbox", target="", enabled=True)])
    session.flush()
    b = create_bulletin(session, now, substance="isotonitazene", department="15")
    assert b.routing["status"] == "queued" and b.routing["department"] == "15"
    rows = list(session.scalars(select(Delivery).where(Delivery.payload_kind == "bulletin")))
    assert [r.payload["authority_id"] for r in rows] == ["DIGEMID"]  # Arequipa is not concerned
    assert rows[0].payload["number"] == b.number and rows[0].payload["pdf_url"].endswith(".pdf")
