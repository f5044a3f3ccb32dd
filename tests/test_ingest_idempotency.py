"""Idempotency, conflicts, registry updates, one transaction per import, extension files."""

from __future__ import annotations

import pytest
from sqlalchemy import func, inspect, select

from centinela.ingest import hooks, pipeline, writer
from centinela.ingest.service import ImportFailed, import_directory, import_records
from centinela.ledger.records import ImportRun, Movement, Rejection, Seizure
from centinela.registry.models import Establishment, Professional
from tests.ingest_support import (
    ESTABLISHMENTS,
    PROFESSIONALS,
    movement,
    write_csv,
    write_registry,
)

T = "2025-03-01T10:00:00-05:00"


def _count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def _movements(n: int, prefix: str = "E") -> list[dict]:
    return [movement(f"{prefix}{i}", "transfer_out", T, "EST-DIS", str(1 + i % 5),
                     counterparty_id="EST-HOS", lot=f"L{i % 3}") for i in range(n)]


def test_resending_identical_events_is_a_noop(engine, session, data_dir):
    write_registry(data_dir)
    write_csv(data_dir, "movements", _movements(30))
    first = import_directory(engine, data_dir)
    again = import_directory(engine, data_dir)
    assert first.files[-1].accepted == 30
    assert (again.files[-1].accepted, again.files[-1].duplicates) == (0, 30)
    assert [f.duplicates for f in again.files[:3]] == [4, 3, 3]  # registry unchanged
    assert _count(session, Movement) == 30 and _count(session, Rejection) == 0


def test_same_number_written_differently_is_the_same_content(engine, session, data_dir):
    write_registry(data_dir)
    write_csv(data_dir, "movements", [movement("Q1", "receipt", T, "EST-HOS", "3",
                                               counterparty_id="EST-DIS")])
    import_directory(engine, data_dir)
    write_csv(data_dir, "movements", [movement("Q1", "receipt", "2025-03-01T15:00:00+00:00",
                                               "EST-HOS", "3.0", counterparty_id="EST-DIS")])
    again = import_directory(engine, data_dir)
    assert again.files[-1].duplicates == 1 and again.files[-1].conflicts == 0


def test_different_content_under_same_event_id_is_a_kept_conflict(engine, session, data_dir):
    write_registry(data_dir)
    write_csv(data_dir, "movements", _movements(3))
    import_directory(engine, data_dir)
    changed = _movements(3)
    changed[1]["quantity"] = "99"
    changed.append(movement("E0", "transfer_out", T, "EST-HOS", "1", counterparty_id="EST-DIS"))
    write_csv(data_dir, "movements", changed)
    report = import_directory(engine, data_dir)
    mv = report.files[-1]
    # E0 at another reporter is a different event: event_id is unique per reporter.
    assert (mv.accepted, mv.duplicates, mv.conflicts) == (1, 2, 1)
    kept = session.scalar(select(Rejection).where(Rejection.kind == "conflict"))
    assert kept.record["quantity"] == 99.0 and kept.line == 3 and kept.record_key == "E1"
    assert f"import #{report.import_id - 1}" in kept.reason
    stored = session.scalar(select(Movement).where(Movement.event_id == "E1"))
    assert stored.quantity == 2.0  # the first version stays
    assert "[conflicto/conflict]" in report.as_text()


def test_duplicates_and_conflicts_within_one_file_and_across_batches(engine, session, data_dir,
                                                                    monkeypatch):
    monkeypatch.setenv("CENTINELA_IMPORT_BATCH_SIZE", "4")
    from centinela.config import get_settings

    get_settings.cache_clear()
    write_registry(data_dir)
    rows = _movements(6)
    rows += [rows[0], rows[5], {**rows[2], "quantity": "50"}]  # batch 3 repeats batch 1 and 2
    rows.insert(2, rows[1])  # a repeat inside the first batch
    write_csv(data_dir, "movements", rows)
    mv = import_directory(engine, data_dir).files[-1]
    assert (mv.read, mv.accepted, mv.duplicates, mv.conflicts) == (10, 6, 3, 1)
    assert _count(session, Movement) == 6


