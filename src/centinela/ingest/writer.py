"""Bulk writes through the database driver, inside the import's one transaction.

SQLite: ``executemany`` of ``INSERT … ON CONFLICT DO NOTHING``. PostgreSQL: ``COPY`` into a
temporary staging table, then one set-based ``INSERT … SELECT … ON CONFLICT DO NOTHING``.
Either way the database itself finds duplicate keys; only when a batch inserts fewer rows than it
holds do we look the missing keys up (one query per batch) to tell duplicates from conflicts.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy import Index, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from centinela.ledger.records import Movement
from centinela.partitions import (
    DEFAULT,
    add_months,
    partition_name,
    partitions,
    qualified,
    schemas,
)

log = logging.getLogger("centinela.ingest")

SORTER_THREADS = 2  # helper threads SQLite may use to sort while it rebuilds an index


class Bulk:
    """Driver-level bulk insert bound to a session's connection and transaction."""

    def __init__(self, session: Session) -> None:
        self.session = session
        conn = session.connection()
        self.dialect = conn.dialect.name
        self.raw = conn.connection.driver_connection
        self._staged: set[str] = set()
        self.stage: MovementStage | None = None

    def insert_ignore(self, table: str, columns: Sequence[str], rows: list[tuple],
                      conflict: Sequence[str], lines: Sequence[int] | None = None) -> int:
        """Insert ``rows``; skip those whose ``conflict`` key exists. Return rows inserted.

        With ``lines`` on PostgreSQL the rows are only COPYed into the file's staging table
        (``self.stage``) and 0 is returned: ``MovementStage.merge`` inserts them all at once.
        """
        if lines is not None and self.dialect != "sqlite":
            if self.stage is None:
                self.stage = MovementStage(self, table, columns, conflict)
            self.stage.add(rows, lines)
            return 0
        cols = ", ".join(columns)
        on = ", ".join(conflict)
        if self.dialect == "sqlite":
            marks = ", ".join("?" * len(columns))
            cur = self.raw.cursor()
            try:
                cur.executemany(
                    f"INSERT INTO {table} ({cols}) VALUES ({marks}) "  # noqa: S608 - fixed names
                    f"ON CONFLICT ({on}) DO NOTHING", rows)
                return cur.rowcount
            finally:
                cur.close()
        stage = f"_stage_{table}"
        with self.raw.cursor() as cur:
            if stage not in self._staged:
                cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {stage} ON COMMIT DROP AS "  # noqa: S608
                            f"SELECT 0 AS seq, {cols} FROM {table} WITH NO DATA")
                self._staged.add(stage)
            with cur.copy(f"COPY {stage} (seq, {cols}) FROM STDIN") as copy:
                for i, row in enumerate(rows):
                    copy.write_row((i, *row))
            cur.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {stage} "  # noqa: S608
                        f"ORDER BY seq ON CONFLICT ({on}) DO NOTHING")
            inserted = cur.rowcount
            cur.execute(f"TRUNCATE {stage}")
        return inserted


MERGE_WORK_MEM = "256MB"
MERGE_LOCK = 0x43454E54  # pg_advisory_xact_lock key: one movements merge at a time


