"""No patient document number reaches any table, rejection, log line or message."""

from __future__ import annotations

import json
import logging

import pytest
from sqlalchemy import MetaData, select, text
from typer.testing import CliRunner

from centinela.cli import app
from centinela.ingest.values import fast_pseudonym
from centinela.ledger.records import Movement, Rejection
from centinela.privacy import pseudonymize
from tests.ingest_support import movement, write_csv, write_jsonl, write_registry

T = "2025-03-01T10:00:00-05:00"
DOCS = ["DNI:46281937", "CE:000847261", "PAS:QX8472615", "DNI:73918264", "DNI:59371842"]
NUMBERS = ["46281937", "000847261", "QX8472615", "73918264", "59371842"]


def _records() -> list[dict]:
    disp = {"prescription_id": "RE-1", "prescriber_id": "CMP-012345"}
    return [
        movement("P1", "dispense", T, "EST-FAR", "2", patient_id=DOCS[0], **disp),
        movement("P2", "administer", T, "EST-HOS", "0.5", patient_id=DOCS[1]),
        movement("P3", "dispense", T, "EST-FAR", "2", patient_id=DOCS[2], **disp),
        # Rejected for another field: its stored raw record must carry the pseudonym.
        movement("P4", "dispense", T, "EST-FAR", "-2", patient_id=DOCS[3], **disp),
        # Conflict: same event_id, other content.
        movement("P1", "dispense", T, "EST-FAR", "3", patient_id=DOCS[0], **disp),
        # Not a valid typed document: rejected, stored as [redactado].
        movement("P5", "administer", T, "EST-HOS", "1", patient_id="46281937"),
        # A document in the wrong column is redacted from messages and stored records.
        movement("P6", "receipt", T, "EST-HOS", "1", counterparty_id="DNI:59371842"),
    ]


def _dump_database(engine) -> str:
    meta = MetaData()
    meta.reflect(engine)
    chunks = []
    with engine.connect() as conn:
        for table in meta.sorted_tables:
            for row in conn.execute(select(table)):
                chunks.append(json.dumps([str(v) for v in row], ensure_ascii=False))
    return "\n".join(chunks)


def test_fast_pseudonym_matches_privacy_module():
    for doc in [*DOCS, "DNI:00012345", "dni:1", "PSN:abcd1234", "DNI:000", " CE:x1 ",
                "DNI:12 34", "DNI:", "PAS:a:b", "DNI:12\t3", "DNI:123\u00a0"]:
        try:
            expected = pseudonymize(doc)
        except ValueError:
            continue
        assert fast_pseudonym(doc) == expected


def test_no_document_number_anywhere(engine, session, data_dir, caplog, monkeypatch):
    monkeypatch.chdir(data_dir.parent)
    write_registry(data_dir)
    write_csv(data_dir, "movements", _records())
    caplog.set_level(logging.DEBUG)
    result = CliRunner().invoke(app, ["import", str(data_dir)])
    assert result.exit_code == 0, result.output
    result_json = CliRunner().invoke(app, ["import", str(data_dir), "--json"])
    out = result.output + result_json.output + caplog.text
    dump = _dump_database(engine)
    for number in NUMBERS:
        assert number not in dump, number
        assert number not in out, number
    stored = {m.event_id: m.patient_id for m in session.scalars(select(Movement))}
    assert stored["P1"] == pseudonymize(DOCS[0]) and stored["P2"] == pseudonymize(DOCS[1])
    rej = {r.record_key: r for r in session.scalars(select(Rejection).where(
        Rejection.import_id == 1))}
    assert rej["P4"].record["patient_id"] == pseudonymize(DOCS[3])
    assert rej["P5"].record["patient_id"] == "[redactado]" and rej["P5"].field == "patient_id"
    assert rej["P1"].kind == "conflict" and rej["P1"].record["patient_id"] == pseudonymize(DOCS[0])
    assert "DNI:[redactado]" in rej["P6"].reason


