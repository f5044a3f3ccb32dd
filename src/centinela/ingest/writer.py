"""Bulk writes through the database driver, inside the import's one transaction.

SQLite: ``executemany`` of ``INSERT … ON CONFLICT DO NOTHING``. PostgreSQL: ``COPY`` into a
temporary staging table, then one set-based ``INSERT … SELECT … ON CONFLICT DO NOTHING``
(``MovementStage``); a backfill-sized file is ``COPY``ed straight into month tables that are
indexed as the file moves past them and attached (``MonthLoader``).
Either way the database itself finds duplicate keys; only when a batch inserts fewer rows than it
holds do we look the missing keys up (one query per batch) to tell duplicates from conflicts.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy import Index, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from centinela.ledger.records import Movement
from centinela.partitions import (
    BULK_STATISTICS_TARGET,
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
        self.duplicates = 0  # rows told duplicates before a merge (``MonthLoader._restage``)
        self.loaders: list[MonthLoader] = []  # loads with tables committed apart

    def discard(self) -> None:
        """The import's transaction did not commit: drop what its loads committed apart."""
        for loader in self.loaders:
            loader.discard()
        self.loaders = []

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

    def stored_same(self, alias: str) -> str:
        """SQL: the row ``alias`` is stored already with the same key and content (a
        duplicate). The same content means the same time (the hash covers it): each lookup
        reads one month's unique key."""
        match = " AND ".join(f"m.{k} = {alias}.{k}" for k in (*self.key, "occurred_at",
                                                               "content_hash"))
        return f"EXISTS (SELECT 1 FROM {self.table} m WHERE {match})"  # noqa: S608

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
            # The merge sorts the file once (first occurrence of each key): in memory, not in
            # temporary files (4 MB default work_mem spills at 200k rows). This transaction only.
            cur.execute(f"SET LOCAL work_mem = '{MERGE_WORK_MEM}'")
            cur.execute(f"SET LOCAL maintenance_work_mem = '{MERGE_WORK_MEM}'")
            if self.partitioned:
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (MERGE_LOCK,))
            # A row stored with the same key and content (a re-sent file) is a duplicate,
            # whatever else the file holds: counted and taken out first.
            cur.execute(f"DELETE FROM {stage} s WHERE {self.stored_same('s')}")  # noqa: S608
            self.bulk.duplicates += cur.rowcount
            self.count -= cur.rowcount
            cur.execute(f"ANALYZE {stage}")
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


_LOADS = itertools.count()  # loads apart by this process (part of their tables' names)