class MovementStage:
    """PostgreSQL: a whole file's validated rows, COPYed into one temp table as batches arrive,
    then merged into ``table`` by one set-based ``INSERT … SELECT`` (``merge``).

    One statement maintains the indexes far faster than one per batch (200k movements: 2.5 s
    against 7 s). On a partitioned movements table (``0012_partitions``) the unique key holds
    ``occurred_at`` too, so the (establishment_id, event_id) key is enforced here: the first
    occurrence in the file of a key not stored yet is inserted, under a transaction-level
    advisory lock so that two imports cannot both insert one key.
    """

    def __init__(self, bulk: Bulk, table: str, columns: Sequence[str],
                 key: Sequence[str]) -> None:
        self.bulk, self.table, self.columns, self.key = bulk, table, tuple(columns), tuple(key)
        self.name = f"_stage_{table}_file"
        self.count = 0
        cols = ", ".join(self.columns)
        with bulk.raw.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS {self.name}")
            cur.execute(f"CREATE TEMP TABLE {self.name} ON COMMIT DROP AS "  # noqa: S608
                        f"SELECT 0::bigint AS seq, 0 AS line, {cols} FROM {table} WITH NO DATA")
            cur.execute(f"SELECT c.relkind FROM pg_class c WHERE c.oid = to_regclass('{table}')")  # noqa: S608
            row = cur.fetchone()
        self.partitioned = bool(row) and row[0] == "p"

    def add(self, rows: list[tuple], lines: Sequence[int]) -> None:
        cols = ", ".join(self.columns)
        start = self.count
        with self.bulk.raw.cursor() as cur, \
                cur.copy(f"COPY {self.name} (seq, line, {cols}) FROM STDIN") as copy:
            for i, (row, line) in enumerate(zip(rows, lines, strict=True)):
                copy.write_row((start + i, line, *row))
        self.count += len(rows)

    def merge(self, import_id: int) -> tuple[int, list[tuple]]:
        """Insert the staged rows; return (inserted, the others in file order).

        Each other row is ``(line, same_content, stored_import_id, row)``: a duplicate of a
        stored row (or of an earlier line of the file) when ``same_content``, else a conflict.
        """
        cols = ", ".join(self.columns)
        on = ", ".join(self.key)
        match = " AND ".join(f"m.{k} = s.{k}" for k in self.key)
        stage, table = self.name, self.table
        with self.bulk.raw.cursor() as cur:
            cur.execute(f"ANALYZE {stage}")
            # The merge sorts the file once (first occurrence of each key): in memory, not in
            # temporary files (4 MB default work_mem spills at 200k rows). This transaction only.
            cur.execute(f"SET LOCAL work_mem = '{MERGE_WORK_MEM}'")
            cur.execute(f"SET LOCAL maintenance_work_mem = '{MERGE_WORK_MEM}'")
            if self.partitioned:
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (MERGE_LOCK,))
            cur.execute(f"SELECT coalesce(max(id), 0) FROM {table}")  # noqa: S608
            mark = cur.fetchone()[0]
            # The first occurrence of each key not stored yet. A hash of the narrow keys, not a
            # sort of the wide rows (1 M staged rows spill a sort to disk); ids then follow the
            # staging table's order, which is the file's.
            firsts = (f"SELECT {cols} FROM {stage} s WHERE s.seq IN (SELECT min(seq) "  # noqa: S608
                      f"FROM {stage} GROUP BY {on}) AND NOT EXISTS (SELECT 1 FROM {table} m "
                      f"WHERE {match})")
            conn = self.bulk.session.connection()
            months = bulk_months(cur, conn, stage) if self.partitioned else []
            if months:
                inserted = BulkMonths(cur, conn, table, months).load(cols, firsts)
            elif self.partitioned:
                cur.execute(f"INSERT INTO {table} ({cols}) {firsts} ON CONFLICT DO NOTHING")  # noqa: S608
                inserted = cur.rowcount
            else:
                cur.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {stage} "  # noqa: S608
                            f"ORDER BY seq ON CONFLICT ({on}) DO NOTHING")
                inserted = cur.rowcount
            others: list[tuple] = []
            if inserted < self.count:
                raw = ", ".join(f"s.{c}" for c in self.columns)
                cur.execute(
                    f"SELECT s.line, s.content_hash = m.content_hash, m.import_id, {raw} "  # noqa: S608
                    f"FROM (SELECT *, row_number() OVER (PARTITION BY {on} ORDER BY seq) AS rn "
                    f"FROM {stage}) s JOIN {table} m ON {match} "
                    "WHERE NOT (s.rn = 1 AND m.import_id = %s AND m.id > %s) ORDER BY s.seq",
                    (import_id, mark))
                others = [(r[0], r[1], r[2], tuple(r[3:])) for r in cur]
            cur.execute(f"DROP TABLE {stage}")
        self.bulk.stage = None
        return inserted, others


# A month of the file with at least this many rows, whose partition is missing or empty, is
# loaded apart and attached (``BulkMonths``) instead of inserted row by row.
BULK_MONTH_ROWS = 10_000
SWAP_LOCK_TIMEOUT = "5s"
LOCK_NOT_AVAILABLE = "55P03"  # SQLSTATE of a lock_timeout
ANALYZE_TARGET = 30  # statistics target of a bulk-loaded month's first ANALYZE (default 100)