def test_seizure_resend_and_conflict(engine, session, data_dir):
    write_registry(data_dir)
    seizure = {"seizure_id": "S-1", "occurred_at": T, "ubigeo": "150101", "agency": "SUNAT",
               "substance": "fentanyl", "net_mass_mg": "10"}
    write_csv(data_dir, "seizures", [seizure, seizure, {**seizure, "net_mass_mg": "11"}],
              fields=list(seizure))
    first = import_directory(engine, data_dir).files[-1]
    assert (first.accepted, first.duplicates, first.conflicts) == (1, 1, 1)
    second = import_directory(engine, data_dir).files[-1]
    assert (second.accepted, second.duplicates, second.conflicts) == (0, 2, 1)
    assert session.get(Seizure, "S-1").net_mass_mg == 10.0


def test_changed_registry_record_is_updated_and_counted(engine, session, data_dir):
    write_registry(data_dir)
    import_directory(engine, data_dir)
    renewed = [dict(e) for e in ESTABLISHMENTS]
    renewed[2]["authorization_expires"] = "2027-06-30"
    write_csv(data_dir, "establishments", renewed)
    pros = [dict(p) for p in PROFESSIONALS]
    pros[1]["opioid_certified_on"] = "2025-09-01"
    write_csv(data_dir, "professionals", pros)
    report = import_directory(engine, data_dir)
    est, pro = report.files[0], report.files[1]
    assert (est.updated, est.duplicates, pro.updated, pro.duplicates) == (1, 3, 1, 2)
    session.expire_all()
    assert str(session.get(Establishment, "EST-HOS").authorization_expires) == "2027-06-30"
    assert session.get(Professional, "CQFP-01234").import_id == report.import_id
    assert "1 actualizados/updated" in report.as_text()


def test_registry_updates_are_listed_with_the_fields_that_changed(engine, data_dir):
    write_registry(data_dir)
    import_directory(engine, data_dir)
    pros = [dict(p) for p in PROFESSIONALS]
    pros[1].update(establishment_id="EST-HOS", ubigeo="080101")
    write_csv(data_dir, "professionals", pros)
    report = import_directory(engine, data_dir)
    assert report.files[1].changes == [("CQFP-01234", ["establishment_id", "ubigeo"])]
    assert "CQFP-01234 (establishment_id, ubigeo)" in report.as_text()
    assert report.as_dict()["files"][1]["updates"] == [
        {"key": "CQFP-01234", "fields": ["establishment_id", "ubigeo"]}]


def test_a_college_number_sent_for_another_person_is_a_conflict_not_an_update(
        engine, session, data_dir):
    """The same CMP/CQFP number with a name that shares no word with the registered one is
    another person (a typo in the number): kept as a conflict, the registered one untouched.
    An accent fixed or a married name added is an ordinary update."""
    write_registry(data_dir)
    import_directory(engine, data_dir)
    pros = [dict(p) for p in PROFESSIONALS]
    pros[0]["full_name"] = "Ángel Cáceres Ñique"  # registered: Ana Quispe
    pros[1]["full_name"] = "Luis Alberto Mamani de la Cruz"  # registered: Luis Mamani
    write_csv(data_dir, "professionals", pros)
    report = import_directory(engine, data_dir)
    pro = report.files[1]
    assert (pro.conflicts, pro.updated) == (1, 1)
    assert "otra persona" in pro.samples[0].reason and pro.samples[0].field == "full_name"
    session.expire_all()
    assert session.get(Professional, "CMP-012345").full_name == "Ana Quispe"
    assert session.get(Professional, "CQFP-01234").full_name == "Luis Alberto Mamani de la Cruz"


