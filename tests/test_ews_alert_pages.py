"""Early-warning alerts read in words on their pages: the detector's name, the evidence's
labels and values, what the alert claims, and the records that raised it — never the
department's pharmacy movements or their patients (a QA walkthrough found
``ews_first_department`` alerts listing 63 unrelated movements with pseudonyms)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

from centinela.alerts.models import Alert
from centinela.audit import AuditEntry
from centinela.ews import detectors as ews_detectors
from centinela.ews.detect import DetectConfig
from centinela.ews.intake import sync_seizures
from centinela.ews.scan import ScanParams
from centinela.ews.signals import record_signal
from centinela.ledger.records import Seizure
from tests.test_alert_charts import SNAKE, visible_text

FENTANYL = "CCC(=O)N(c1ccccc1)C1CCN(CCc2ccccc2)CC1"
ACETYLFENTANYL = "CC(=O)N(c1ccccc1)C1CCN(CCc2ccccc2)CC1"
ISO = "OIOQREYBGDAYGT-UHFFFAOYSA-N"
# Words of the evidence table or claims that are English on a Spanish page (QA: "Substance es",
# "Source kind lab", "Date", "National first").
ENGLISH = ("Substance", "Source", "Date", "National", "Inchikey", "Key", "powder", "lab",
           "seizure", "Observed", "Expected", "Radius", "Relative risk")


def _seizure(session, sid, when, ubigeo, substance=None, smiles=None, **kw):
    session.add(Seizure(seizure_id=sid, occurred_at=when, ubigeo=ubigeo, agency="PNP-DIRANDRO",
                        substance=substance, smiles=smiles, content_hash=sid, **kw))


@pytest.fixture
def ews_world(world, session, now) -> dict[str, Alert]:
    """The sample world (pharmacy movements with patients in Lima and Piura) and early-warning
    alerts of every rule, two of them (first in Piura, a cluster in Lima) on days when the
    department's pharmacies dispensed to a patient."""
    day = now - dt.timedelta(days=3)  # the sample's Piura and Lima dispenses of the last month
    _seizure(session, "DIR-001", day - dt.timedelta(days=2), "150101", "fentanilo",
             FENTANYL, form="powder", context="street", net_mass_mg=12.0)
    _seizure(session, "DIR-002", day, "200101", "presunto fentanilo", FENTANYL, form="powder",
             context="street")
    _seizure(session, "DIR-003", day, "200101", "fentanilo", ACETYLFENTANYL, form="pill",
             context="parcel")  # reported as fentanyl, identified as acetylfentanyl
    _seizure(session, "DIR-004", day, "150101", None, None, form="ampoule", context="hospital",
             product_code="FEN-AMP", lot="L2025A", units=3)
    session.flush()
    sync_seizures(session)
    record_signal(session, "citizen", "R-9", now - dt.timedelta(days=1), ubigeo="040101",
                  substance="isotonitazene", payload={})
    for i in range(14):  # a burst of overdoses in Lima Cercado and neighbours
        record_signal(session, "overdose", f"HOSP-1:E{i}", now - dt.timedelta(days=i % 3, hours=2),
                      ubigeo=["150101", "150113", "150115"][i % 3], substance="fentanyl",
                      inchikey="PJMPHNIQZUBGLI-UHFFFAOYSA-N",
                      payload={"setting": "emergency_department", "outcome": "recovered",
                               "age_band": "30-34", "sex": "F", "confirmed": True,
                               "identified_by": "structure"})
    for i in range(40):  # background overdoses elsewhere, so the burst stands out
        record_signal(session, "overdose", f"HOSP-2:B{i}", now - dt.timedelta(days=60 - i),
                      ubigeo=["040101", "130101", "080101", "200101"][i % 4])
    ews_detectors.run(session, now, DetectConfig(scan=ScanParams(n_sims=99)))
    session.commit()
    out: dict[str, Alert] = {}
    for a in session.scalars(select(Alert).where(Alert.detector.like("ews_%"))
                             .order_by(Alert.score.desc())):
        out.setdefault(a.detector, a)
    return out