def bulk_months(cur, conn: Connection, stage: str) -> list[tuple[dt.date, str | None]]:
    """Months of the staged file to load apart: ``(month, empty partition to replace or None)``.

    A month qualifies when it holds ``BULK_MONTH_ROWS`` staged rows, its partition does not
    exist or holds no row, and the default partition holds none of its rows. ``conn`` is the
    import's connection (the catalog is read through ``centinela.partitions``).
    """
    cur.execute(f"SELECT date_trunc('month', occurred_at)::date, count(*) FROM {stage} "  # noqa: S608
                "GROUP BY 1 HAVING count(*) >= %s ORDER BY 1", (BULK_MONTH_ROWS,))
    counts = cur.fetchall()
    if not counts:
        return []
    attached = {p["name"]: qualified(p["schema"], p["name"]) for p in partitions(conn)}
    default = attached.get(DEFAULT)
    out: list[tuple[dt.date, str | None]] = []
    for month, _n in counts:
        if default is not None:
            cur.execute(f"SELECT EXISTS (SELECT 1 FROM {default} "  # noqa: S608
                        "WHERE occurred_at >= %s AND occurred_at < %s)",
                        (month, add_months(month, 1)))
            if cur.fetchone()[0]:
                continue
        existing = attached.get(partition_name(month))
        if existing is not None:
            cur.execute(f"SELECT EXISTS (SELECT 1 FROM {existing})")  # noqa: S608
            if cur.fetchone()[0]:
                continue
        out.append((month, existing))
    return out