# A month of the file with at least this many rows, whose partition is missing or empty, is
# loaded apart and attached (``BulkMonths``) instead of inserted row by row.
BULK_MONTH_ROWS = 10_000
SWAP_LOCK_TIMEOUT = "5s"
LOCK_NOT_AVAILABLE = "55P03"  # SQLSTATE of a lock_timeout
# Statistics target of a bulk-loaded month's first ANALYZE (the server's default is 100):
# a small sample on the import's critical path, refined by ``partitions.maintain``.
ANALYZE_TARGET = BULK_STATISTICS_TARGET
# A partial index ``WHERE col IS NOT NULL`` is created on a month's empty table, before its
# rows come (maintained row by row), when ``col`` was empty in at least this share of the
# file's latest month analyzed: a build would scan the whole month to index almost nothing.
SPARSE_NULL_FRAC = 0.98
_SPARSE = re.compile(r" WHERE \((\w+) IS NOT NULL\)$")


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
        # Names of this load's own: other imports (other processes, or threads of this one)
        # may load the same months at the same time.
        self.tag = f"{os.getpid()}_{next(_LOADS)}"
        self.loader = qualified(self.parts, f"_load_{self.tag}")
        self._defs: tuple[list[str], list[tuple[str, str]]] | None = None

    def _new(self, month: dt.date) -> str:
        # This load's own name: two imports loading the same month apart must not wait on
        # each other's uncommitted table (the second then finds the month taken, under the
        # advisory lock, and inserts row by row).
        return f"{partition_name(month)}_new_{self.tag}"

    def load(self, cols: str, firsts: str) -> int:
        """Insert ``firsts`` (the file's new rows); return how many went in."""
        cur, table, parts = self.cur, self.table, self.parts
        rest = qualified(parts, f"_load_{self.tag}_rest")
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
        for month, _old in self.months:
            cur.execute(f"ALTER TABLE {self.loader} DETACH PARTITION "
                        f"{qualified(parts, self._new(month))}")
            for sql in self.statements(month):
                cur.execute(sql)
        cur.execute(f"DROP TABLE {self.loader}")
        return self.attach_all(inserted)

    def statements(self, month: dt.date, skip: frozenset[str] = frozenset()) -> list[str]:
        """The DDL that gives the month's loaded table every key and index of ``table`` (one
        sort each) and a CHECK of its range, less the statements in ``skip`` (built already)."""
        if self._defs is None:
            self._defs = self._definitions()
        keys, indexes = self._defs
        name = self._new(month)
        new = qualified(self.parts, name)
        # Keys unnamed: the server picks names no other relation holds (a month loaded apart
        # before, then emptied, still holds the names of its first load).
        out = [f"ALTER TABLE {new} ADD {key}" for key in keys]
        out += [f"CREATE {unique}INDEX ON {new} USING {using}" for unique, using in indexes]
        out.append(f'ALTER TABLE {new} ADD CONSTRAINT "{name}_range" CHECK '
                   f"(occurred_at >= '{month}' AND occurred_at < '{add_months(month, 1)}')")
        return [x for x in out if x not in skip]

    def attach_all(self, inserted: int, analyzed: set[dt.date] | frozenset = frozenset()) -> int:
        """ANALYZE the months' tables (but those in ``analyzed``), attach them; return
        ``inserted`` less the rows that could not go in (row-by-row fallback only)."""
        cur, parts = self.cur, self.parts
        # Planner statistics for the new months (autovacuum may be off, and is late anyway): a
        # small sample; `centinela db partitions` (and `serve`'s job) refines it later.
        cur.execute("SHOW default_statistics_target")
        target = cur.fetchone()[0]
        cur.execute(f"SET LOCAL default_statistics_target = {ANALYZE_TARGET}")
        for month, _old in self.months:
            if month not in analyzed:
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


UNIQUE_EARLY = "SAVEPOINT early_key; "
UNIQUE_VIOLATION = "23505"


