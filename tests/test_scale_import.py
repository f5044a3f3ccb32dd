"""Issue 18 (import at scale): PostgreSQL monthly partitions of movements (created, kept ahead,
pruned, retired), the intake's key on a partitioned table, and the progress of running imports."""

from __future__ import annotations

import datetime as dt
import json
import os
import time

import pytest
from sqlalchemy import func, select, text

from centinela.ingest.progress import ImportProgress, folder, running_imports
from centinela.ingest.service import import_directory
from centinela.ledger.records import Movement, Rejection
from centinela.partitions import is_partitioned, maintain, partitions
from tests.ingest_support import movement, write_csv, write_registry
from tests.web_support import *  # noqa: F403
from tests.web_support import login

PG = bool(os.environ.get("CENTINELA_TEST_DATABASE_URL"))
pg_only = pytest.mark.skipif(not PG, reason="partitioning is PostgreSQL-only")


def _months(conn) -> set[str]:
    return {p["name"] for p in partitions(conn)}


@pg_only
def test_migration_partitions_movements_by_month_and_the_job_keeps_months_ahead(engine):
    with engine.begin() as conn:
        assert is_partitioned(conn)
        names = _months(conn)
        assert "movements_default" in names
        this = dt.date.today().replace(day=1)
        assert f"movements_{this.year:04d}_{this.month:02d}" in names
        done = maintain(conn, ahead=6, now=dt.datetime(2030, 1, 15))
        assert {"movements_2030_01", "movements_2030_07"} <= set(done.created)
        assert maintain(conn, ahead=6, now=dt.datetime(2030, 1, 15)).created == []  # idempotent
        pk = conn.execute(text(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'pk_movements' "
            "AND conrelid = 'movements'::regclass"
        )).scalar()
        assert pk == "PRIMARY KEY (id, occurred_at)"


@pg_only
def test_rows_outside_every_month_wait_in_the_default_and_move_to_their_month(engine, session,
                                                                            data_dir):
    write_registry(data_dir)
    write_csv(data_dir, "movements", [
        movement(f"OLD-{i}", "receipt", f"2019-03-{10 + i}T10:00:00-05:00", "EST-HOS", "2",
                 counterparty_id="EST-DIS") for i in range(3)])
    assert import_directory(engine, data_dir, realtime=False).files[-1].accepted == 3
    with engine.begin() as conn:
        in_default = conn.execute(text(
            "SELECT count(*) FROM movements WHERE tableoid::regclass::text LIKE "
            "'%movements_default'")).scalar()
        assert in_default == 3
        done = maintain(conn, ahead=0)
        assert done.moved == {"movements_2019_03": 3}
        assert conn.execute(text("SELECT count(*) FROM movements")).scalar() == 3
        # A query for that month reads only its partition (pruning).
        plan = "\n".join(conn.execute(text(
            "EXPLAIN SELECT * FROM movements WHERE occurred_at >= '2019-03-01' "
            "AND occurred_at < '2019-04-01'")).scalars())
        assert "movements_2019_03" in plan
        assert "movements_default" not in plan and "movements_20" not in plan.replace(
            "movements_2019_03", "")


@pg_only
def test_the_partition_job_analyzes_months_whose_statistics_are_missing_or_stale(
        engine, session, data_dir):
    # Without statistics the planner reads a partition as one row and picks nested loops; the
    # job analyzes what autovacuum (off on some servers, never on the parent) has not.
    with engine.begin() as conn:
        maintain(conn, ahead=0, since=dt.date(2019, 4, 1))
    write_registry(data_dir)
    write_csv(data_dir, "movements", [
        movement(f"S-{i}", "receipt", f"2019-04-{10 + i}T10:00:00-05:00", "EST-HOS", "2",
                 counterparty_id="EST-DIS") for i in range(5)])
    assert import_directory(engine, data_dir, realtime=False).files[-1].accepted == 5
    # The import's backend reports its inserted rows to the statistics a moment later (at
    # most a second after its commit, later on a busy server). Were that report to arrive after
    # the ANALYZE below, the month would read stale again: wait for it first.
    for _ in range(100):
        with engine.connect() as conn:
            if conn.execute(text(
                    "SELECT coalesce(sum(n_mod_since_analyze), 0) FROM pg_stat_user_tables "
                    "WHERE relname = 'movements_2019_04'")).scalar() >= 5:
                break
        time.sleep(0.1)
    with engine.begin() as conn:
        done = maintain(conn, ahead=0)
        assert "movements_2019_04" in done.analyzed
    with engine.begin() as conn:
        assert "movements_2019_04" not in maintain(conn, ahead=0).analyzed  # fresh now


@pg_only
def test_retention_detaches_old_months_into_the_archive_schema(engine, session, data_dir):
    write_registry(data_dir)
    write_csv(data_dir, "movements", [
        movement("R-OLD", "receipt", "2020-01-10T10:00:00-05:00", "EST-HOS", "2",
                 counterparty_id="EST-DIS")])
    import_directory(engine, data_dir, realtime=False)
    with engine.begin() as conn:
        maintain(conn, ahead=1)
        done = maintain(conn, ahead=1, retention_months=24)
        assert "movements_2020_01" in done.archived
        assert conn.execute(text("SELECT count(*) FROM movements")).scalar() == 0
        schema = conn.execute(text("SELECT current_schema()")).scalar()
        kept = conn.execute(text(
            f'SELECT count(*) FROM "{schema}_archive".movements_2020_01')).scalar()  # noqa: S608
        assert kept == 1
        conn.execute(text(f'DROP SCHEMA "{schema}_archive" CASCADE'))


