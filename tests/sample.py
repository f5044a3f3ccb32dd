"""A tiny fixed world (Lima and Piura) for the web tests, the browser tests and screenshots.

Rows are inserted directly (not through intake) so the web layer can be tested on its own; the
benchmark loads a national year through the real generator and importer instead.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy.orm import Session

from centinela.alerts.service import AlertDraft, upsert_alert
from centinela.ledger.records import Movement
from centinela.privacy import pseudonymize
from centinela.registry.models import Establishment, Product, Professional

PATIENT_LIMA = "DNI:44556677"
PATIENT_PIURA = "DNI:10203040"


def _est(eid, name, kind, ubigeo):
    return Establishment(establishment_id=eid, name=name, kind=kind, sector="public",
                         ubigeo=ubigeo, department=ubigeo[:2], authorized_controlled=True)


def seed_sample(session: Session, now: dt.datetime) -> dict[str, str]:
    """Insert the sample registry, a year of movements and five alerts; return handy ids."""
    session.add_all([
        Product(product_code="FEN-AMP", name="Fentanilo citrato 0.05 mg/mL x 2 mL ampolla",
                substance="fentanyl", dosage_form="ampoule", strength_mg_per_unit=0.1),
        Product(product_code="FEN-PATCH", name="Fentanilo parche 25 mcg/h", substance="fentanyl",
                dosage_form="patch", strength_mg_per_unit=4.2, patch_mcg_per_hour=25),
        Product(product_code="MOR-TAB", name="Morfina 10 mg tableta", substance="morphine",
                dosage_form="tablet", strength_mg_per_unit=10),
        _est("EST-LIM-H1", "Hospital Nacional Lima", "hospital", "150101"),
        _est("EST-LIM-F1", "Farmacia Central Lima", "pharmacy", "150101"),
        _est("EST-DIST", "Distribuidora Andina", "distributor", "150101"),
        _est("EST-PIU-F1", "Botica Piura Centro", "pharmacy", "200101"),
        Professional(professional_id="CMP-000001", role="prescriber", full_name="Dra. Ana Torres",
                     specialty="anesthesiology", establishment_id="EST-LIM-H1", ubigeo="150101",
                     department="15"),
        Professional(professional_id="CMP-000002", role="prescriber", full_name="Dr. Luis Rojas",
                     specialty="anesthesiology", establishment_id="EST-LIM-H1", ubigeo="150101",
                     department="15"),
        Professional(professional_id="CMP-000003", role="prescriber", full_name="Dr. José Paz",
                     specialty="general_medicine", establishment_id="EST-PIU-F1",
                     ubigeo="200101", department="20"),
        Professional(professional_id="CQFP-00001", role="pharmacist", full_name="Q.F. Rosa Díaz",
                     establishment_id="EST-LIM-F1", ubigeo="150101", department="15"),
    ])
    p_lima, p_piura = pseudonymize(PATIENT_LIMA), pseudonymize(PATIENT_PIURA)
    rows: list[Movement] = []

    def add(eid, etype, est, product, qty, when, **kw):
        h = hashlib.md5(f"{eid}{est}".encode()).hexdigest()
        rows.append(Movement(event_id=eid, event_type=etype, occurred_at=when,
                             establishment_id=est, product_code=product, quantity=qty,
                             content_hash=h, **kw))

    add("T-1", "transfer_out", "EST-DIST", "FEN-AMP", 500, now - dt.timedelta(days=300),
        counterparty_id="EST-LIM-H1", lot="L2025A", serial="SN-0001")
    add("R-1", "receipt", "EST-LIM-H1", "FEN-AMP", 500, now - dt.timedelta(days=299),
        counterparty_id="EST-DIST", lot="L2025A", serial="SN-0001")
    for i in range(12):
        when = now - dt.timedelta(days=30 * i + 3)
        add(f"D-L-{i}", "dispense", "EST-LIM-F1", "FEN-PATCH", 10 + 2 * i, when,
            prescription_id=f"RX-{i}", prescriber_id="CMP-000001", professional_id="CQFP-00001",
            patient_id=p_lima, patient_sex="F", patient_birth_year=1970, patient_ubigeo="150101",
            days_supply=30)
        add(f"A-L-{i}", "administer", "EST-LIM-H1", "FEN-AMP", 40 + i, when,
            prescriber_id="CMP-000002", lot="L2025A")
        add(f"D-P-{i}", "dispense", "EST-PIU-F1", "MOR-TAB", 60, when,
            prescription_id=f"RXP-{i}", prescriber_id="CMP-000003", patient_id=p_piura,
            patient_ubigeo="200101", days_supply=30)
    add("A-SN", "administer", "EST-LIM-H1", "FEN-AMP", 1, now - dt.timedelta(days=200),
        serial="SN-0001", lot="L2025A", prescriber_id="CMP-000002", patient_id=p_lima)
    session.add_all(rows)
    session.flush()
    start, end = now - dt.timedelta(days=90), now - dt.timedelta(days=1)
    drafts = [
        AlertDraft("prescriber_volume", "professional", "CMP-000001", "high", 78.0, start, end,
                   "Prescripción de fentanilo muy superior a sus pares.",
                   {"observed_mme": 5400.0, "peer_median_mme": 900.0, "z": 4.2,
                    "patients": [p_lima]}, department="15", topics=["prescribing"]),
        AlertDraft("stock_gap", "establishment", "EST-PIU-F1", "critical", 91.0, start, end,
                   "Faltante de inventario no explicado.", {"missing_units": 120.0},
                   department="20", topics=["diversion"]),
        AlertDraft("mme_high", "patient", p_lima, "medium", 52.0, start, end,
                   f"Paciente {p_lima} con MME diario alto.", {"max_daily_mme": 144.0},
                   department="15", topics=["patient_safety"]),
        AlertDraft("lot_anomaly", "lot", "L2025A", "low", 30.0, start, end,
                   "Lote con merma inusual.", {"waste_ratio": 0.2}, department="15"),
        AlertDraft("region_rise", "region", "20", "high", 70.0, start, end,
                   "Aumento regional del uso de fentanilo.", {"growth": 0.8}, department="20"),
    ]
    ids = {}
    for d in drafts:
        alert, _ = upsert_alert(session, d, now=now)
        ids[d.detector] = alert.alert_id
    session.flush()
    return {"patient_lima": p_lima, "patient_piura": p_piura, **ids}
