"""``dispense_without_prescription``: dispenses declared without their prescription are
rejected at intake and kept; an establishment that declares them beyond the clerical base rate
is flagged, one or two omissions among many dispenses are not."""

from __future__ import annotations

from sqlalchemy import select

from centinela.alerts.models import Alert
from centinela.detect.engine import run_all
from centinela.ingest.service import import_directory
from centinela.ledger.records import Rejection
from tests.ingest_support import PRODUCTS, movement, write_csv

PHARMACIES = ["F-SELL", "F-SLIP", *(f"F-{i}" for i in range(8))]


def _est(eid: str) -> dict:
    return {"establishment_id": eid, "name": eid, "kind": "pharmacy", "sector": "private",
            "ubigeo": "150101", "ruc": "", "authorized_controlled": "true",
            "authorization_expires": ""}


def test_pharmacy_selling_without_prescription_vs_clerical_slips(engine, session, data_dir):
    write_csv(data_dir, "establishments", [_est(e) for e in PHARMACIES])
    write_csv(data_dir, "professionals", [
        {"professional_id": "CMP-012345", "role": "prescriber", "full_name": "Ana Quispe",
         "specialty": "oncology", "establishment_id": "", "ubigeo": "150101",
         "opioid_certified_on": "2025-02-01", "certificate_id": "CERT-1"}])
    write_csv(data_dir, "products", PRODUCTS)
    rows = []
    for e in PHARMACIES:
        for k in range(40):
            day = 1 + k % 28
            month = 3 + k // 28
            no_rx = (e == "F-SELL" and k % 4 == 0) or (e == "F-SLIP" and k in (5, 17))
            rows.append(movement(
                f"{e}-{k}", "dispense", f"2025-{month:02d}-{day:02d}T19:30:00-05:00", e, "2",
                product_code="EE-00002", patient_id=f"DNI:{40000000 + k}",
                prescriber_id="" if no_rx else "CMP-012345",
                prescription_id="" if no_rx else f"R-{e}-{k}", days_supply="15"))
    write_csv(data_dir, "movements", rows)
    report = import_directory(engine, data_dir, realtime=False)
    assert report.files[-1].rejected == 12
    # Re-sending the same file is idempotent: the rejected rows are not counted twice.
    import_directory(engine, data_dir, realtime=False)
    fields = {r.field for r in session.scalars(select(Rejection))}
    assert fields == {"prescription_id"}
    run_all(session, only=["dispense_without_prescription"])
    alerts = {a.subject_id: a for a in session.scalars(
        select(Alert).where(Alert.detector == "dispense_without_prescription"))}
    assert set(alerts) == {"F-SELL"}
    a = alerts["F-SELL"]
    assert a.evidence["rows_without_prescription"] == 10
    assert a.evidence["dispenses"] == 40 and abs(a.evidence["share"] - 0.25) < 1e-9
    assert a.severity in ("medium", "high", "critical") and a.subject_kind == "establishment"
    assert "sin receta" in a.summary
    from centinela.web.evidence import explain

    assert "sin receta" in explain(a, a.evidence, "es").headline
    en = explain(a, a.evidence, "en").headline
    assert en.startswith("F-SELL declared dispenses without a prescription") and "25" in en


def test_an_alert_kind_without_a_sentence_gets_the_generic_english_headline():
    """A detector registered later (a plug-in) has no sentence of its own: the English
    headline is the generic one, not an error."""
    import datetime as dt

    from centinela.web.evidence import explain

    a = Alert(detector="plugin_rule", subject_kind="establishment", subject_id="F-1",
              severity="medium", score=50.0, summary="Resumen en español.",
              window_start=dt.datetime(2025, 3, 1), window_end=dt.datetime(2025, 3, 31),
              evidence={})
    assert "F-1" in explain(a, {}, "en").headline
    assert explain(a, {}, "es").headline == "Resumen en español."