@pytest.fixture(params=["staged", "direct"])
def path(request, monkeypatch):
    """Both PostgreSQL intake paths: the staged merge (small files) and, for a file of at least
    ``pipeline.BULK_MIN_ROWS`` expected rows, the direct COPY into month tables
    (``writer.MonthLoader``), forced here on small files."""
    if request.param == "direct":
        from centinela.ingest import pipeline

        monkeypatch.setattr(pipeline, "BULK_MIN_ROWS", 0)
    return request.param


def test_same_key_at_another_time_is_still_a_conflict(engine, session, data_dir, path):
    # On a partitioned table the database's unique key holds occurred_at too: the intake keeps
    # (establishment_id, event_id) unique itself, across months and across imports.
    write_registry(data_dir)
    write_csv(data_dir, "movements", [
        movement("K-1", "receipt", "2025-03-10T10:00:00-05:00", "EST-HOS", "2",
                 counterparty_id="EST-DIS"),
        movement("K-1", "receipt", "2025-05-10T10:00:00-05:00", "EST-HOS", "2",
                 counterparty_id="EST-DIS"),
        movement("K-2", "receipt", "2025-03-11T10:00:00-05:00", "EST-HOS", "2",
                 counterparty_id="EST-DIS")])
    fr = import_directory(engine, data_dir, realtime=False).files[-1]
    assert (fr.accepted, fr.conflicts, fr.duplicates) == (2, 1, 0)
    write_csv(data_dir, "movements", [
        movement("K-2", "receipt", "2025-07-11T10:00:00-05:00", "EST-HOS", "2",
                 counterparty_id="EST-DIS"),
        movement("K-1", "receipt", "2025-03-10T10:00:00-05:00", "EST-HOS", "2",
                 counterparty_id="EST-DIS")])
    fr = import_directory(engine, data_dir, realtime=False).files[-1]
    assert (fr.accepted, fr.conflicts, fr.duplicates) == (0, 1, 1)
    assert session.scalar(select(func.count()).select_from(Movement)) == 2
    kinds = session.scalars(select(Rejection.kind).where(Rejection.record_type == "movements"))
    assert sorted(kinds) == ["conflict", "conflict"]


@pg_only
def test_whole_months_are_loaded_apart_and_attached_with_the_same_keys_and_indexes(
        engine, session, data_dir, monkeypatch, path):
    # A backfill: months whose partition is missing (2019-05) or created ahead and empty
    # (2019-06) are loaded into their own table, indexed in one sort each and attached; a
    # month below the threshold (2019-07) goes in row by row. Duplicates, conflicts and a
    # re-sent file are told apart exactly as on the row-by-row path.
    from centinela.ingest import writer

    monkeypatch.setattr(writer, "BULK_MONTH_ROWS", 3)
    with engine.begin() as conn:
        schema = conn.execute(text("SELECT current_schema()")).scalar()
        from centinela.partitions import create_month

        create_month(conn, dt.date(2019, 6, 1), f"{schema}_parts")
    write_registry(data_dir)
    rows = [movement(f"B-{i}", "receipt", f"2019-05-{10 + i}T10:00:00-05:00", "EST-HOS", "2",
                     counterparty_id="EST-DIS") for i in range(4)]
    rows += [movement(f"C-{i}", "receipt", f"2019-06-{10 + i}T10:00:00-05:00", "EST-HOS", "2",
                      counterparty_id="EST-DIS") for i in range(3)]
    rows += [movement("D-0", "receipt", "2019-07-02T10:00:00-05:00", "EST-HOS", "2",
                      counterparty_id="EST-DIS"),
             movement("B-0", "receipt", "2019-05-10T10:00:00-05:00", "EST-HOS", "2",
                      counterparty_id="EST-DIS"),   # the same line again: a duplicate
             movement("B-1", "receipt", "2019-06-20T10:00:00-05:00", "EST-HOS", "2",
                      counterparty_id="EST-DIS")]  # the same key, other content: a conflict
    write_csv(data_dir, "movements", rows)
    fr = import_directory(engine, data_dir, realtime=False).files[-1]
    assert (fr.accepted, fr.duplicates, fr.conflicts) == (8, 1, 1)
    with engine.begin() as conn:
        where = dict(conn.execute(text(
            "SELECT event_id, tableoid::regclass::text FROM movements")).all())
        assert where["B-0"].endswith("movements_2019_05")
        assert where["C-0"].endswith("movements_2019_06")
        assert where["D-0"].endswith("movements_2019_07") or where["D-0"].endswith("default")
        names = _months(conn)
        assert not any("_new" in n or n.startswith("_load") for n in names)
        # The attached month carries every index of movements (attached, not rebuilt later).
        parent = conn.execute(text(
            "SELECT count(*) FROM pg_index WHERE indrelid = 'movements'::regclass")).scalar()
        child = conn.execute(text(
            "SELECT count(*) FROM pg_index WHERE indrelid = to_regclass(:n)"),
            {"n": f'"{schema}_parts".movements_2019_05'}).scalar()
        assert child == parent
        # The month arrives with planner statistics (autovacuum may be off, and is late).
        stats = conn.execute(text(
            "SELECT count(*) FROM pg_stats WHERE schemaname = :s AND tablename = :t"),
            {"s": f"{schema}_parts", "t": "movements_2019_05"}).scalar()
        assert stats > 0
        # The database still refuses a second row of a stored key at the same time.
        ids = [r[0] for r in conn.execute(text("SELECT id FROM movements ORDER BY id"))]
        assert len(ids) == len(set(ids)) == 8
    with pytest.raises(Exception, match="duplicate key"), engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO movements (event_id, event_type, occurred_at, establishment_id, "
            "product_code, quantity, content_hash) SELECT event_id, event_type, occurred_at, "
            "establishment_id, product_code, quantity, content_hash FROM movements "
            "WHERE event_id = 'B-2'"))
    # The whole file again: every row a duplicate or the known conflict, nothing added.
    fr = import_directory(engine, data_dir, realtime=False).files[-1]
    assert (fr.accepted, fr.duplicates + fr.conflicts) == (0, 10)
    assert session.scalar(select(func.count()).select_from(Movement)) == 8