class BulkMonths:
    """PostgreSQL bulk path for whole months (a backfill): load apart, index, attach.

    The file's new rows are inserted into a private loader table partitioned like
    ``movements``: one plain table per bulk month plus a default for the other months' rows.
    Each month table is then detached from the loader, gets the movements indexes and key
    constraints built in one sort each (far cheaper than maintaining 11 indexes row by row),
    and a CHECK of its range, and is attached to ``movements``: ATTACH takes SHARE UPDATE
    EXCLUSIVE on ``movements`` (readers and writers go on) and, finding every index and the
    range proven, neither builds nor scans. Rows of the other months go in row by row as usual.

    A month whose partition exists but is empty (created ahead) has it detached and dropped
    first; that takes ACCESS EXCLUSIVE on ``movements`` from there to the import's commit, a
    moment at the end of the file (``SWAP_LOCK_TIMEOUT`` at most to get it). If the lock is
    not granted, or the partition is no longer empty, the swap is rolled back to its savepoint
    and the month's rows are inserted row by row instead: never an error for the import.
    """

    def __init__(self, cur, conn: Connection, table: str,
                 months: list[tuple[dt.date, str | None]]) -> None:
        self.cur, self.table, self.months = cur, table, months
        self.parts = schemas(conn)[1]
        self.loader = qualified(self.parts, f"_load_{os.getpid()}")

    def _new(self, month: dt.date) -> str:
        return f"{partition_name(month)}_new"

    def load(self, cols: str, firsts: str) -> int:
        """Insert ``firsts`` (the file's new rows); return how many went in."""
        cur, table, parts = self.cur, self.table, self.parts
        rest = qualified(parts, f"_load_{os.getpid()}_rest")
        cur.execute(f"CREATE TABLE {self.loader} (LIKE {table} INCLUDING DEFAULTS) "
                    "PARTITION BY RANGE (occurred_at)")
        cur.execute(f"CREATE TABLE {rest} PARTITION OF {self.loader} DEFAULT")
        for month, _old in self.months:
            cur.execute(f"CREATE TABLE {qualified(parts, self._new(month))} PARTITION OF "
                        f"{self.loader} FOR VALUES FROM ('{month}') TO ('{add_months(month, 1)}')")
        cur.execute(f"INSERT INTO {self.loader} ({cols}) {firsts}")
        inserted = cur.rowcount
        # The other months' rows, row by row (ids kept: they were drawn in file order).
        cur.execute(f"SELECT count(*) FROM {rest}")  # noqa: S608
        waiting = cur.fetchone()[0]
        if waiting:
            cur.execute(f"INSERT INTO {table} SELECT * FROM {rest} ORDER BY id "  # noqa: S608
                        "ON CONFLICT DO NOTHING")
            inserted -= waiting - cur.rowcount
        keys, indexes = self._definitions()
        for month, _old in self.months:
            name = self._new(month)
            new = qualified(parts, name)
            cur.execute(f"ALTER TABLE {self.loader} DETACH PARTITION {new}")
            for i, key in enumerate(keys):
                cur.execute(f'ALTER TABLE {new} ADD CONSTRAINT "{name}_key{i}" {key}')
            for unique, using in indexes:
                cur.execute(f"CREATE {unique}INDEX ON {new} USING {using}")
            cur.execute(f'ALTER TABLE {new} ADD CONSTRAINT "{name}_range" CHECK '
                        f"(occurred_at >= '{month}' AND occurred_at < '{add_months(month, 1)}')")
        cur.execute(f"DROP TABLE {self.loader}")
        # Planner statistics for the new months (autovacuum may be off, and is late anyway): a
        # small sample, ≈ 0.05 s a month; `centinela db partitions` refines stale ones.
        cur.execute("SHOW default_statistics_target")
        target = cur.fetchone()[0]
        cur.execute(f"SET LOCAL default_statistics_target = {ANALYZE_TARGET}")
        for month, _old in self.months:
            cur.execute(f"ANALYZE {qualified(parts, self._new(month))}")
        cur.execute(f"SET LOCAL default_statistics_target = {int(target)}")
        for month, old in self.months:
            inserted -= self._attach(month, old)
        return inserted

    def _definitions(self) -> tuple[list[str], list[tuple[str, str]]]:
        """The movements key constraints (``PRIMARY KEY (…)``, ``UNIQUE (…)``) and its other
        indexes as ``(\"UNIQUE \" or \"\", \"btree (…) [WHERE …]\")``, read from the catalog so that
        ATTACH finds every one of them already built."""
        cur = self.cur
        cur.execute("SELECT pg_get_constraintdef(oid), conindid FROM pg_constraint "
                    "WHERE conrelid = %s::regclass AND contype IN ('p', 'u') ORDER BY conname",
                    (self.table,))
        rows = cur.fetchall()
        keys = [d for d, _ix in rows]
        cur.execute("SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = "
                    "%s::regclass AND NOT indexrelid = ANY(%s) ORDER BY indexrelid",
                    (self.table, [ix for _d, ix in rows]))
        indexes = []
        for (d,) in cur.fetchall():
            head, _sep, using = d.partition(" USING ")
            indexes.append(("UNIQUE " if head.startswith("CREATE UNIQUE") else "", using))
        return keys, indexes

    def _attach(self, month: dt.date, old: str | None) -> int:
        """Attach the month's table; return its rows that could not go in (key conflicts with
        rows stored meanwhile, only on the row-by-row fallback)."""
        cur, table, parts = self.cur, self.table, self.parts
        name = self._new(month)
        new = qualified(parts, name)
        cur.execute("SHOW lock_timeout")
        before = cur.fetchone()[0]
        cur.execute("SAVEPOINT bulk_swap")
        try:
            if old is not None:
                cur.execute(f"SET LOCAL lock_timeout = '{SWAP_LOCK_TIMEOUT}'")
                cur.execute(f"ALTER TABLE {table} DETACH PARTITION {old}")
                cur.execute(f"SET LOCAL lock_timeout = '{before}'")
                cur.execute(f"SELECT EXISTS (SELECT 1 FROM {old})")  # noqa: S608
                if cur.fetchone()[0]:
                    raise _NotEmpty
                cur.execute(f"DROP TABLE {old}")
            cur.execute(f"ALTER TABLE {table} ATTACH PARTITION {new} "
                        f"FOR VALUES FROM ('{month}') TO ('{add_months(month, 1)}')")
            cur.execute(f'ALTER TABLE {new} DROP CONSTRAINT "{name}_range"')
            cur.execute(f'ALTER TABLE {new} RENAME TO "{partition_name(month)}"')
            cur.execute("RELEASE SAVEPOINT bulk_swap")
            return 0
        except Exception as exc:
            if not isinstance(exc, _NotEmpty) and getattr(exc, "sqlstate", None) != LOCK_NOT_AVAILABLE:
                raise
            cur.execute("ROLLBACK TO SAVEPOINT bulk_swap")
        log.warning("movements of %s: their partition is busy or no longer empty; inserted "
                    "row by row", month)
        cur.execute(f"SELECT count(*) FROM {new}")  # noqa: S608
        staged = cur.fetchone()[0]
        cur.execute(f"INSERT INTO {table} SELECT * FROM {new} ORDER BY id "  # noqa: S608
                    "ON CONFLICT DO NOTHING")
        done = cur.rowcount
        cur.execute(f"DROP TABLE {new}")
        return staged - done