class MonthLoader:
    """PostgreSQL, partitioned movements, a large file (a backfill): rows ``COPY``ed straight
    into a private loader table partitioned by month as the validating child hands them over;
    ``merge`` then attaches the whole months and moves the rest in.

    No staging table and no ``INSERT … SELECT`` of the whole file (the staged path's merge).
    That path stays for what it does best: as soon as a key may occur twice in the file (a
    64-bit hash of every (establishment_id, event_id) is kept, 8 bytes a row, and sorted at
    the end) or a key of the file is stored already, the loaded rows are moved into a
    ``MovementStage`` with their line numbers (kept here, 4 bytes a row) and merged by it, so
    duplicates and conflicts are told apart exactly as before. Ids come from the movements
    sequence in file order, so file order is id order.

    A month whose rows have stopped coming (the file is past it: a batch holds only later
    months) and that may be loaded apart gets its primary key, secondary indexes, statistics
    and unique key built while the child still validates the rest of the file. Rows that
    still come for that month later are maintained in its indexes. The key hashes so far are
    checked before a unique key is built: a repeated key that meets it ends the early builds
    and sends the end to ``MovementStage``, never an error.

    Two backends of the import's own share the server's work (``_Side``): one creates the
    loader and ``COPY``s the batches, the other builds the finished months (sent without
    waiting, ``send_query``), so that copying, building and the child's validation run at
    once; at the end both build the last months. They commit as they go (autocommit): the
    loader is invisible to readers of ``movements`` until the import's own transaction
    attaches its months, and ``discard`` (an import that fails) or ``partitions.maintain``
    (a process that died; the tables carry the copying backend's pid) drops what is left.
    Each ``COPY`` round is one transaction, so a round that meets an early unique key leaves
    nothing behind. The import's own connection touches the loader only at the end, after
    the builds, so no lock of its can hold a build up.
    """

    def __init__(self, bulk: Bulk, table: str, columns: Sequence[str],
                 key: Sequence[str]) -> None:
        from array import array

        self.bulk, self.table, self.columns, self.key = bulk, table, tuple(columns), tuple(key)
        self.count = 0
        self.lines = array("i")
        self.hashes: list = []  # int64 arrays; the first one sorted once ``sorted``
        self.sorted = False
        self.months: dict[dt.date, list] = {}  # month → [rows, may be apart (guess), queued]
        self.opening: list[dt.date] = []  # months seen whose loader table is not created yet
        self.current: dt.date | None = None
        self.waiting: list = []  # batches not copied yet
        self.queue: list[str] = []  # statements to send without waiting
        self.built: set[str] = set()  # statements done
        self.uniques: set[str] = set()  # month tables whose unique key was built early
        self.repeated = False  # a key repeats in the file (known before the end)
        self.analyzed: dt.date | None = None  # the latest month whose statistics exist
        self.analyzing: dict[str, dt.date] = {}  # ANALYZE statement → its month
        conn = bulk.session.connection()
        self.conn = conn
        self.cur = bulk.raw.cursor()
        bind = bulk.session.get_bind()
        engine = getattr(bind, "engine", bind)
        self.copier = _Side(engine)
        self.builder = _Side(engine)
        bulk.loaders.append(self)
        self.months_bulk = BulkMonths(self.cur, conn, table, [])
        # Names of this load: the copying backend's pid first (``partitions.maintain`` drops
        # the loader of a backend that is gone), then this process's and its load count.
        self.months_bulk.tag = f"{self.copier.pid}_{os.getpid()}_{next(_LOADS)}"
        self.loader = self.months_bulk.loader = qualified(
            self.months_bulk.parts, f"_load_{self.months_bulk.tag}")
        parts = self.months_bulk.parts
        attached = {p["name"]: qualified(p["schema"], p["name"]) for p in partitions(conn)}
        self.attached = attached
        copier = self.copier.cur
        copier.execute(f"CREATE TABLE {self.loader} (LIKE {table} INCLUDING DEFAULTS) "
                       "PARTITION BY RANGE (occurred_at)")
        copier.execute(f"CREATE TABLE {qualified(parts, f'_load_{self.months_bulk.tag}_rest')} "
                       f"PARTITION OF {self.loader} DEFAULT")
        self.copy_sql = f"COPY {self.loader} ({', '.join(self.columns)}) FROM STDIN"
        self.leaf_sql: dict[str, str] = {}

    # -- loading ---------------------------------------------------------------------------
    def add(self, rows, lines: Sequence[int]) -> None:
        """Take a batch: row tuples (MOVEMENT_COLUMNS), or a ``worker.CopyBatch`` that the
        validating child wrote as COPY text with its key hashes and months."""
        import numpy as np

        self.lines.extend(lines)
        self.count += len(rows)
        seen: dict[str, int]
        if isinstance(rows, list):
            self.hashes.append(np.fromiter((hash((r[3], r[0])) for r in rows), np.int64,
                                           len(rows)))
            seen = {}
            for r in rows:
                m = r[2][:7]
                seen[m] = seen.get(m, 0) + 1
        else:
            self.hashes.append(np.array(rows.hashes, dtype=np.int64))
            seen = rows.months
        for m in seen:
            month = _month(m)
            if month not in self.months:
                # While a build runs the connection is taken: the month's table is created
                # when it ends (``_copy``), and meanwhile neither this process nor the
                # validating child waits. Not built early before it exists (``False``).
                self.months[month] = [0, False, False]
                self.opening.append(month)
        for m, n in seen.items():
            self.months[_month(m)][0] += n
        self.waiting.append(rows)
        first = _month(min(seen))
        if self.current is not None and first > self.current and not self.repeated:
            # The file is past every month before ``first``: build those that qualify.
            closing = [month for month, state in self.months.items()
                       if month < first and state[1] and not state[2]
                       and state[0] >= BULK_MONTH_ROWS]
            if closing and self._repeats():
                self.repeated = True  # the end goes to MovementStage: build nothing early
            for month in [] if self.repeated else closing:
                self.months[month][2] = True
                self.queue += self._early(month)
        self.current = first if self.current is None else max(self.current, first)
        self._pump()

    def _repeats(self) -> bool:
        """True if a key hash occurs twice among the rows so far (8 bytes a row, one sort)."""
        import numpy as np

        if len(self.hashes) > 1 or (self.hashes and not self.sorted):
            # The sorted hashes so far and the new ones sorted: two runs, merged in linear time.
            new = np.sort(np.concatenate(self.hashes[1:] if self.sorted else self.hashes))
            self.hashes = [np.sort(np.concatenate([self.hashes[0], new]), kind="stable")
                           if self.sorted else new]
            self.sorted = True
        if not self.hashes:
            return False
        keys = self.hashes[0]
        return bool(keys.size > 1 and (keys[1:] == keys[:-1]).any())

    def _open(self, month: dt.date) -> None:
        """Create the month's table in the loader, with the CHECK of its range that ATTACH
        needs (checked row by row as rows come, not by a scan at the end); note whether the
        month may be loaded apart.

        A guess that reads no table (a lock taken on a partition here, before the advisory
        lock, could deadlock with another import attaching a month): the month may be loaded
        apart unless the statistics count live rows in its partition. ``merge`` decides, by
        reading, under the lock."""
        cur, parts = self.copier.cur, self.months_bulk.parts
        existing = self.attached.get(partition_name(month))
        eligible = True
        if existing is not None:
            cur.execute("SELECT coalesce(pg_stat_get_live_tuples(to_regclass(%s)), 0)",
                        (existing,))
            eligible = not cur.fetchone()[0]
        cur.execute(f"CREATE TABLE {qualified(parts, self.months_bulk._new(month))} PARTITION "
                    f"OF {self.loader} FOR VALUES FROM ('{month}') TO ('{add_months(month, 1)}')")
        statements = self.months_bulk.statements(month)
        sparse = self._sparse()
        for sql in statements:
            found = _SPARSE.search(sql)
            if " CHECK " in sql or (found and found.group(1) in sparse):
                cur.execute(sql)
                self.built.add(sql)
        self.months[month][1] = eligible

    def _sparse(self) -> set[str]:
        """Columns empty in at least ``SPARSE_NULL_FRAC`` of the latest month analyzed so far
        (its statistics, read from the catalog: no scan), or none before the first."""
        if self.analyzed is None:
            return set()
        cur = self.copier.cur
        cur.execute("SELECT attname FROM pg_stats WHERE schemaname = %s AND tablename = %s "
                    "AND null_frac >= %s",
                    (self.months_bulk.parts, self.months_bulk._new(self.analyzed),
                     SPARSE_NULL_FRAC))
        return {name for (name,) in cur.fetchall()}

    def _early(self, month: dt.date) -> list[str]:
        """The month's keys and indexes, then its planner statistics: built while the file
        goes on. The unique key goes last and alone: a key repeated since the last check makes
        it fail, which only sends the end to ``MovementStage``."""
        out = self.months_bulk.statements(month, frozenset(self.built))
        unique = [x for x in out if "UNIQUE" in x]
        out = [x for x in out if "UNIQUE" not in x]
        out.append(self._analyze(month))
        return out + [f"{UNIQUE_EARLY}{x}" for x in unique]

    def _analyze(self, month: dt.date) -> str:
        # The sides' statistics target is ANALYZE_TARGET (``_Side``): a small sample.
        sql = f"ANALYZE {qualified(self.months_bulk.parts, self.months_bulk._new(month))}"
        self.analyzing[sql] = month
        return sql

    def _copy(self) -> None:
        """COPY the waiting batches through the copying backend, in one transaction; months
        first opened. A round that meets an early unique key (a key repeated in the file)
        leaves nothing: the unique keys are dropped and the round copied again."""
        while self.opening:
            self._open(self.opening.pop(0))
        if not self.waiting:
            return
        try:
            # Row tuples through the driver; the child's COPY text as it is (NULL ''), each
            # run of one month straight into that month's table (no routing of every row).
            with self.copier.pg.transaction():
                for target, chunks in self._segments():
                    with self.copier.cur.copy(target) as copy:
                        for chunk in chunks:
                            if isinstance(chunk, list):
                                for row in chunk:
                                    copy.write_row(row)
                            else:
                                copy.write(chunk)
        except Exception as exc:
            if not self.uniques or getattr(exc, "sqlstate", None) != UNIQUE_VIOLATION:
                raise
            self._wait()
            self._drop_uniques()
            self._copy()
            return
        self.waiting = []

    def _segments(self) -> list[tuple[str, list]]:
        """The waiting batches as ``(COPY statement, chunks)`` in file order: row tuples and
        batches whose months change often through the loader, the child's runs of one month
        into that month's table; consecutive chunks of one target share one ``COPY``."""
        out: list[tuple[str, list]] = []

        def put(target: str, chunk) -> None:
            if out and out[-1][0] == target:
                out[-1][1].append(chunk)
            else:
                out.append((target, [chunk]))

        for rows in self.waiting:
            if isinstance(rows, list):
                put(self.copy_sql, rows)
            elif rows.runs is None:
                put(self.copy_sql + " (NULL '')", rows.data)
            else:
                view, start = memoryview(rows.data), 0
                for month, end in rows.runs:
                    put(self._leaf_sql(month), view[start:end])
                    start = end
        return out

    def _leaf_sql(self, month: str) -> str:
        sql = self.leaf_sql.get(month)
        if sql is None:
            table = qualified(self.months_bulk.parts, self.months_bulk._new(_month(month)))
            sql = self.leaf_sql[month] = (f"COPY {table} ({', '.join(self.columns)}) FROM STDIN "
                                          "(NULL '')")
        return sql

    def _drop_uniques(self) -> None:
        """A key repeats in the file: drop the unique keys built early (the end goes to
        ``MovementStage``, which reads the loaded rows again)."""
        self.repeated = True
        cur = self.copier.cur
        for table in sorted(self.uniques):
            cur.execute("SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass "
                        "AND contype = 'u'", (table,))
            for (name,) in cur.fetchall():
                cur.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        self.uniques.clear()

    @property
    def busy(self) -> list[str] | None:
        """The statements the building backend runs now, if any."""
        return self.builder.busy

    def _pump(self) -> None:
        """Copy the waiting batches; send the next queued build if none runs."""
        side = self.builder
        if side.busy and side.ready():
            self._result(side)
        self._copy()
        if self.queue and not self.repeated and not side.busy:
            # Back to back on the server: the queued statements up to a unique key (which
            # goes alone). One month at a time: a build holds no lock on another month's
            # table, so a COPY into that month never waits for it.
            n = 1 if self.queue[0].startswith(UNIQUE_EARLY) else next(
                (i for i, x in enumerate(self.queue) if x.startswith(UNIQUE_EARLY)),
                len(self.queue))
            unit, self.queue = self.queue[:n], self.queue[n:]
            side.send(unit)

    def _result(self, side: _Side) -> None:
        """Take the result of ``side``'s statements in flight: note them built; a repeated key
        met by an early unique key drops the unique keys; any other error raises."""
        done = side.busy or []
        error, state = side.result()
        unique = len(done) == 1 and done[0].startswith(UNIQUE_EARLY)
        if error is not None and unique and state == UNIQUE_VIOLATION:
            self._drop_uniques()
            return
        if error is not None:
            import psycopg

            raise psycopg.DatabaseError(error)
        for sql in done:
            if sql.startswith(UNIQUE_EARLY):
                sql = sql[len(UNIQUE_EARLY):]
                self.uniques.add(sql.split()[2])  # ALTER TABLE <t> ADD UNIQUE …
            self.built.add(sql)
            month = self.analyzing.pop(sql, None)
            if month is not None and (self.analyzed is None or month > self.analyzed):
                self.analyzed = month

    def _wait(self) -> None:
        """Wait for the build in flight, if any."""
        while self.builder.busy:
            self.builder.wait()
            self._result(self.builder)

    def _build_all(self, units: list[tuple[bool, list[str]]]) -> None:
        """Run ``units`` on both backends at once, each taking the next unit it may run as it
        finishes one. A unit is ``(exclusive, statements)`` on one month's table: exclusive
        when it adds a key or takes statistics (it locks the table against every other
        build), else plain index builds, which two backends may run on one table at once. A
        unit is not sent while the other backend runs one it conflicts with (it would only
        wait for its lock)."""
        import select

        sides = (self.builder, self.copier)
        # What each side runs: (month, exclusive); the build in flight counts as exclusive.
        running = {id(s): (_unit_month(s.busy), True) for s in sides if s.busy}
        pending = list(units)

        def free(unit: tuple[bool, list[str]], other: _Side) -> bool:
            now = running.get(id(other))
            return now is None or now[0] != _unit_month(unit[1]) or not (now[1] or unit[0])

        while pending or any(s.busy for s in sides):
            for side, other in ((sides[0], sides[1]), (sides[1], sides[0])):
                if side.busy and side.ready():
                    self._result(side)
                    running.pop(id(side), None)
                if not side.busy:
                    unit = next((u for u in pending if free(u, other)), None)
                    if unit is not None:
                        pending.remove(unit)
                        side.send(unit[1])
                        running[id(side)] = (_unit_month(unit[1]), unit[0])
            busy = [s for s in sides if s.busy]
            if busy and not any(s.ready() for s in busy):
                select.select([s.pg.pgconn.socket for s in busy], [], [], 1.0)

    # -- the end -----------------------------------------------------------------------------
    def merge(self, import_id: int) -> tuple[int, list[tuple]]:
        """Attach the whole months, insert the others; return (inserted, the other rows) as
        ``MovementStage.merge`` does (which takes over when a key repeats or is stored)."""
        self._copy()
        self.queue = []
        cur, table = self.cur, self.table
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (MERGE_LOCK,))
        # A unique key in flight fails only on a key repeated in the file, which the hashes
        # tell: with none, its build goes on while the end begins (``_build_all`` takes its
        # result).
        repeated = self.repeated or self._repeats()
        self.hashes = []
        match = " AND ".join(f"m.{k} = l.{k}" for k in self.key)
        if not repeated:
            # A count, not EXISTS: EXISTS asks the planner for the first match fast and, with
            # months not analyzed yet, it bets on a nested loop that probes every partition's
            # index once per loaded row (8.8 s for 1 M rows into empty months). Counting asks
            # for the cheapest whole plan: a hash semi-join (9 ms when nothing is stored).
            # Read by the copying backend: the import's own connection takes no lock on the
            # loader before the last builds (they would wait for its commit).
            self.copier.cur.execute(f"SELECT count(*) FROM {self.loader} l WHERE EXISTS "  # noqa: S608
                                    f"(SELECT 1 FROM {table} m WHERE {match})")
            repeated = self.copier.cur.fetchone()[0] > 0
        if repeated:
            self._wait()
            return self._restage(import_id)
        parts = self.months_bulk.parts
        # Months to attach: eligible, big enough, and (re-checked under the lock) still empty.
        chosen: list[tuple[dt.date, str | None]] = []
        attached = {p["name"]: qualified(p["schema"], p["name"])
                    for p in partitions(self.conn)}
        default = attached.get(DEFAULT)
        for month, (n, _guess, _early) in sorted(self.months.items()):
            ok = n >= BULK_MONTH_ROWS
            if ok and default is not None:
                cur.execute(f"SELECT EXISTS (SELECT 1 FROM {default} "  # noqa: S608
                            "WHERE occurred_at >= %s AND occurred_at < %s)",
                            (month, add_months(month, 1)))
                ok = not cur.fetchone()[0]
            existing = attached.get(partition_name(month))
            if ok and existing is not None:
                cur.execute(f"SELECT EXISTS (SELECT 1 FROM {existing})")  # noqa: S608
                ok = not cur.fetchone()[0]
            if ok:
                chosen.append((month, existing))
        bm = self.months_bulk
        # The chosen months' keys, indexes and statistics not built yet (nor in flight), on
        # both backends: each month's keys and statistics as one unit, its other indexes as
        # two (which may run at once), every month's keys first.
        flight = {x.removeprefix(UNIQUE_EARLY) for x in self.builder.busy or []}
        keys: list[tuple[bool, list[str]]] = []
        others: list[tuple[bool, list[str]]] = []
        for month, _old in chosen:
            todo = [x for x in bm.statements(month, frozenset(self.built)) if x not in flight]
            exclusive = [x for x in todo if x.startswith("ALTER TABLE")]
            analyze = self._analyze(month)
            if analyze not in self.built and analyze not in flight:
                exclusive.append(analyze)
            plain = [x for x in todo if not x.startswith("ALTER TABLE")]
            keys += [(True, exclusive)] if exclusive else []
            others += [(False, half) for half in (plain[0::2], plain[1::2]) if half]
        self._build_all(keys + others)
        inserted = self.count
        keep = {m for m, _old in chosen}
        for month in sorted(self.months):
            if month in keep:
                continue
            # Row by row into movements (ids kept: drawn in file order).
            part = qualified(parts, bm._new(month))
            cur.execute(f"INSERT INTO {table} SELECT * FROM {part} ORDER BY id "  # noqa: S608
                        "ON CONFLICT DO NOTHING")
            inserted -= self.months[month][0] - cur.rowcount
        rest = qualified(parts, f"_load_{bm.tag}_rest")
        cur.execute(f"SELECT count(*) FROM {rest}")  # noqa: S608
        if cur.fetchone()[0]:  # pragma: no cover - every month has its table in the loader
            cur.execute(f"INSERT INTO {table} SELECT * FROM {rest} ORDER BY id "  # noqa: S608
                        "ON CONFLICT DO NOTHING")
        bm.months = chosen
        for month, _old in chosen:
            cur.execute(f"ALTER TABLE {self.loader} DETACH PARTITION "
                        f"{qualified(parts, bm._new(month))}")
        cur.execute(f"DROP TABLE {self.loader}")
        inserted = bm.attach_all(inserted, keep)
        self._done()
        return inserted, []

    def _restage(self, import_id: int) -> tuple[int, list[tuple]]:
        """A key repeats in the file or is stored: hand the rows, with their lines, to a
        ``MovementStage`` and let its merge tell duplicates and conflicts apart."""
        self._close_sides()
        stage = MovementStage(self.bulk, self.table, self.columns, self.key)
        cols = ", ".join(self.columns)
        # The stage's own duplicate rule, applied before the rows are staged (a re-sent year
        # then costs one anti-join, not staging a million rows to delete them: 16 s against
        # 21 s). Rows are numbered before this filter: lines stay right.
        self.cur.execute(
            f"INSERT INTO {stage.name} (seq, line, {cols}) SELECT l.rn, u.line, {cols} "  # noqa: S608
            f"FROM (SELECT row_number() OVER (ORDER BY id) AS rn, * FROM {self.loader}) l "
            "JOIN unnest(%s::int[]) WITH ORDINALITY AS u(line, ord) ON u.ord = l.rn "
            f"WHERE NOT {stage.stored_same('l')}",
            (list(self.lines),))
        stage.count = self.cur.rowcount
        self.bulk.duplicates += self.count - stage.count
        self.cur.execute(f"DROP TABLE {self.loader}")
        self._done()
        return stage.merge(import_id)

    def _done(self) -> None:
        self._close_sides()
        self.cur.close()
        self.bulk.stage = None

    def _close_sides(self) -> None:
        for side in (self.builder, self.copier):
            side.close()

    def discard(self) -> None:
        """After the import's transaction ended without committing this load: drop the loader
        (the sides committed it) with what it still holds. Idempotent; never raises."""
        self._close_sides()
        try:
            with _Side(self.copier.engine) as side:
                side.cur.execute(f"DROP TABLE IF EXISTS {self.loader}")
        except Exception:  # noqa: BLE001 - partitions.maintain drops it later
            log.warning("could not drop the loader %s of a failed import", self.loader,
                        exc_info=True)