def test_every_detector_and_alert_code_has_a_name_in_both_languages():
    """The inbox rows, its Detector filter and the alert page name each detector in words: every
    registered one, and every alert code an early-warning rule writes."""
    from centinela.detect.registry import DETECTORS, load
    from centinela.web.i18n import detector_label

    codes = set(DETECTORS) | set(ews_detectors.ALERT_CODES)
    assert {"ews_first_department", "ews_first_national", "ews_first_reported",
            "ews_cluster_overdose", "ews_cluster_seizure"} <= codes
    for name in DETECTORS:
        codes |= set(getattr(load(name), "alert_codes", ()))
    bad = {}
    for c in sorted(codes):
        es, en = detector_label(c, "es"), detector_label(c, "en")
        if es == c or en == c or "_" in es + en or not (es[:1].isupper() and en[:1].isupper()):
            bad[c] = (es, en)
    assert not bad, bad


def test_the_rules_write_only_the_alert_codes_they_declare(ews_world):
    assert set(ews_world) <= set(ews_detectors.ALERT_CODES)
    assert {"ews_first_national", "ews_first_department", "ews_first_reported",
            "ews_cluster_overdose", "ews_name_mismatch",
            "ews_seized_registry_product"} <= set(ews_world)


def test_every_evidence_key_an_ews_alert_writes_has_a_label_in_both_languages(ews_world):
    from centinela.web.evidence import EWS_HIDDEN, HIDDEN
    from centinela.web.i18n import catalogs

    cats = catalogs()
    keys = {k for a in ews_world.values() for k in (a.evidence or {})} - HIDDEN - EWS_HIDDEN
    assert {"source_kind", "source_id", "date", "national_first", "ubigeo", "inchikey",
            "centre_ubigeo", "radius_km", "mismatch", "agency"} <= keys
    assert sorted(k for k in keys if f"evidence.{k}" not in cats["es"]
                  or f"evidence.{k}" not in cats["en"]) == []


@pytest.mark.parametrize("lang", ["es", "en"])
def test_ews_alert_pages_read_in_words_and_claim_something(as_user, ews_world, lang):
    client = as_user("analista")
    for detector, alert in ews_world.items():
        html = client.get(f"/alerts/{alert.alert_id}?lang={lang}").text
        text = visible_text(html)
        assert detector not in text, (detector, "raw detector code")
        assert not SNAKE.findall(text), (detector, SNAKE.findall(text))
        claims = html.split('id="claims"', 1)[1].split("</section>", 1)[0]
        assert re.search(r"<(p|li|figure)[ >]", claims), (detector, "empty claims section")
        if lang == "es":
            table = visible_text(html.split('id="evidence"', 1)[1].split("</section>", 1)[0])
            english = [w for w in ENGLISH if re.search(rf"\b{w}\b", table)]
            assert not english, (detector, english, table)


def test_first_department_alert_says_what_the_identification_was(as_user, ews_world):
    alert = ews_world["ews_first_department"]
    client = as_user("analista")
    html = client.get(f"/alerts/{alert.alert_id}").text
    text = visible_text(html)
    assert "Primera identificación en un departamento (alerta temprana)" in text
    # the claim, and the record it rests on: date, place, substance, agency
    assert "Primera identificación confirmada de fentanilo en Piura" in text
    assert "en Lima el" in text  # where the country's first identification was
    claims = visible_text(html.split('id="claims"', 1)[1].split("</section>", 1)[0])
    assert "DIR-002" in claims and "Piura (Piura, Piura)" in claims
    assert "PNP-DIRANDRO" in claims and "polvo" in claims and "Laboratorio forense" in claims
    evidence = visible_text(html.split('id="evidence"', 1)[1].split("</section>", 1)[0])
    assert "Fuente laboratorio forense" in evidence and "Primera identificación en el país Lima" in evidence
    english = client.get(f"/api/v1/alerts/{alert.alert_id}?lang=en").json()
    assert english["explained"]["headline"].startswith(
        "First confirmed identification of fentanyl in Piura")
    inbox = client.get("/api/v1/alerts?lang=en").json()["rows"]
    assert not any("ews_" in r["summary"] for r in inbox)