@pg_only
def test_a_busy_empty_partition_falls_back_to_row_by_row_insert(engine, session, data_dir,
                                                                monkeypatch, caplog, path):
    # Swapping an empty partition created ahead needs ACCESS EXCLUSIVE on movements. While a
    # reader holds the table, the swap gives up after the lock timeout and the month's rows go
    # in row by row, into the existing partition: the import neither fails nor waits long.
    from centinela.ingest import writer
    from centinela.partitions import create_month

    monkeypatch.setattr(writer, "BULK_MONTH_ROWS", 2)
    monkeypatch.setattr(writer, "SWAP_LOCK_TIMEOUT", "300ms")
    with engine.begin() as conn:
        schema = conn.execute(text("SELECT current_schema()")).scalar()
        create_month(conn, dt.date(2019, 9, 1), f"{schema}_parts")
    write_registry(data_dir)
    write_csv(data_dir, "movements", [
        movement(f"F-{i}", "receipt", f"2019-09-{10 + i}T10:00:00-05:00", "EST-HOS", "2",
                 counterparty_id="EST-DIS") for i in range(3)])
    reader = engine.connect()
    try:
        reader.execute(text("SELECT count(*) FROM movements"))  # holds ACCESS SHARE until rollback
        fr = import_directory(engine, data_dir, realtime=False).files[-1]
    finally:
        reader.rollback()
        reader.close()
    assert (fr.accepted, fr.conflicts, fr.duplicates) == (3, 0, 0)
    assert "inserted row by row" in caplog.text  # the swap gave up and fell back
    with engine.begin() as conn:
        where = {r[0] for r in conn.execute(text(
            "SELECT tableoid::regclass::text FROM movements WHERE event_id LIKE 'F-%'"))}
        assert len(where) == 1 and next(iter(where)).endswith("movements_2019_09")
        assert not any("_new" in n for n in _months(conn))
        left = conn.execute(text(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = :s AND c.relkind IN ('r', 'p') AND c.relname LIKE '%\\_new%'"),
            {"s": f"{schema}_parts"}).scalar()
        assert left == 0


def _direct(monkeypatch, batch: int = 2, month_rows: int = 3) -> None:
    """Force the direct COPY path (``writer.MonthLoader``) on a small file, small batches."""
    from centinela.config import get_settings
    from centinela.ingest import pipeline, writer

    monkeypatch.setattr(pipeline, "BULK_MIN_ROWS", 0)
    monkeypatch.setattr(writer, "BULK_MONTH_ROWS", month_rows)
    monkeypatch.setenv("CENTINELA_IMPORT_BATCH_SIZE", str(batch))
    get_settings.cache_clear()


def _receipts(prefix: str, month: str, n: int, day: int = 10) -> list[dict]:
    return [movement(f"{prefix}-{i}", "receipt", f"{month}-{day + i:02d}T10:00:00-05:00",
                     "EST-HOS", "2", counterparty_id="EST-DIS") for i in range(n)]


@pg_only
def test_direct_load_builds_finished_months_while_the_file_goes_on(engine, session, data_dir,
                                                                   monkeypatch):
    # A backfill in time order, two rows a batch: 2018-01 is finished once the file is past it
    # and its keys and indexes are built while later batches still come (one statement a
    # batch here); a late row of 2018-01 is then maintained in its indexes. Every month is attached with
    # exactly the indexes of movements, the ids follow the file and nothing is left behind.
    from centinela.ingest import writer

    _direct(monkeypatch)
    sent: list[str] = []
    real = writer.MonthLoader._pump

    def spy(self):
        before = self.busy
        real(self)
        if self.busy and self.busy is not before:
            sent.extend(self.busy)

    monkeypatch.setattr(writer.MonthLoader, "_pump", spy)
    write_registry(data_dir)
    rows = _receipts("J", "2018-01", 4) + _receipts("F", "2018-02", 4)
    rows += _receipts("M", "2018-03", 3) + _receipts("L", "2018-01", 1, day=25)
    rows += _receipts("A", "2018-04", 4)
    write_csv(data_dir, "movements", rows)
    with engine.begin() as conn:
        schema = conn.execute(text("SELECT current_schema()")).scalar()
    fr = import_directory(engine, data_dir, realtime=False).files[-1]
    assert (fr.accepted, fr.duplicates, fr.conflicts, fr.rejected) == (16, 0, 0, 0)
    early = " ".join(sent)
    assert "movements_2018_01_new" in early and "PRIMARY KEY" in early
    with engine.begin() as conn:
        got = conn.execute(text(
            "SELECT event_id, tableoid::regclass::text FROM movements ORDER BY id")).all()
        assert [e for e, _ in got] == [r["event_id"] for r in rows]  # ids in file order
        assert {t.rsplit(".", 1)[-1] for e, t in got if e.startswith("L-")} == {"movements_2018_01"}
        parent = conn.execute(text(
            "SELECT count(*) FROM pg_index WHERE indrelid = 'movements'::regclass")).scalar()
        for month in ("2018_01", "2018_02", "2018_04"):
            child = conn.execute(text(
                "SELECT count(*) FROM pg_index WHERE indrelid = to_regclass(:n)"),
                {"n": f'"{schema}_parts".movements_{month}'}).scalar()
            assert child == parent
        left = conn.execute(text(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = :s AND c.relkind IN ('r', 'p') "
            "AND (c.relname LIKE '%\\_new%' OR c.relname LIKE '\\_load%')"),
            {"s": f"{schema}_parts"}).scalar()
        assert left == 0
    with pytest.raises(Exception, match="duplicate key"), engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO movements (event_id, event_type, occurred_at, establishment_id, "
            "product_code, quantity, content_hash) SELECT event_id, event_type, occurred_at, "
            "establishment_id, product_code, quantity, content_hash FROM movements "
            "WHERE event_id = 'J-1'"))