def test_empty_certificate_columns_keep_the_stored_certificate(engine, session, data_dir):
    write_registry(data_dir)
    import_directory(engine, data_dir)
    pros = [dict(p) for p in PROFESSIONALS]
    pros[0].update(opioid_certified_on="", certificate_id="")  # registered: 2025-02-01, CERT-1
    write_csv(data_dir, "professionals", pros)
    report = import_directory(engine, data_dir)
    assert (report.files[1].updated, report.files[1].duplicates) == (0, 3)
    session.expire_all()
    ana = session.get(Professional, "CMP-012345")
    assert (str(ana.opioid_certified_on), ana.certificate_id) == ("2025-02-01", "CERT-1")
    pros[0].update(opioid_certified_on="2026-02-03", certificate_id="CERT-9")  # renewed
    write_csv(data_dir, "professionals", pros)
    assert import_directory(engine, data_dir).files[1].updated == 1
    session.expire_all()
    assert session.get(Professional, "CMP-012345").certificate_id == "CERT-9"


def test_a_refused_file_counts_as_one_stored_rejection_in_the_summary(engine, data_dir):
    (data_dir / "movements.csv").write_text("event_id;event_type\nA;dispense\nB;dispense\n")
    report = import_directory(engine, data_dir)
    text = report.as_text()
    assert "punto y coma" in text and "más / more" not in text


def test_registry_record_twice_in_one_import_with_other_content_is_a_conflict(engine, data_dir):
    write_registry(data_dir)
    write_csv(data_dir, "establishments",
              [*ESTABLISHMENTS, {**ESTABLISHMENTS[0], "name": "Otra"}])
    est = import_directory(engine, data_dir).files[0]
    assert (est.accepted, est.conflicts) == (4, 1)


def _table_state(session) -> dict:
    return {m.__tablename__: _count(session, m)
            for m in (Movement, Rejection, Seizure, ImportRun, Establishment, Professional)}