def test_ews_alert_pages_show_their_own_records_and_no_patient(as_user, ews_world, session):
    """The page lists the seizure, identification or overdoses behind the alert instead of the
    movements of its department's pharmacies; no pseudonym, no patient banner, no patient-data
    audit — and the movements download is empty too."""
    client = as_user("analista")
    for detector, alert in ews_world.items():
        r = client.get(f"/alerts/{alert.alert_id}")
        assert r.status_code == 200
        assert "PSN:" not in r.text, detector
        assert 'id="movements"' not in r.text and 'id="sources"' in r.text, detector
        assert "Contiene datos de pacientes" not in r.text, detector
        api = client.get(f"/api/v1/alerts/{alert.alert_id}").json()
        assert api["movements_total"] == 0 and not api["patient_data_shown"], detector
        assert api["sources_total"] >= 1, detector
        csv = client.get(f"/alerts/{alert.alert_id}/movements.csv").text
        assert "PSN:" not in csv and len(csv.strip().splitlines()) == 1, detector
    first = client.get(f"/api/v1/alerts/{ews_world['ews_first_department'].alert_id}").json()
    assert [s["source_id"] for s in first["sources"]] == ["DIR-002"]
    cluster = client.get(f"/api/v1/alerts/{ews_world['ews_cluster_overdose'].alert_id}").json()
    assert cluster["sources_total"] >= 10
    assert {s["kind"] for s in cluster["sources"]} == {"overdose"}
    assert "emergencia, recuperado" in {s["detail"] for s in cluster["sources"]}
    assert not any("30-34" in s["sentence"] or "F" == s["detail"] for s in cluster["sources"])
    actions = [e.action for e in session.scalars(select(AuditEntry))]
    assert "alert.patient_data" not in actions and "ews.signals.read" in actions


def test_a_regional_analyst_sees_only_the_records_of_their_departments(as_user, ews_world):
    alert = ews_world["ews_first_department"]
    assert alert.department == "20"
    page = as_user("piura").get(f"/api/v1/alerts/{alert.alert_id}").json()
    assert [s["source_id"] for s in page["sources"]] == ["DIR-002"]
    assert as_user("lima").get(f"/alerts/{alert.alert_id}").status_code == 404


def test_a_ledger_alert_still_shows_its_movements(as_user, world, ews_world):
    client = as_user("analista")
    region = client.get(f"/api/v1/alerts/{world['region_rise']}").json()  # a region, not EWS
    assert region["sources"] is None and region["movements_total"] > 0
    assert 'id="movements"' in client.get(f"/alerts/{world['region_rise']}").text


def test_ews_dashboard_reads_classes_and_forms_in_words(as_user, ews_world):
    """The EWS page showed "Clase listed_fentanyl_analogue" and "PNP-DIRANDRO powder"."""
    client = as_user("analista")
    for lang, words, raw in (
            ("es", ("Análogo del fentanilo fiscalizado individualmente", "PNP-DIRANDRO · polvo",
                    "Laboratorio forense", "emergencia"),
             ("listed_fentanyl_analogue", "powder", "pill", "emergency_department")),
            ("en", ("Individually listed fentanyl-family opioid", "PNP-DIRANDRO · powder",
                    "Forensic laboratory", "emergency department"),
             ("listed_fentanyl_analogue", "emergency_department"))):
        text = visible_text(client.get(f"/ews?lang={lang}").text)
        for w in words:
            assert w in text, (lang, w)
        for w in raw:
            assert not re.search(rf"\b{w}\b", text), (lang, w)