@pg_only
def test_a_column_empty_in_the_months_before_gets_its_index_before_its_rows(engine, session,
                                                                         data_dir, monkeypatch):
    # Once a month is analyzed, a later month's table gets the partial indexes of the columns
    # that month left empty (serial here) before its rows come, maintained row by row rather
    # than built by a scan at the end; a row that does hold a serial is in the index.
    from centinela.ingest import writer

    _direct(monkeypatch)
    sparse: list[set[str]] = []
    real_sparse = writer.MonthLoader._sparse

    def spy(self):
        got = real_sparse(self)
        sparse.append(got)
        return got

    monkeypatch.setattr(writer.MonthLoader, "_sparse", spy)
    pump = writer.MonthLoader._pump

    def finish(self):  # each build ends before the next batch (the statistics exist)
        pump(self)
        self._wait()

    monkeypatch.setattr(writer.MonthLoader, "_pump", finish)
    write_registry(data_dir)
    rows = _receipts("J", "2016-01", 4) + _receipts("F", "2016-02", 4)
    late = _receipts("A", "2016-04", 4)
    late[2]["serial"] = "SN-LATE-1"
    rows += late
    write_csv(data_dir, "movements", rows)
    fr = import_directory(engine, data_dir, realtime=False).files[-1]
    assert (fr.accepted, fr.rejected) == (12, 0)
    assert sparse[0] == set() and "serial" in sparse[-1]  # none known at first, then serial
    with engine.begin() as conn:
        schema = conn.execute(text("SELECT current_schema()")).scalar()
        parent = conn.execute(text(
            "SELECT count(*) FROM pg_index WHERE indrelid = 'movements'::regclass")).scalar()
        child = conn.execute(text("SELECT count(*) FROM pg_index WHERE indrelid = "
                                  "to_regclass(:n)"), {"n": f'"{schema}_parts".movements_2016_04'}
                             ).scalar()
        assert child == parent
        conn.execute(text("SET LOCAL enable_seqscan = off"))
        plan = " ".join(conn.execute(text(
            "EXPLAIN SELECT event_id FROM movements WHERE serial = 'SN-LATE-1'")).scalars())
        assert "serial" in plan and "Seq Scan" not in plan
        assert conn.execute(text("SELECT event_id FROM movements WHERE serial = 'SN-LATE-1'")
                            ).scalars().all() == [late[2]["event_id"]]


@pg_only
def test_the_end_of_a_direct_load_goes_on_while_a_unique_key_is_built(engine, session, data_dir,
                                                                      monkeypatch):
    # The end begins while the building backend still builds a month's unique key (no key
    # repeats): that build is neither waited for nor sent again, and every month ends with
    # exactly the keys and indexes of movements.
    from centinela.ingest import writer

    _direct(monkeypatch)
    flying: list[list[str]] = []
    real = writer.MonthLoader.merge

    def merge(self, import_id):
        self._wait()
        while self.queue and not (self.busy and self.busy[0].startswith(writer.UNIQUE_EARLY)):
            self._pump()
            if self.busy and not self.busy[0].startswith(writer.UNIQUE_EARLY):
                self._wait()
        flying.append(list(self.busy or []))
        return real(self, import_id)

    monkeypatch.setattr(writer.MonthLoader, "merge", merge)
    write_registry(data_dir)
    rows = (_receipts("J", "2015-01", 4) + _receipts("F", "2015-02", 4)
            + _receipts("M", "2015-03", 4) + _receipts("A", "2015-04", 4))
    write_csv(data_dir, "movements", rows)
    fr = import_directory(engine, data_dir, realtime=False).files[-1]
    assert (fr.accepted, fr.rejected) == (16, 0)
    assert flying and flying[0] and "UNIQUE" in flying[0][0]  # a unique key was in flight
    with engine.begin() as conn:
        schema = conn.execute(text("SELECT current_schema()")).scalar()
        parent = conn.execute(text(
            "SELECT count(*) FROM pg_index WHERE indrelid = 'movements'::regclass")).scalar()
        for month in ("2015_01", "2015_02", "2015_03", "2015_04"):
            name = f'"{schema}_parts".movements_{month}'
            assert conn.execute(text("SELECT count(*) FROM pg_index WHERE indrelid = "
                                     "to_regclass(:n)"), {"n": name}).scalar() == parent
            assert conn.execute(text("SELECT count(*) FROM pg_constraint WHERE conrelid = "
                                     "to_regclass(:n) AND contype = 'u'"), {"n": name}
                                ).scalar() == 1
        assert _loader_tables(conn, schema) == []


