"""Every validation rule of the reporting format: a bad record, its stored rejection and reason."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from centinela.ingest.service import import_directory
from centinela.ledger.records import Movement, Rejection, Seizure
from centinela.registry.models import Establishment, Product, Professional
from tests.ingest_support import (
    ESTABLISHMENTS,
    PRODUCTS,
    PROFESSIONALS,
    movement,
    write_csv,
    write_jsonl,
    write_registry,
)

T = "2025-03-01T10:00:00-05:00"
GOOD = movement("OK-1", "receipt", T, "EST-HOS", "10", counterparty_id="EST-DIS")

BAD_MOVEMENTS = [
    ({"event_id": ""}, "event_id", "obligatorio"),
    ({"event_type": "sale"}, "event_type", "not one of"),
    ({"event_type": ""}, "event_type", "required"),
    ({"occurred_at": "14/03/2025 09:30"}, "occurred_at", "not an ISO 8601"),
    ({"occurred_at": "2025-03-14"}, "occurred_at", "not an ISO 8601"),
    ({"occurred_at": "2025-02-30T10:00:00"}, "occurred_at", "impossible date or time"),
    ({"occurred_at": "2025-03-14T25:00:00-05:00"}, "occurred_at", "impossible date or time"),
    ({"occurred_at": ""}, "occurred_at", "required"),
    ({"establishment_id": "EST-NOPE"}, "establishment_id", "unknown establishment 'EST-NOPE'"),
    ({"establishment_id": ""}, "establishment_id", "required"),
    ({"product_code": "XX-1"}, "product_code", "unknown product 'XX-1'"),
    ({"quantity": ""}, "quantity", "required"),
    ({"quantity": "diez"}, "quantity", "not a number"),
    ({"quantity": "nan"}, "quantity", "finite"),
    ({"quantity": "0"}, "quantity", "must be positive"),
    ({"quantity": "-3"}, "quantity", "must be positive"),
    ({"quantity": "2.5"}, "quantity", "fractions are allowed only for administer and waste"),
    ({"counterparty_id": ""}, "counterparty_id", "required for receipt"),
    ({"counterparty_id": "EST-GHOST"}, "counterparty_id", "unknown counterparty"),
    ({"expiry": "2027-13-01"}, "expiry", "not a YYYY-MM-DD date"),
    ({"expiry": "31/01/2027"}, "expiry", "not a YYYY-MM-DD date"),
    ({"professional_id": "CQFP-99999"}, "professional_id", "unknown professional"),
    ({"patient_sex": "female"}, "patient_sex", "not one of F, M, X"),
    ({"patient_birth_year": "19x0"}, "patient_birth_year", "not a number"),
    ({"patient_birth_year": "1850"}, "patient_birth_year", "out of range"),
    ({"patient_ubigeo": "999999"}, "patient_ubigeo", "unknown INEI district"),
    ({"days_supply": "0"}, "days_supply", "out of range"),
    ({"days_supply": "7.5"}, "days_supply", "whole number"),
    ({"witness_id": "CEP-55555"}, "witness_id", "unknown professional"),
    ({"lot": "L" * 61}, "lot", "longer than 60"),
    ({"event_type": "dispense", "prescription_id": "RE-1", "prescriber_id": "CMP-012345"},
     "patient_id", "required for dispense"),
    ({"event_type": "dispense", "patient_id": "DNI:12345678", "prescriber_id": "CMP-012345"},
     "prescription_id", "required for dispense"),
    ({"event_type": "dispense", "patient_id": "DNI:12345678", "prescription_id": "RE-1"},
     "prescriber_id", "required for dispense"),
    ({"event_type": "dispense", "patient_id": "DNI:12345678", "prescription_id": "RE-1",
      "prescriber_id": "CMP-999999"}, "prescriber_id", "unknown professional"),
    ({"event_type": "administer", "quantity": "0.5"}, "patient_id", "required for administer"),
    ({"event_type": "administer", "quantity": "0.5", "patient_id": "12345678"}, "patient_id",
     "must be DNI:, CE:, PAS:"),
    ({"event_type": "count", "quantity": "-1"}, "quantity", "count must be zero or more"),
    ({"event_type": "count", "quantity": "1.5"}, "quantity", "fractions"),
]


@pytest.fixture
def registry_dir(data_dir):
    write_registry(data_dir)
    return data_dir


def _only_rejection(session):
    rows = session.scalars(select(Rejection)).all()
    assert len(rows) == 1, [(r.field, r.reason) for r in rows]
    return rows[0]


@pytest.mark.parametrize("change,field,reason", BAD_MOVEMENTS,
                         ids=[f"{b[1]}:{b[2][:25]}" for b in BAD_MOVEMENTS])
def test_bad_movement_is_rejected_with_field_line_and_reason(engine, session, registry_dir,
                                                             change, field, reason):
    rec = {**GOOD, **change}
    write_csv(registry_dir, "movements", [GOOD | {"event_id": "OK-0"}, rec])
    report = import_directory(engine, registry_dir)
    mv = report.files[-1]
    assert (mv.accepted, mv.rejected) == (1, 1)
    sample = mv.samples[0]
    assert (sample.line, sample.field) == (3, field)
    assert reason in sample.reason
    assert sample.as_text().startswith(f"movements.csv:3 {field}: ")
    stored = _only_rejection(session)
    assert (stored.source, stored.line, stored.field, stored.kind) == ("movements.csv", 3, field,
                                                                       "invalid")
    assert reason in stored.reason
    assert stored.record["event_id"] == rec["event_id"]


def test_well_formed_anomalies_are_accepted_not_rejected(engine, session, registry_dir):
    # Negative stock, a receipt before its shipment and a count that disagrees are signals.
    write_csv(registry_dir, "movements", [
        movement("A1", "receipt", "2025-03-01T08:00:00-05:00", "EST-HOS", "5",
                 counterparty_id="EST-DIS"),
        movement("A2", "transfer_out", "2025-03-02T08:00:00-05:00", "EST-DIS", "5",
                 counterparty_id="EST-HOS"),
        movement("A3", "loss", "2025-03-03T08:00:00-05:00", "EST-FAR", "40"),
        movement("A4", "count", "2025-03-04T08:00:00-05:00", "EST-FAR", "0"),
        movement("A5", "waste", "2025-03-04T09:00:00-05:00", "EST-HOS", "0.25"),
        movement("A6", "administer", "2025-03-04T09:00:00", "EST-HOS", "3.0",
                 patient_id="PSN:abcdef123456"),
        movement("A7", "export", "2025-03-05T09:00:00Z", "EST-IMP", "2", counterparty_id="ACME-US"),
    ])
    report = import_directory(engine, registry_dir)
    assert report.files[-1].accepted == 7 and report.files[-1].rejected == 0
    a6 = session.scalar(select(Movement).where(Movement.event_id == "A6"))
    assert a6.quantity == 3.0 and a6.patient_id == "PSN:abcdef123456"
    assert a6.occurred_at.isoformat() == "2025-03-04T14:00:00"  # Lima → UTC
    a7 = session.scalar(select(Movement).where(Movement.event_id == "A7"))
    assert a7.occurred_at.isoformat() == "2025-03-05T09:00:00"


def test_unknown_column_refuses_the_file_and_says_which(engine, session, registry_dir):
    rows = [GOOD | {"comentario": "x"}]
    write_csv(registry_dir, "movements", rows, fields=[*GOOD, "comentario"])
    report = import_directory(engine, registry_dir)
    mv = report.files[-1]
    assert mv.status == "refused" and "'comentario'" in mv.error and mv.rejected == 1
    assert session.scalar(select(func.count()).select_from(Movement)) == 0
    stored = _only_rejection(session)
    assert stored.field == "comentario" and "not in the reporting format" in stored.reason
    assert "RECHAZADO / REFUSED" in report.as_text()


def test_missing_required_column_refuses_the_file(engine, session, registry_dir):
    fields = [f for f in GOOD if f != "quantity"]
    write_csv(registry_dir, "movements", [{k: GOOD[k] for k in fields}], fields=fields)
    report = import_directory(engine, registry_dir)
    assert report.files[-1].status == "refused"
    assert "'quantity'" in report.files[-1].error


def test_optional_columns_may_be_absent(engine, session, registry_dir):
    fields = ["event_id", "event_type", "occurred_at", "establishment_id", "product_code",
              "quantity", "counterparty_id"]
    write_csv(registry_dir, "movements", [{k: GOOD[k] for k in fields}], fields=fields)
    assert import_directory(engine, registry_dir).files[-1].accepted == 1


def test_csv_row_with_wrong_field_count_and_bad_utf8(engine, session, registry_dir):
    path = write_csv(registry_dir, "movements", [GOOD])
    with path.open("ab") as fh:
        fh.write(b"X1,receipt\n")
        fh.write(b"X2,receipt,2025-03-01T10:00:00,EST-HOS,EE-00001,1,EST-DIS,L\xff1" + b"," * 11
                 + b"\n")
    report = import_directory(engine, registry_dir)
    mv = report.files[-1]
    assert (mv.accepted, mv.rejected) == (1, 2)
    assert "expected 19 fields, found 2" in mv.samples[0].reason and mv.samples[0].line == 3
    assert "UTF-8" in mv.samples[1].reason and mv.samples[1].line == 4


def test_jsonl_movements_types_and_unknown_field(engine, session, registry_dir):
    write_jsonl(registry_dir, "movements", [
        {"event_id": "J1", "event_type": "receipt", "occurred_at": T,
         "establishment_id": "EST-HOS", "product_code": "EE-00001", "quantity": 3,
         "counterparty_id": "EST-DIS", "lot": None},
        {"event_id": "J2", "event_type": "receipt", "occurred_at": T,
         "establishment_id": "EST-HOS", "product_code": "EE-00001", "quantity": 3,
         "counterparty_id": "EST-DIS", "precio": 10},
        {"event_id": "J3", "event_type": "receipt", "occurred_at": T,
         "establishment_id": "EST-HOS", "product_code": "EE-00001", "quantity": [3],
         "counterparty_id": "EST-DIS"},
    ])
    (registry_dir / "movements.jsonl").open("a").write("{not json\n")
    report = import_directory(engine, registry_dir)
    mv = report.files[-1]
    assert (mv.accepted, mv.rejected) == (1, 3)
    assert [s.field for s in mv.samples] == ["precio", "quantity", None]
    assert "JSON" in mv.samples[2].reason


BAD_REGISTRY = [
    ("establishments", {"kind": "kiosk"}, "kind", "not one of"),
    ("establishments", {"sector": "mixed"}, "sector", "not one of"),
    ("establishments", {"ubigeo": "150199"}, "ubigeo", "unknown INEI district"),
    ("establishments", {"ruc": "2012345678"}, "ruc", "11 digits"),
    ("establishments", {"authorized_controlled": "maybe"}, "authorized_controlled", "true or false"),
    ("establishments", {"authorization_expires": "2026-02-30"}, "authorization_expires", "YYYY-MM-DD"),
    ("establishments", {"name": ""}, "name", "required"),
    ("professionals", {"professional_id": "12345"}, "professional_id", "prefix"),
    ("professionals", {"professional_id": "CMP-12A"}, "professional_id", "prefix"),
    ("professionals", {"role": "surgeon"}, "role", "not one of"),
    ("professionals", {"role": "pharmacist"}, "role", "belongs to role prescriber"),
    ("professionals", {"establishment_id": "EST-NONE"}, "establishment_id", "unknown establishment"),
    ("professionals", {"ubigeo": "12"}, "ubigeo", "unknown INEI"),
    ("professionals", {"opioid_certified_on": "2025/01/01"}, "opioid_certified_on", "YYYY-MM-DD"),
    ("professionals", {"full_name": ""}, "full_name", "required"),
    ("products", {"dosage_form": "syrup"}, "dosage_form", "not one of"),
    ("products", {"strength_mg_per_unit": "0"}, "strength_mg_per_unit", "positive"),
    ("products", {"strength_mg_per_unit": "abc"}, "strength_mg_per_unit", "not a number"),
    ("products", {"patch_mcg_per_hour": "-25"}, "patch_mcg_per_hour", "positive"),
    ("products", {"units_per_pack": "2.5"}, "units_per_pack", "whole number"),
    ("products", {"substance": "Fentanilo!"}, "substance", "lower case"),
]
BASE = {"establishments": ESTABLISHMENTS[0], "professionals": PROFESSIONALS[0],
        "products": PRODUCTS[0]}


@pytest.mark.parametrize("stem,change,field,reason", BAD_REGISTRY,
                         ids=[f"{b[0]}.{b[2]}" for b in BAD_REGISTRY])
def test_bad_registry_record_is_rejected(engine, session, data_dir, stem, change, field, reason):
    write_registry(data_dir)
    rows = {"establishments": ESTABLISHMENTS, "professionals": PROFESSIONALS,
            "products": PRODUCTS}[stem]
    bad = {**BASE[stem], **change}
    key = next(iter(bad))
    bad[key] = bad[key] if key in change else bad[key] + "9"
    write_csv(data_dir, stem, [*rows, bad])
    report = import_directory(engine, data_dir)
    fr = next(f for f in report.files if f.record_type == stem)
    assert fr.rejected == 1 and fr.accepted == len(rows)
    assert fr.samples[0].field == field and reason in fr.samples[0].reason
    assert fr.samples[0].line == len(rows) + 2
    assert _only_rejection(session).record_type == stem


def test_registry_derives_departments(engine, session, data_dir):
    write_registry(data_dir)
    import_directory(engine, data_dir)
    assert session.get(Establishment, "EST-HOS").department == "08"
    assert session.get(Professional, "CMP-012345").department == "08"  # from its workplace
    assert session.get(Product, "EE-00002").patch_mcg_per_hour == 25.0


BAD_SEIZURES = [
    ({"ubigeo": "000000"}, "ubigeo", "unknown INEI"),
    ({"agency": ""}, "agency", "required"),
    ({"occurred_at": "ayer"}, "occurred_at", "ISO 8601"),
    ({"context": "school"}, "context", "not one of"),
    ({"form": "gas"}, "form", "not one of"),
    ({"smiles": "C1CC(("}, "smiles", "SMILES"),
    ({"units": "-2"}, "units", "negative"),
    ({"purity_percent": "140"}, "purity_percent", "0 to 100"),
    ({"product_code": "NOPE"}, "product_code", "unknown product"),
]
SEIZURE = {"seizure_id": "INC-1", "occurred_at": T, "ubigeo": "150101", "agency": "PNP-DIRANDRO",
           "context": "street", "substance": "fentanyl",
           "smiles": "CCC(=O)N(c1ccccc1)C1CCN(CCc2ccccc2)CC1", "form": "powder", "units": "",
           "net_mass_mg": "1200", "purity_percent": "12.5", "product_code": "", "lot": "",
           "serial": ""}


@pytest.mark.parametrize("change,field,reason", BAD_SEIZURES, ids=[b[1] for b in BAD_SEIZURES])
def test_bad_seizure_is_rejected(engine, session, registry_dir, change, field, reason):
    write_csv(registry_dir, "seizures", [SEIZURE, {**SEIZURE, "seizure_id": "INC-2", **change}])
    report = import_directory(engine, registry_dir)
    fr = report.files[-1]
    assert (fr.accepted, fr.rejected) == (1, 1)
    assert fr.samples[0].field == field and reason in fr.samples[0].reason
    assert session.get(Seizure, "INC-1").net_mass_mg == 1200.0


def test_an_impossible_date_and_a_lost_leading_zero_say_what_to_fix():
    from centinela.ingest.values import Invalid, parse_time, unknown_ubigeo

    with pytest.raises(Invalid, match="impossible date or time: '2026-02-30T10:00:00'"):
        parse_time("occurred_at", "2026-02-30T10:00:00")
    with pytest.raises(Invalid, match="'2025-06-14T24:00:00-05:00'"):
        parse_time("occurred_at", "2025-06-14T24:00:00-05:00")
    with pytest.raises(Invalid, match="not an ISO 8601"):
        parse_time("occurred_at", "14/03/2025 10:00")
    assert "070101" in unknown_ubigeo("70101") and "leading zero" in unknown_ubigeo("70101")
    assert "leading zero" not in unknown_ubigeo("999999")