class _NotEmpty(Exception):
    """The empty partition to replace received rows meanwhile."""


def movement_watermark(session: Session) -> int:
    """Return the highest movement id (rows above it were inserted after this call)."""
    return session.scalar(select(func.max(Movement.id))) or 0


def stored_movements(bulk: Bulk, keys: list[tuple[str, str]]) -> dict[tuple[str, str], tuple]:
    """Return (establishment_id, event_id) → (content_hash, id, import_id) for existing keys.

    Joins a list of keys against the unique index (a temp table in SQLite, arrays in
    PostgreSQL): one index seek per key, never a scan.
    """
    wanted = sorted(set(keys))
    sql = ("SELECT m.establishment_id, m.event_id, m.content_hash, m.id, m.import_id "
           "FROM {keys} JOIN movements m ON m.establishment_id = k.e AND m.event_id = k.i")
    if bulk.dialect == "sqlite":
        cur = bulk.raw.cursor()
        try:
            cur.execute("CREATE TEMP TABLE IF NOT EXISTS _lookup_keys (e TEXT, i TEXT)")
            cur.execute("DELETE FROM _lookup_keys")
            cur.executemany("INSERT INTO _lookup_keys VALUES (?, ?)", wanted)
            rows = cur.execute(sql.format(keys="_lookup_keys k")).fetchall()
        finally:
            cur.close()
    else:
        with bulk.raw.cursor() as cur:
            cur.execute(sql.format(keys="unnest(%s::text[], %s::text[]) AS k(e, i)"),
                        ([k[0] for k in wanted], [k[1] for k in wanted]))
            rows = cur.fetchall()
    return {(est, eid): (h, mid, imp) for est, eid, h, mid, imp in rows}


def suspend_indexes(session: Session) -> list[Index]:
    """Drop the movements table's secondary indexes (a bulk load rebuilds them faster).

    DDL is transactional in SQLite and PostgreSQL: if the import fails, the rollback restores
    them. The unique (establishment_id, event_id) constraint stays: it finds duplicates.
    """
    conn = session.connection()
    dropped = sorted(Movement.__table__.indexes, key=lambda ix: ix.name)
    for ix in dropped:
        ix.drop(conn)
    return dropped


def restore_indexes(session: Session, dropped: list[Index]) -> None:
    """Recreate the indexes dropped by ``suspend_indexes`` (same names and definitions).

    On SQLite the sorter may use helper threads meanwhile (``PRAGMA threads``): each index is
    a sort of the whole table, and the validating process has finished by then.
    """
    conn = session.connection()
    raw = conn.connection.driver_connection if conn.dialect.name == "sqlite" else None
    before = raw.execute("PRAGMA threads").fetchone()[0] if raw is not None else 0
    if raw is not None:
        raw.execute(f"PRAGMA threads = {max(int(before), SORTER_THREADS)}")
    try:
        for ix in dropped:
            ix.create(conn)
    finally:
        if raw is not None:
            raw.execute(f"PRAGMA threads = {int(before)}")


@contextmanager
def larger_cache(bulk: Bulk, kib: int) -> Iterator[None]:
    """On SQLite, give this connection a page cache of at least ``kib`` KiB meanwhile.

    A fixed size, whatever the file: memory stays flat. Restored afterwards (also on error).
    """
    if bulk.dialect != "sqlite" or kib <= 0:
        yield
        return
    cur = bulk.raw.cursor()
    try:
        before = cur.execute("PRAGMA cache_size").fetchone()[0]
        page = cur.execute("PRAGMA page_size").fetchone()[0]
        changed = (-before if before < 0 else before * page // 1024) < kib
        if changed:
            cur.execute(f"PRAGMA cache_size = -{int(kib)}")
    finally:
        cur.close()
    try:
        yield
    finally:
        if changed:
            cur = bulk.raw.cursor()
            try:
                cur.execute(f"PRAGMA cache_size = {int(before)}")
            finally:
                cur.close()
