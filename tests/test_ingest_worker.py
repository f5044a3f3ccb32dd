"""Validation in a second process (``ingest.worker``): the same results as in-process, and a
failure of either process rolls the whole import back."""

from __future__ import annotations

import io
import logging
import marshal
import os
import signal
import sys

import pytest
from sqlalchemy import select

from centinela.ingest import pipeline, worker
from centinela.ingest.fields import SPECS
from centinela.ingest.service import ImportFailed, import_directory
from centinela.ledger.records import Movement, Rejection
from centinela.privacy import pseudonymize
from tests import test_ingest_idempotency as idem
from tests import test_ingest_privacy as priv
from tests import test_ingest_validation as val
from tests.ingest_support import movement, write_csv, write_registry

registry_dir = val.registry_dir  # the fixture, for the validation tests re-run below
T = "2025-03-01T10:00:00-05:00"


@pytest.fixture
def in_worker(monkeypatch) -> list:
    """Send every movements file through the validating child process; list the children."""
    return _force_worker(monkeypatch)


def _force_worker(monkeypatch) -> list:
    started: list[worker.Worker] = []
    real_init = worker.Worker.__init__

    def spy(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        started.append(self)

    monkeypatch.setattr(worker, "PARALLEL_MIN_ROWS", 0)
    monkeypatch.setattr(worker, "parallel_possible", lambda: True)
    monkeypatch.setattr(worker.Worker, "__init__", spy)
    return started


def _batch_size(monkeypatch, n: int) -> None:
    monkeypatch.setenv("CENTINELA_IMPORT_BATCH_SIZE", str(n))
    from centinela.config import get_settings

    get_settings.cache_clear()


@pytest.mark.parametrize("mode", ["in-process", "worker", "worker-direct"])
def test_every_rule_gives_the_same_rejection_in_both_processes(engine, session, registry_dir,
                                                                monkeypatch, mode):
    started = []
    if mode != "in-process":
        started = _force_worker(monkeypatch)
    if mode == "worker-direct":  # PostgreSQL: the child writes COPY text for MonthLoader
        monkeypatch.setattr(pipeline, "BULK_MIN_ROWS", 0)
    _batch_size(monkeypatch, 7)  # several batches, rejections in between
    rows = [val.GOOD | {"event_id": "OK-0"}]
    for n, (change, _field, _reason) in enumerate(val.BAD_MOVEMENTS):
        rows.append({**val.GOOD, "event_id": f"BAD-{n}", **change})
        rows.append(val.GOOD | {"event_id": f"OK-{n + 1}", "patient_id": f"DNI:4{n:07d}",
                                "event_type": "administer", "quantity": "0.5"})
    rows.append(val.GOOD | {"event_id": "OK-0"})  # a duplicate (same content)…
    rows.append(val.GOOD | {"event_id": "OK-0", "quantity": "11"})  # …and a conflict
    write_csv(registry_dir, "movements", rows)
    mv = import_directory(engine, registry_dir).files[-1]
    assert len(started) == (0 if mode == "in-process" else 1)
    n_bad = len(val.BAD_MOVEMENTS)
    assert (mv.read, mv.accepted, mv.rejected, mv.duplicates, mv.conflicts) == (
        len(rows), n_bad + 1, n_bad, 1, 1)
    stored = {r.line: r for r in session.scalars(select(Rejection))}
    for n, (change, field, reason) in enumerate(val.BAD_MOVEMENTS):
        r = stored[3 + 2 * n]  # header is line 1, OK-0 line 2
        assert (r.field, r.kind) == (field, "invalid")
        assert r.record["event_id"] == change.get("event_id", f"BAD-{n}")
        assert reason in r.reason, (field, r.reason)
    conflict = stored[len(rows) + 1]
    assert (conflict.kind, conflict.field, conflict.record["quantity"]) == ("conflict",
                                                                            "event_id", 11.0)
    ok1 = session.scalar(select(Movement).where(Movement.event_id == "OK-1"))
    assert ok1.patient_id == pseudonymize("DNI:40000000") and ok1.quantity == 0.5
    ids = [m.event_id for m in session.scalars(select(Movement).order_by(Movement.id))]
    assert ids == ["OK-0", *[f"OK-{n + 1}" for n in range(n_bad)]]  # file order kept


def _from_copy(line: str) -> tuple:
    """Read one line of ``COPY … (NULL '')`` text back: values ('' → None, escapes undone)."""
    out = []
    for v in line.rstrip("\n").split("\t"):
        if v == "":
            out.append(None)
            continue
        i, text = 0, []
        while i < len(v):
            if v[i] == "\\":
                text.append({"t": "\t", "n": "\n", "r": "\r", "\\": "\\"}[v[i + 1]])
                i += 2
            else:
                text.append(v[i])
                i += 1
        out.append("".join(text))
    return tuple(out)


def test_copy_text_rows_hold_the_same_values_as_row_tuples():
    # The child writes rows as COPY text for writer.MonthLoader: the same values as the row
    # tuples (floats as repr, dates ISO, NULL for empty), tabs, newlines, backslashes and the
    # hash's separator escaped or kept apart, and the key hash and month the loader needs.
    from centinela.ingest.validate import Known, make_movement_checker

    known = Known({"EST-HOS", "EST-DIS"}, {"CMP-1", "CEP-1"}, {"EE-00001"})
    plain = make_movement_checker(known, 42, pseudonym_key="k" * 32)
    text = make_movement_checker(known, 42, pseudonym_key="k" * 32, copy_text=True)
    fields = SPECS["movements"].fields
    records = [
        {"event_id": "A-1", "event_type": "receipt", "occurred_at": "2025-03-31T22:30:00-05:00",
         "establishment_id": "EST-HOS", "product_code": "EE-00001", "quantity": "3",
         "counterparty_id": "EST-DIS", "lot": "L1", "expiry": "2027-01-31"},
        {"event_id": "A-2", "event_type": "administer", "occurred_at": "2025-03-14T09:30:00",
         "establishment_id": "EST-HOS", "product_code": "EE-00001", "quantity": "0.5",
         "prescriber_id": "CMP-1", "patient_id": "DNI:40000001", "patient_sex": "F",
         "patient_birth_year": "1960", "patient_ubigeo": "150101", "lot": "L\\1\tx",
         "serial": "S\n2\r", "prescription_id": "R\\N"},
        {"event_id": "A-3", "event_type": "receipt", "occurred_at": "2025-03-14T09:30:00",
         "establishment_id": "EST-HOS", "product_code": "EE-00001", "quantity": "2",
         "counterparty_id": "EST-DIS", "lot": "L\x1fM"},  # the hash's separator in a value
    ]
    for rec in records:
        vals = tuple(rec.get(f, "") for f in fields)
        row = plain(vals)
        line, key, month = text(vals)
        assert line.endswith("\n") and line.count("\n") == 1
        want = tuple(None if v is None else repr(v) if isinstance(v, float) else str(v)
                     for v in row)
        assert _from_copy(line) == want
        assert key == hash((row[3], row[0])) and month == row[2][:7]
    assert text(tuple(records[0].get(f, "") for f in fields))[2] == "2025-04"  # UTC month


@pytest.mark.parametrize("direct", [False, True], ids=["staged", "direct"])
def test_worker_stores_values_with_characters_copy_escapes(in_worker, engine, session,
                                                           registry_dir, monkeypatch, direct):
    # Through the child and, on PostgreSQL with ``direct``, its COPY text: the same values
    # stored as through row tuples (tab, newline, backslash, "\\N", the hash's separator).
    if direct:
        monkeypatch.setattr(pipeline, "BULK_MIN_ROWS", 0)
    rows = [val.GOOD | {"event_id": "T-1", "lot": "L\\1\tx", "serial": "S\n2"},
            val.GOOD | {"event_id": "T-2", "lot": "\\N", "serial": "A\x1fB"},
            val.GOOD | {"event_id": "T-3"}]
    write_csv(registry_dir, "movements", rows)
    mv = import_directory(engine, registry_dir).files[-1]
    assert (mv.accepted, mv.rejected) == (3, 0) and in_worker
    got = {m.event_id: (m.lot, m.serial, m.counterparty_id, m.patient_id)
           for m in session.scalars(select(Movement))}
    assert got == {"T-1": ("L\\1\tx", "S\n2", "EST-DIS", None),
                   "T-2": ("\\N", "A\x1fB", "EST-DIS", None),
                   "T-3": (None, None, "EST-DIS", None)}


# The behaviour tests of the other intake modules, re-run with the child process validating.

def test_worker_well_formed_anomalies(in_worker, engine, session, registry_dir):
    val.test_well_formed_anomalies_are_accepted_not_rejected(engine, session, registry_dir)
    assert in_worker


def test_worker_refuses_unknown_and_missing_columns(in_worker, engine, session, registry_dir):
    val.test_unknown_column_refuses_the_file_and_says_which(engine, session, registry_dir)
    val.test_missing_required_column_refuses_the_file(engine, session, registry_dir)
    assert not in_worker  # refused in the child, before it was handed over


def test_worker_optional_columns(in_worker, engine, session, registry_dir):
    val.test_optional_columns_may_be_absent(engine, session, registry_dir)
    assert in_worker


def test_worker_bad_utf8_and_field_count(in_worker, engine, session, registry_dir):
    val.test_csv_row_with_wrong_field_count_and_bad_utf8(engine, session, registry_dir)
    assert in_worker


def test_worker_jsonl(in_worker, engine, session, registry_dir):
    val.test_jsonl_movements_types_and_unknown_field(engine, session, registry_dir)
    assert in_worker


@pytest.mark.parametrize("name", [
    "test_resending_identical_events_is_a_noop",
    "test_same_number_written_differently_is_the_same_content",
    "test_different_content_under_same_event_id_is_a_kept_conflict",
])
@pytest.mark.parametrize("direct", [False, True], ids=["staged", "direct"])
def test_worker_idempotency(in_worker, engine, session, data_dir, monkeypatch, name, direct):
    if direct:  # PostgreSQL: COPY straight into month tables (writer.MonthLoader)
        monkeypatch.setattr(pipeline, "BULK_MIN_ROWS", 0)
    getattr(idem, name)(engine, session, data_dir)
    assert in_worker


@pytest.mark.parametrize("name", [
    "test_duplicates_and_conflicts_within_one_file_and_across_batches",
    "test_many_rejections_between_batches_are_all_kept",
])
@pytest.mark.parametrize("direct", [False, True], ids=["staged", "direct"])
def test_worker_batches(in_worker, engine, session, data_dir, monkeypatch, name, direct):
    if direct:
        monkeypatch.setattr(pipeline, "BULK_MIN_ROWS", 0)
    getattr(idem, name)(engine, session, data_dir, monkeypatch)
    assert in_worker


@pytest.mark.parametrize("bulk", [False, True], ids=["batched", "bulk-index-rebuild"])
def test_worker_failure_in_the_writer_rolls_back_and_stops_the_child(in_worker, engine,
                                                                     session, data_dir,
                                                                     monkeypatch, bulk):
    idem.test_failure_after_half_the_batches_leaves_the_database_as_before(
        engine, session, data_dir, monkeypatch, bulk)
    assert len(in_worker) == 2
    assert all(w._proc.poll() is not None for w in in_worker)  # no child left behind


def test_worker_no_document_number_anywhere(in_worker, engine, session, data_dir, caplog,
                                            monkeypatch):
    priv.test_no_document_number_anywhere(engine, session, data_dir, caplog, monkeypatch)
    assert len(in_worker) == 2


def test_worker_jsonl_pseudonymizes_too(in_worker, engine, session, data_dir):
    priv.test_jsonl_and_api_paths_pseudonymize_too(engine, session, data_dir)
    assert in_worker


def test_child_that_dies_mid_file_fails_the_import_and_rolls_back(in_worker, engine, session,
                                                                  data_dir, monkeypatch):
    write_registry(data_dir)
    _batch_size(monkeypatch, 10)
    # ~1 MB of batches: far more than the pipe holds, so the child is still writing when killed.
    write_csv(data_dir, "movements", [
        movement(f"K{i}", "receipt", T, "EST-HOS", "2", counterparty_id="EST-DIS",
                 lot=f"L{i % 7}") for i in range(5000)])
    real = pipeline._insert_movements

    def kill_child_then_insert(ctx, batch):
        proc = in_worker[0]._proc
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        return real(ctx, batch)

    monkeypatch.setattr(pipeline, "_insert_movements", kill_child_then_insert)
    with pytest.raises(ImportFailed) as err:
        import_directory(engine, data_dir)
    assert "validation process ended before the file did" in err.value.report.error
    session.expire_all()
    assert session.scalar(select(Movement.id).limit(1)) is None
    assert session.scalar(select(Rejection.id).limit(1)) is None


def test_child_reports_its_own_failure_redacted():
    out = io.BytesIO()
    worker._child(("/nonexistent/DNI:45678912/movements.csv", ([], [], []), 1, "k", 10), out)
    data = out.getvalue()
    size = int.from_bytes(data[:8], "little")
    kind, message = marshal.loads(data[8:8 + size])
    assert kind == "error" and "FileNotFoundError" in message
    assert "45678912" not in message and "DNI:[redactado]" in message


def test_no_second_process_falls_back_to_validating_here(in_worker, engine, session, data_dir,
                                                         monkeypatch, caplog):
    monkeypatch.setattr(sys, "executable", "")
    write_registry(data_dir)
    write_csv(data_dir, "movements", [movement("F1", "receipt", T, "EST-HOS", "2",
                                               counterparty_id="EST-DIS")])
    caplog.set_level(logging.WARNING, logger="centinela.ingest")
    assert import_directory(engine, data_dir).files[-1].accepted == 1
    assert not in_worker and "validating in this one" in caplog.text


def test_the_child_started_ahead_validates_the_file_and_none_is_left_running(
        engine, session, registry_dir, monkeypatch):
    """The child is spawned before the registry files (its start overlaps them) and is the one
    that validates the movements; a child spawned but never given a job is stopped."""
    started = _force_worker(monkeypatch)
    spawned = []
    real_spawn = worker.spawn

    def spy_spawn():
        proc = real_spawn()
        spawned.append(proc)
        return proc

    monkeypatch.setattr(worker, "spawn", spy_spawn)
    write_csv(registry_dir, "movements", [val.GOOD | {"event_id": "OK-1"}])
    mv = import_directory(engine, registry_dir).files[-1]
    assert (mv.read, mv.accepted) == (1, 1)
    assert len(started) == 1 and len(spawned) == 1  # the spare was used, no second start
    assert started[0]._proc is spawned[0]
    assert spawned[0].poll() is not None
    # A child whose file is refused at its header is stopped too.
    (registry_dir / "movements.csv").write_text("not,the,header\n1,2,3\n")
    spawned.clear()
    import_directory(engine, registry_dir)
    assert len(spawned) == 1 and spawned[0].poll() is not None


def test_the_child_imports_neither_sqlalchemy_nor_the_models():
    """The child's start is on the import's critical path: it loads only the intake modules
    (the event types come from ``reference.events``, the ledger's one copy)."""
    import subprocess

    from centinela.ingest.fields import MOVEMENT_EVENT_TYPES
    from centinela.ledger.records import EVENT_TYPES

    assert MOVEMENT_EVENT_TYPES is EVENT_TYPES
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    out = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", "import sys, centinela.ingest.worker; "
         "print(sorted(m for m in sys.modules if m.startswith(('sqlalchemy', 'centinela.ledger'))))"],
        capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "[]"