@pg_only
def test_maintenance_refines_the_small_first_sample_of_a_bulk_loaded_month(engine, session,
                                                                        data_dir, monkeypatch):
    # A bulk-loaded month gets a small first sample (a 10-bucket histogram of occurred_at);
    # the maintenance job analyzes it again at the server's target, once.
    from centinela import partitions as parts

    _direct(monkeypatch)
    monkeypatch.setattr(parts, "COARSE_MIN_ROWS", 0)
    write_registry(data_dir)
    rows = [movement(f"S-{i}", "receipt", f"2014-05-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00"
                     "-05:00", "EST-HOS", "2", counterparty_id="EST-DIS") for i in range(60)]
    rows += _receipts("N", "2014-06", 4)
    write_csv(data_dir, "movements", rows)
    assert import_directory(engine, data_dir, realtime=False).files[-1].accepted == 64

    def bounds(conn) -> int:
        return conn.execute(text(
            "SELECT array_length(histogram_bounds, 1) FROM pg_stats WHERE tablename = "
            "'movements_2014_05' AND attname = 'occurred_at'")).scalar()

    with engine.begin() as conn:
        assert bounds(conn) == parts.BULK_STATISTICS_TARGET + 1
        assert "movements_2014_05" in maintain(conn, ahead=0).analyzed
        assert bounds(conn) > parts.BULK_STATISTICS_TARGET + 1
    with engine.begin() as conn:
        assert "movements_2014_05" not in maintain(conn, ahead=0).analyzed  # refined once


@pg_only
def test_direct_load_tells_late_repeats_and_stored_keys_apart(engine, session, data_dir,
                                                              monkeypatch):
    # Keys that repeat after their month was built (same content: a duplicate; other time:
    # a conflict) and keys stored by an earlier import in another month: the loaded rows go
    # to the staged merge, which tells them apart with their line numbers; nothing is lost.
    _direct(monkeypatch)
    write_registry(data_dir)
    rows = _receipts("J", "2018-05", 4) + _receipts("F", "2018-06", 4)
    rows += [_receipts("J", "2018-05", 1)[0],                      # line 10: duplicate
             _receipts("J", "2018-05", 2, day=20)[1]]              # line 11: conflict (J-1)
    rows += _receipts("A", "2018-07", 4)
    write_csv(data_dir, "movements", rows)
    fr = import_directory(engine, data_dir, realtime=False).files[-1]
    assert (fr.accepted, fr.duplicates, fr.conflicts) == (12, 1, 1)
    lines = session.scalars(select(Rejection.line).where(Rejection.kind == "conflict")).all()
    assert lines == [11]
    # Another file: a stored key at another time (conflict), a stored row again (duplicate).
    rows = _receipts("N", "2018-09", 4) + [_receipts("F", "2018-06", 1, day=28)[0],
                                           _receipts("A", "2018-07", 1)[0]]
    write_csv(data_dir, "movements", rows)
    fr = import_directory(engine, data_dir, realtime=False).files[-1]
    assert (fr.accepted, fr.duplicates, fr.conflicts) == (4, 1, 1)
    assert session.scalar(select(func.count()).select_from(Movement)) == 16


@pg_only
def test_direct_load_a_same_time_repeat_after_the_unique_key_is_built(engine, session,
                                                                      data_dir, monkeypatch):
    # The same line again after its month's unique key was built: the COPY meets the key,
    # the import does not fail, and the row is told a duplicate.
    from centinela.ingest import writer

    _direct(monkeypatch)
    met: list[set] = []
    real = writer.MonthLoader._drop_uniques

    def spy(self):
        met.append(set(self.uniques))
        real(self)

    monkeypatch.setattr(writer.MonthLoader, "_drop_uniques", spy)
    pump = writer.MonthLoader._pump

    def finish(self):  # each build ends before the next batch (a slow file, made sure)
        pump(self)
        self._wait()

    monkeypatch.setattr(writer.MonthLoader, "_pump", finish)
    write_registry(data_dir)
    rows = _receipts("J", "2018-10", 4) + _receipts("F", "2018-11", 4) + \
        _receipts("D", "2018-12", 4)
    rows.insert(11, _receipts("J", "2018-10", 1)[0])
    write_csv(data_dir, "movements", rows)
    fr = import_directory(engine, data_dir, realtime=False).files[-1]
    assert (fr.accepted, fr.duplicates, fr.conflicts) == (12, 1, 0)
    assert session.scalar(select(func.count()).select_from(Movement)) == 12
    assert len(met) == 1 and any("2018_10" in t for t in met[0])  # the key was met