def test_jsonl_and_api_paths_pseudonymize_too(engine, session, data_dir):
    from centinela.ingest.service import import_directory, import_records

    write_registry(data_dir)
    write_jsonl(data_dir, "movements", [
        {**movement("J1", "administer", T, "EST-HOS", "1", patient_id="DNI:46281937")},
        {**movement("J2", "administer", T, "EST-HOS", "1", patient_id="DNI:73918264"),
         "nota": "x"},
    ])
    import_directory(engine, data_dir)
    import_records(engine, "movements", [
        movement("A1", "administer", T, "EST-HOS", "1", patient_id="PAS:QX8472615"),
        {"event_id": "A2", "patient_id": "DNI:59371842", "extra": 1},
    ])
    dump = _dump_database(engine)
    for number in NUMBERS:
        assert number not in dump
    with engine.connect() as conn:
        psns = conn.execute(text("SELECT patient_id FROM movements ORDER BY event_id")).scalars()
        assert all(p.startswith("PSN:") for p in psns)


@pytest.mark.parametrize(("a", "b"), [
    ("DNI:45678912", "DNI:45.678.912"), ("DNI:45678912", "dni: 45 678 912"),
    ("DNI:45678912", " DNI:45-678-912 "), ("DNI:01234567", "DNI:1234567"),
    ("PAS:AB123456", "pas:ab-123456"), ("CE:001234567", "CE:1234567"),
])
def test_one_person_written_two_ways_is_one_pseudonym(a, b):
    """Separators, case and leading zeros never split a patient's history (privacy and the
    intake's fast path agree)."""
    from centinela.ingest.values import fast_pseudonym
    from centinela.privacy import pseudonymize

    key = "k" * 40
    assert pseudonymize(a, key=key) == pseudonymize(b, key=key) == fast_pseudonym(b, key)
    assert fast_pseudonym(a, key) == pseudonymize(a, key=key)


@pytest.mark.parametrize("bad", ["DNI:abc", "DNI:0", "DNI:00000000", "DNI:123456789", "DNI:12345",
                                 "DNI:", "DNI:４５６７８９１２", "PAS:ABCDEF", "CE:12", "RUC:12345678",
                                 "45678912", "PSN:!!"])
def test_malformed_documents_are_refused_without_echoing_them(bad):
    from centinela.ingest.values import fast_pseudonym
    from centinela.privacy import DocumentError, pseudonymize

    for f in (lambda v: pseudonymize(v, key="k" * 40), lambda v: fast_pseudonym(v, "k" * 40)):
        with pytest.raises(DocumentError) as err:
            f(bad)
        number = bad.partition(":")[2]
        assert not number or number not in str(err.value)


def test_a_malformed_document_rejects_its_movement_with_the_reason(tmp_path):
    from centinela.ingest.fields import MOVEMENTS
    from centinela.ingest.validate import Known, make_movement_checker
    from centinela.ingest.values import Invalid

    check = make_movement_checker(Known({"EST-1"}, {"CMP-1"}, {"EE-1"}), 1,
                                  pseudonym_key="k" * 40)
    rec = {"event_id": "A-1", "event_type": "administer", "occurred_at": "2025-03-14T09:30:00",
           "establishment_id": "EST-1", "product_code": "EE-1", "quantity": "0.5",
           "prescriber_id": "CMP-1", "patient_id": "DNI:4567", "lot": "L1"}
    with pytest.raises(Invalid) as err:
        check(tuple(rec.get(f, "") for f in MOVEMENTS.fields))
    assert err.value.field == "patient_id" and "8 digits" in err.value.reason
    assert "4567" not in err.value.reason
    rec["patient_id"] = "DNI:45.678.912"
    row = check(tuple(rec.get(f, "") for f in MOVEMENTS.fields))
    assert row[13] == check(tuple((rec | {"patient_id": "DNI:45678912"}).get(f, "")
                                  for f in MOVEMENTS.fields))[13]