def test_the_child_finishes_while_the_import_is_busy_elsewhere(data_dir):
    """A thread drains the child's pipe while the importing process waits on the database: the
    child writes every batch and ends even though nobody took a batch yet, and the batches
    then come out whole and in file order. Closing early stops both."""
    import time

    from centinela.ingest.validate import Known

    known = Known({"EST-HOS", "EST-DIS"}, {"CMP-1", "CEP-1"}, {"EE-00001"})
    # 10 batches of 1,000 rows, ~3.5 MB: more than the pipe holds (1 MiB at most).
    rows = [movement(f"RA-{i}", "receipt", T, "EST-HOS", "2", counterparty_id="EST-DIS",
                     lot=f"LOTE-{i:06d}-" + "x" * 45, serial=f"SN-{i:08d}-" + "y" * 60)
            for i in range(10_000)]
    path = write_csv(data_dir, "movements", rows)
    w = worker.Worker(path, known, 7, "k" * 32, batch_size=1000)
    batches = iter(w)
    first = next(batches)  # the reading thread runs from here on
    deadline = time.monotonic() + 30
    while w._proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert w._proc.poll() == 0  # it ended with 9 batches untaken: they wait in the thread's
    assert w._frames.qsize() >= 10  # queue (with the end), not in a full pipe
    got = [first, *batches]
    assert [len(b[0]) for b in got] == [1000] * 10
    assert [line for b in got for line in b[1]] == list(range(2, 10_002))
    # Closing before the end: the child and the thread stop, nothing hangs.
    w = worker.Worker(path, known, 7, "k" * 32, batch_size=1)
    next(iter(w))
    w.close()
    assert w._proc.poll() is not None and not w._thread.is_alive()