@pg_only
def test_two_direct_loads_of_the_same_month_at_once_both_go_in(engine, session, tmp_path,
                                                              monkeypatch):
    # Two backfills of one month, loaded at the same time: the first to take the advisory lock
    # attaches the month; the other, which never locked a partition before that lock (no
    # deadlock with the first one's ATTACH), finds the month taken and inserts row by row.
    import threading

    from centinela.ingest import writer

    _direct(monkeypatch, batch=3)
    meet = threading.Barrier(2, timeout=30)
    real = writer.MonthLoader.merge

    def merge(self, import_id):
        meet.wait()  # both files loaded before either merges
        return real(self, import_id)

    monkeypatch.setattr(writer.MonthLoader, "merge", merge)
    registry = tmp_path / "registry"
    registry.mkdir()
    write_registry(registry)
    import_directory(engine, registry, realtime=False)  # once: the two files hold movements only
    folders = []
    for k in ("P", "Q"):
        folder = tmp_path / k
        folder.mkdir()
        write_csv(folder, "movements", _receipts(k, "2017-03", 6))
        folders.append(folder)
    reports: dict[str, object] = {}

    def run(folder):
        try:
            reports[folder.name] = import_directory(engine, folder, realtime=False).files[-1]
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            reports[folder.name] = exc

    threads = [threading.Thread(target=run, args=(f,)) for f in folders]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert all(not isinstance(r, Exception) for r in reports.values()), reports
    assert sorted(r.accepted for r in reports.values()) == [6, 6]
    with engine.begin() as conn:
        where = {r[0] for r in conn.execute(text(
            "SELECT tableoid::regclass::text FROM movements WHERE event_id LIKE '_-%'"))}
        assert len(where) == 1 and next(iter(where)).endswith("movements_2017_03")
    assert session.scalar(select(func.count()).select_from(Movement)) == 12


def test_progress_is_published_while_an_import_runs_and_removed_after(engine, data_dir,
                                                                       monkeypatch):
    seen: list[tuple[int, int]] = []
    files: list[dict] = []
    real_write = ImportProgress._write

    def spy(self):
        real_write(self)
        files.extend(json.loads(p.read_text()) for p in folder().glob("*.json"))

    monkeypatch.setattr(ImportProgress, "_write", spy)
    monkeypatch.setenv("CENTINELA_IMPORT_BATCH_SIZE", "10")
    monkeypatch.setenv("CENTINELA_IMPORT_PROGRESS_EVERY", "2")
    from centinela.config import get_settings

    get_settings.cache_clear()
    write_registry(data_dir)
    write_csv(data_dir, "movements", [
        movement(f"P-{i}", "receipt", "2025-03-10T10:00:00-05:00", "EST-HOS", "2",
                 counterparty_id="EST-DIS") for i in range(95)])
    report = import_directory(engine, data_dir, realtime=False,
                              progress=lambda done, total: seen.append((done, total)))
    assert report.files[-1].accepted == 95
    assert seen[-1][0] == report.total("read") and all(t >= d for d, t in seen)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert len(files) >= 4 and any(f["import_id"] == report.import_id for f in files)
    assert running_imports() == []  # removed when the import ended


def test_imports_page_shows_running_imports_and_polls_while_any_runs(app, world):
    client = login(app, "analista")
    page = client.get("/imports").text
    assert 'id="running-imports"' in page and "hx-trigger" not in page.split(
        'id="running-imports"')[1].split(">")[0]
    shown = ImportProgress("movements.csv", "cli", 1000)
    try:
        shown.update(400, force=True)
        frag = client.get("/imports/running").text
        assert 'hx-trigger="every 2s"' in frag
        assert 'value="400"' in frag and "40 %" in frag
    finally:
        shown.close()
    assert 'hx-trigger' not in client.get("/imports/running").text


def test_copy_batches_cut_into_runs_of_one_month():
    # The child's COPY text: runs of consecutive rows of one month, with byte offsets (UTF-8),
    # or none when the months change more than ``MAX_RUNS`` times in the batch.
    from centinela.ingest.worker import MAX_RUNS, _as_copy

    rows = [("añ\t1\n", 1, "2018-01"), ("b\t2\n", 2, "2018-01"), ("ç\t3\n", 3, "2018-02"),
            ("d\t4\n", 4, "2018-01")]
    _, data, hashes, months, n, runs = _as_copy(rows)
    assert (hashes, months, n) == ([1, 2, 3, 4], {"2018-01": 3, "2018-02": 1}, 4)
    cuts = [0] + [end for _m, end in runs]
    assert [(m, data[a:b].decode())
            for (m, _e), a, b in zip(runs, cuts[:-1], cuts[1:], strict=True)] == [
        ("2018-01", "añ\t1\nb\t2\n"), ("2018-02", "ç\t3\n"), ("2018-01", "d\t4\n")]
    one = _as_copy(rows[:2])
    assert one[5] == [("2018-01", len(one[1]))]
    mixed = [(f"x{i}\n", i, f"2018-0{1 + i % 2}") for i in range(MAX_RUNS + 1)]
    assert _as_copy(mixed)[5] is None


def _loader_tables(conn, schema: str) -> list[str]:
    return conn.execute(text(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = :s AND c.relkind IN ('r', 'p') "
        "AND (c.relname LIKE '%\\_new%' OR c.relname LIKE '\\_load%')"),
        {"s": f"{schema}_parts"}).scalars().all()