@pytest.mark.parametrize("bulk", [False, True], ids=["batched", "bulk-index-rebuild"])
def test_failure_after_half_the_batches_leaves_the_database_as_before(engine, session, data_dir,
                                                                     monkeypatch, bulk):
    write_registry(data_dir)
    write_csv(data_dir, "movements", _movements(5))
    import_directory(engine, data_dir)
    before = _table_state(session)
    indexes_before = sorted(ix["name"] for ix in inspect(engine).get_indexes("movements"))

    monkeypatch.setenv("CENTINELA_IMPORT_BATCH_SIZE", "10")
    from centinela.config import get_settings

    get_settings.cache_clear()
    if bulk:
        monkeypatch.setattr(pipeline, "BULK_MIN_ROWS", 10)
    rows = _movements(60, prefix="N")
    rows[3]["quantity"] = "-1"  # a rejection that must vanish too
    write_csv(data_dir, "movements", rows)
    new_est = dict(ESTABLISHMENTS[0], establishment_id="EST-NEW")
    write_csv(data_dir, "establishments", [*ESTABLISHMENTS, new_est])
    calls = {"n": 0}
    real = writer.Bulk.insert_ignore

    def failing(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:  # after three of six movement batches were written
            raise RuntimeError("disk unplugged")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(writer.Bulk, "insert_ignore", failing)
    with pytest.raises(ImportFailed) as err:
        import_directory(engine, data_dir)
    assert err.value.report.status == "failed" and "disk unplugged" in err.value.report.error
    session.expire_all()
    assert _table_state(session) == before
    assert session.get(Establishment, "EST-NEW") is None
    assert sorted(ix["name"] for ix in inspect(engine).get_indexes("movements")) == indexes_before


def test_bulk_load_rebuilds_the_same_indexes(engine, session, data_dir, monkeypatch):
    monkeypatch.setattr(pipeline, "BULK_MIN_ROWS", 1)
    before = sorted(ix["name"] for ix in inspect(engine).get_indexes("movements"))
    write_registry(data_dir)
    write_csv(data_dir, "movements", _movements(20))
    assert import_directory(engine, data_dir).files[-1].accepted == 20
    assert sorted(ix["name"] for ix in inspect(engine).get_indexes("movements")) == before


def test_extension_file_runs_inside_the_import(engine, session, data_dir, monkeypatch):
    calls = []

    def fake_overdoses(sess, path, import_id):
        calls.append((path.name, import_id))
        lines = path.read_text().splitlines()
        return {"accepted": len(lines) - 1, "rejected": 0}

    monkeypatch.setitem(hooks.EXTRA_FILES, "overdoses", fake_overdoses)
    write_registry(data_dir)
    (data_dir / "overdoses.csv").write_text("case_id\nOD-1\nOD-2\n")
    (data_dir / "notes.txt").write_text("ignored")
    report = import_directory(engine, data_dir)
    assert calls == [("overdoses.csv", report.import_id)]
    od = report.files[-1]
    assert (od.name, od.accepted, od.read) == ("overdoses.csv", 2, 2)
    assert report.ignored == ["notes.txt"]


def test_api_batch_uses_the_same_path(engine, session, data_dir):
    write_registry(data_dir)
    import_directory(engine, data_dir)
    recs = [movement("API-1", "receipt", T, "EST-HOS", "2", counterparty_id="EST-DIS"),
            movement("API-2", "receipt", T, "EST-HOS", "0", counterparty_id="EST-DIS")]
    report = import_records(engine, "movements", recs, submitted_by="svc")
    fr = report.files[0]
    assert (fr.name, fr.accepted, fr.rejected) == ("api:movements", 1, 1)
    assert fr.samples[0].line == 2 and fr.samples[0].field == "quantity"
    run = session.get(ImportRun, report.import_id)
    assert run.channel == "api" and run.submitted_by == "svc" and run.accepted == 1


def test_many_rejections_between_batches_are_all_kept(engine, session, data_dir, monkeypatch):
    monkeypatch.setenv("CENTINELA_IMPORT_BATCH_SIZE", "3")
    from centinela.config import get_settings

    get_settings.cache_clear()
    write_registry(data_dir)
    rows = []
    for i in range(40):
        bad = i % 3 != 0
        rows.append(movement(f"M{i}", "receipt", T, "EST-HOS", "-1" if bad else "1",
                             counterparty_id="EST-DIS"))
    rows += rows[:6]  # re-sent: 2 duplicates of accepted rows, 4 rejected again
    write_csv(data_dir, "movements", rows)
    mv = import_directory(engine, data_dir).files[-1]
    assert (mv.read, mv.accepted, mv.duplicates, mv.rejected) == (46, 14, 2, 30)
    assert _count(session, Rejection) == 30 and _count(session, Movement) == 14
    lines = sorted(session.scalars(select(Rejection.line)))
    assert lines[:4] == [3, 4, 6, 7]


def test_a_nul_character_rejects_its_record_only(engine, session, data_dir):
    """One record with a NUL byte (PostgreSQL text cannot hold it) failed the whole import with
    a DataError: now that record is rejected with its reason and the others are stored, from a
    CSV file and from an API batch."""
    write_registry(data_dir)
    good = _movements(3)
    bad = dict(good[1], event_id="A\x00B")
    write_csv(data_dir, "movements", [good[0], bad, good[2]])
    report = import_directory(engine, data_dir)
    mv = report.files[-1]
    assert (mv.accepted, mv.rejected) == (2, 1)
    assert "NUL" in mv.samples[0].reason and mv.samples[0].field == "event_id"
    batch = import_records(engine, "movements", [dict(good[0], event_id="J-1"),
                                                 dict(good[0], event_id="J\x002", lot="L\x00")])
    assert (batch.files[0].accepted, batch.files[0].rejected) == (1, 1)
    assert _count(session, Movement) == 3