class _Side:
    """A second connection of the import's own, from the engine's pool, in autocommit: the
    loader's ``COPY``s or its builds run there at the same time as the other work.

    Its session settings (asynchronous commit: the import's own commit, later, flushes the
    WAL before it; a small statistics sample; no parallel workers: the two sides already use
    both cores) never go back to the pool: the connection is closed at the end."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.fairy = engine.raw_connection()
        self.pg = self.fairy.driver_connection
        self.pg.rollback()  # the pool's ping may have opened a transaction
        self.pg.autocommit = True
        self.cur = self.pg.cursor()
        self.cur.execute("SET synchronous_commit = off")
        self.cur.execute(f"SET default_statistics_target = {ANALYZE_TARGET}")
        self.cur.execute("SET max_parallel_maintenance_workers = 0")
        self.cur.execute("SELECT pg_backend_pid()")
        self.pid = int(self.cur.fetchone()[0])
        self.busy: list[str] | None = None
        self.closed = False

    def __enter__(self) -> _Side:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def send(self, statements: list[str]) -> None:
        """Send ``statements`` without waiting (one implicit transaction)."""
        self.busy = statements
        text = "; ".join(x[len(UNIQUE_EARLY):] if x.startswith(UNIQUE_EARLY) else x
                         for x in statements)
        self.pg.pgconn.send_query(text.encode())

    def ready(self) -> bool:
        pg = self.pg.pgconn
        pg.consume_input()
        return not pg.is_busy()

    def wait(self) -> None:
        import select

        while self.busy and not self.ready():
            select.select([self.pg.pgconn.socket], [], [], 1.0)

    def result(self) -> tuple[str | None, str | None]:
        """The statements in flight have ended: their first error and its SQLSTATE, if any."""
        from psycopg import pq

        error = state = None
        while (res := self.pg.pgconn.get_result()) is not None:
            if res.status == pq.ExecStatus.FATAL_ERROR and error is None:
                error = (res.error_message or b"").decode("utf-8", "replace")
                state = (res.error_field(pq.DiagnosticField.SQLSTATE) or b"").decode()
        self.busy = None
        return error, state

    def close(self) -> None:
        """Close the connection (statements in flight are cancelled); never back to the pool
        with this session's settings."""
        if self.closed:
            return
        self.closed = True
        try:
            if self.busy:
                self.pg.cancel()
            self.cur.close()
        except Exception:  # noqa: BLE001 - the connection goes anyway
            log.debug("closing an import side connection", exc_info=True)
        self.fairy.invalidate()
        self.busy = None


def _month(text: str) -> dt.date:
    return dt.date(int(text[:4]), int(text[5:7]), 1)


_LEAF_MONTH = re.compile(r"movements_(\d{4})_(\d{2})_new_")


def _unit_month(statements: list[str] | None) -> dt.date | None:
    """The month of the loader table that a unit of statements works on."""
    found = _LEAF_MONTH.search(statements[0]) if statements else None
    return dt.date(int(found.group(1)), int(found.group(2)), 1) if found else None


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