@pg_only
def test_a_direct_load_that_fails_leaves_neither_rows_nor_loader_tables(engine, session,
                                                                        data_dir, monkeypatch):
    # The loader's tables are copied into and built by backends of their own, which commit as
    # they go: an import that fails after its months were loaded and built must still leave
    # nothing behind (not a row in movements, not a table in the partitions schema).
    from centinela.ingest import writer
    from centinela.ingest.service import ImportFailed

    _direct(monkeypatch)
    real = writer.MonthLoader.merge
    seen: list[list[str]] = []

    def merge(self, import_id):
        self._wait()
        with engine.begin() as conn:  # another connection sees the committed loader
            seen.append(_loader_tables(conn, schema))
        real(self, import_id)
        raise RuntimeError("disk full")  # after the months were attached, before the commit

    monkeypatch.setattr(writer.MonthLoader, "merge", merge)
    with engine.begin() as conn:
        schema = conn.execute(text("SELECT current_schema()")).scalar()
    write_registry(data_dir)
    write_csv(data_dir, "movements", _receipts("J", "2017-01", 4) + _receipts("F", "2017-02", 4))
    with pytest.raises(ImportFailed):
        import_directory(engine, data_dir, realtime=False)
    assert seen and any(t.startswith("_load_") for t in seen[0])  # it was there, committed
    with engine.begin() as conn:
        assert _loader_tables(conn, schema) == []
        assert conn.execute(text("SELECT count(*) FROM movements")).scalar() == 0
        assert not {"movements_2017_01", "movements_2017_02"} & _months(conn)


@pg_only
def test_maintenance_drops_the_loader_of_an_import_whose_process_died(engine):
    # A loader is named after the backend that copies into it: while that backend lives the
    # loader is in use; once it is gone (the importing process died) the job drops it.
    with engine.begin() as conn:
        schema = conn.execute(text("SELECT current_schema()")).scalar()
    live = engine.connect()
    pid = live.execute(text("SELECT pg_backend_pid()")).scalar()
    with engine.begin() as conn:
        used = set(conn.execute(text("SELECT pid FROM pg_stat_activity")).scalars())
        dead = next(p for p in range(4_000_000, 4_100_000) if p not in used)
        for owner in (pid, dead):
            conn.execute(text(
                f'CREATE TABLE "{schema}_parts"._load_{owner}_1_0 (LIKE movements) '
                "PARTITION BY RANGE (occurred_at)"))
            conn.execute(text(
                f'CREATE TABLE "{schema}_parts"."movements_2016_01_new_{owner}_1_0" '
                f'PARTITION OF "{schema}_parts"._load_{owner}_1_0 '
                "FOR VALUES FROM ('2016-01-01') TO ('2016-02-01')"))
    with engine.begin() as conn:
        assert maintain(conn, ahead=0).swept == [f"_load_{dead}_1_0"]
        left = _loader_tables(conn, schema)
    assert sorted(left) == sorted([f"_load_{pid}_1_0", f"movements_2016_01_new_{pid}_1_0"])
    live.invalidate()  # the backend ends, as when its process dies
    live.close()
    for _ in range(100):  # the server forgets the backend a moment after it ends
        with engine.begin() as conn:  # (statistics views are read once per transaction)
            if not conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE pid = :p"),
                                {"p": pid}).scalar():
                break
        time.sleep(0.05)
    with engine.begin() as conn:
        assert maintain(conn, ahead=0).swept == [f"_load_{pid}_1_0"]
        assert _loader_tables(conn, schema) == []


@pg_only
def test_direct_load_through_the_child_copies_runs_into_their_month(engine, session, data_dir,
                                                                     monkeypatch):
    # Through the validating child: a batch of one month, a batch holding two months (two
    # runs, each copied into its month's table) and a batch whose months alternate (copied
    # through the loader, which routes each row). Ids follow the file, every row is in its
    # month, and the months are attached.
    from tests.test_ingest_worker import _force_worker

    started = _force_worker(monkeypatch)
    _direct(monkeypatch, batch=6)
    write_registry(data_dir)
    rows = _receipts("J", "2018-01", 6) + _receipts("K", "2018-01", 3, day=20)
    rows += _receipts("F", "2018-02", 3)
    rows += [r for pair in zip(_receipts("G", "2018-02", 3, day=20),
                               _receipts("M", "2018-03", 3), strict=True) for r in pair]
    rows += _receipts("A", "2018-04", 4)
    write_csv(data_dir, "movements", rows)
    fr = import_directory(engine, data_dir, realtime=False).files[-1]
    assert started and started[-1].copy_text
    assert (fr.accepted, fr.duplicates, fr.conflicts, fr.rejected) == (len(rows), 0, 0, 0)
    with engine.begin() as conn:
        got = conn.execute(text(
            "SELECT event_id, to_char(occurred_at, 'YYYY_MM'), tableoid::regclass::text "
            "FROM movements ORDER BY id")).all()
    assert [e for e, _m, _t in got] == [r["event_id"] for r in rows]  # ids in file order
    assert all(t.endswith(f"movements_{m}") for _e, m, t in got)


@pg_only
def test_movements_text_keys_sort_bytewise_and_every_index_is_still_used(engine):
    # 0014: the indexed text columns of movements are COLLATE "C". Equality with parameters
    # and with other tables' columns (default collation) still uses each index; ORDER BY is
    # byte order.
    t = dt.datetime(2026, 1, 5, 10)
    with engine.begin() as conn:
        maintain(conn, since=dt.date(2026, 1, 1))
        for i, est in enumerate(["EST_1", "EST-a", "EST-B", "EST-0"]):
            conn.execute(text(
                "INSERT INTO movements (event_id, event_type, occurred_at, establishment_id, "
                "product_code, quantity, content_hash) VALUES (:i, 'receipt', :t, :e, 'EE-1', 1, "
                "'h')"), {"i": f"E{i}", "t": t, "e": est})
        got = conn.execute(text("SELECT establishment_id FROM movements ORDER BY 1")).scalars()
        assert list(got) == ["EST-0", "EST-B", "EST-a", "EST_1"]
        assert conn.execute(text(
            "SELECT pg_collation_for(establishment_id) FROM movements LIMIT 1")).scalar() == '"C"'
        conn.execute(text("SET LOCAL enable_seqscan = off"))
        queries = {
            "patient_id": "SELECT id FROM movements WHERE patient_id = :v ORDER BY occurred_at",
            "establishment_id, product_code": "SELECT id FROM movements WHERE establishment_id = "
                ":v AND product_code = :v AND occurred_at >= '2026-01-01'",
            "establishment_id, event_id": "SELECT id FROM movements WHERE establishment_id = :v "
                "AND event_id = :v",
            "prescriber_id": "SELECT id FROM movements WHERE prescriber_id = :v",
            # 0018: the type index leaves dispensations and administrations out; a query for
            # other types proves its condition from the query's and still uses it.
            "event_type": "SELECT id FROM movements WHERE event_type IN ('loss', :v) "
                "AND occurred_at >= '2026-01-01'",
            "lot": "SELECT id FROM movements WHERE lot = :v",
            "counterparty_id": "SELECT id FROM movements WHERE counterparty_id = :v",
            "serial": "SELECT id FROM movements WHERE serial = ANY(CAST(:a AS text[]))",
            "professional_id": "SELECT id FROM movements WHERE professional_id = :v",
            "join": "SELECT m.id FROM establishments e JOIN movements m ON m.establishment_id = "
                "e.establishment_id AND m.product_code = 'EE-1' WHERE e.department = :v",
            "join key": "SELECT m.id FROM professionals p JOIN movements m ON m.prescriber_id = "
                "p.professional_id WHERE p.department = :v",
        }
        for name, sql in queries.items():
            plan = "\n".join(conn.execute(text("EXPLAIN " + sql), {"v": "x", "a": ["x"]}).scalars())
            scans = [line for line in plan.splitlines() if " on movements_" in line]
            assert scans and all("Index" in line for line in scans), (name, plan)
            if name == "event_type":
                assert "event_type_occurred_at_idx" in plan, plan


@pg_only
def test_lighter_movement_indexes_serve_their_readers(engine):
    # 0018: on PostgreSQL the type index is partial (no dispensations or administrations) and
    # the import index a BRIN; the queries that read them still find their rows by them.
    with engine.begin() as conn:
        maintain(conn, since=dt.date(2026, 1, 1))
        defs = dict(conn.execute(text(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'movements' "
            "AND indexname IN ('ix_movements_type_time', 'ix_movements_import_id')")).all())
        assert "NOT IN" in defs["ix_movements_type_time"] or "<> ALL" in defs[
            "ix_movements_type_time"], defs
        assert "USING brin (import_id)" in defs["ix_movements_import_id"], defs
        conn.execute(text(
            "INSERT INTO movements (event_id, event_type, occurred_at, establishment_id, "
            "product_code, quantity, content_hash, import_id) SELECT 'E' || i, "
            "(ARRAY['dispense', 'administer', 'count', 'loss'])[1 + i % 4], "
            "TIMESTAMP '2026-01-02' + i * INTERVAL '1 minute', 'EST-' || (i % 7), 'EE-1', 1, "
            "'h', 1 + i / 500 FROM generate_series(0, 1999) i"))
        conn.execute(text("ANALYZE movements"))
        conn.execute(text("SET LOCAL enable_seqscan = off"))
        for sql, index in [
                ("SELECT count(*) FROM movements WHERE event_type = 'count' "
                 "AND occurred_at >= '2026-01-02'", "event_type_occurred_at_idx"),
                ("SELECT count(*) FROM movements WHERE import_id = 3", "import_id_idx"),
                ("SELECT count(*) FROM movements WHERE import_id IN (2, 3)", "import_id_idx")]:
            plan = "\n".join(conn.execute(text("EXPLAIN " + sql)).scalars())
            assert index in plan, (sql, plan)
        counts = conn.execute(text(
            "SELECT (SELECT count(*) FROM movements WHERE event_type = 'count'), "
            "(SELECT count(*) FROM movements WHERE import_id = 3)")).one()
        assert tuple(counts) == (500, 500)


@pg_only
def test_a_resent_backfill_counts_stored_rows_as_duplicates_and_keeps_conflict_lines(
        engine, session, data_dir, monkeypatch):
    # A direct-load year sent again with one row changed (line 9) and one line repeated: the
    # rows stored with the same content are told duplicates before any merge (one anti-join),
    # the changed row is a conflict with its own line, nothing is added or lost.
    _direct(monkeypatch)
    write_registry(data_dir)
    rows = _receipts("R", "2019-01", 4) + _receipts("S", "2019-02", 4) + _receipts("T", "2019-03", 4)
    write_csv(data_dir, "movements", rows)
    first = import_directory(engine, data_dir, realtime=False).files[-1]
    assert (first.accepted, first.duplicates, first.conflicts) == (12, 0, 0)
    again = [dict(r) for r in rows]
    again[7]["quantity"] = "3"  # line 9: the same key, another content
    again.insert(10, dict(rows[9]))  # line 12: a line of the file repeated
    write_csv(data_dir, "movements", again)
    fr = import_directory(engine, data_dir, realtime=False).files[-1]
    assert (fr.read, fr.accepted, fr.duplicates, fr.conflicts, fr.rejected) == (13, 0, 12, 1, 0)
    lines = session.scalars(select(Rejection.line).where(Rejection.kind == "conflict")).all()
    assert lines == [9]
    assert session.scalar(select(func.count()).select_from(Movement)) == 12
