"""PostgreSQL: the movements table partitioned by month (``0012_partitions``), kept ahead.

Design (docs/scale.md): ``movements`` is ``PARTITION BY RANGE (occurred_at)``, one partition a
month (``movements_YYYY_MM``) plus ``movements_default`` for rows outside every month created so
far. Partitions live in their own schema (``<schema>_parts``), so the application schema lists
only the application's tables. The primary key is ``(id, occurred_at)`` and the unique key
``(establishment_id, event_id, occurred_at)``, as PostgreSQL requires the partition key in each;
the intake enforces the reporting format's key, ``(establishment_id, event_id)``, itself
(``centinela.ingest.writer.MovementStage``).

``maintain`` (``centinela db partitions``, and the ``serve`` scheduler once a day) creates the
months ahead, moves rows that landed in the default partition into their own month, and, when
``CENTINELA_PARTITION_RETENTION_MONTHS`` is set, detaches the months older than that into the
archive schema (``<schema>_archive``; or drops them with ``CENTINELA_PARTITION_ARCHIVE=false``).
SQLite keeps one plain table: every function here returns at once there.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

log = logging.getLogger("centinela.partitions")

TABLE = "movements"
DEFAULT = f"{TABLE}_default"
LOCK_TIMEOUT = "5s"


@dataclass
class Maintenance:
    """What one ``maintain`` run did."""

    created: list[str] = field(default_factory=list)
    moved: dict[str, int] = field(default_factory=dict)  # partition → rows out of the default
    archived: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    analyzed: list[str] = field(default_factory=list)  # partitions whose statistics were stale
    swept: list[str] = field(default_factory=list)  # loaders left by imports that died

    def as_dict(self) -> dict:
        return {"created": self.created, "moved": self.moved, "archived": self.archived,
                "dropped": self.dropped, "analyzed": self.analyzed, "swept": self.swept}


def month_start(day: dt.date | dt.datetime) -> dt.date:
    return dt.date(day.year, day.month, 1)


def add_months(month: dt.date, n: int) -> dt.date:
    k = month.year * 12 + month.month - 1 + n
    return dt.date(k // 12, k % 12 + 1, 1)


def partition_name(month: dt.date) -> str:
    return f"{TABLE}_{month.year:04d}_{month.month:02d}"


def is_partitioned(conn: Connection) -> bool:
    """True when ``movements`` is a partitioned table (PostgreSQL after 0012_partitions)."""
    if conn.dialect.name != "postgresql":
        return False
    kind = conn.execute(text("SELECT relkind FROM pg_class WHERE oid = to_regclass(:t)"),
                        {"t": TABLE}).scalar()
    return kind == "p"


def schemas(conn: Connection) -> tuple[str, str, str]:
    """Return (application schema, partitions schema, archive schema)."""
    from centinela.config import get_settings

    app = conn.execute(text("SELECT current_schema()")).scalar()
    archive = get_settings().partition_archive_schema or f"{app}_archive"
    return app, f"{app}_parts", archive


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def qualified(schema: str, name: str) -> str:
    """Return ``"schema"."name"``, each part quoted for SQL."""
    return f"{_q(schema)}.{_q(name)}"


def partitions(conn: Connection) -> list[dict]:
    """Every partition of movements: name, schema, bounds (None for the default), rows (est.)."""
    rows = conn.execute(text(
        "SELECT c.relname, n.nspname, pg_get_expr(c.relpartbound, c.oid), c.reltuples "
        "FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE i.inhparent = to_regclass(:t) ORDER BY c.relname"), {"t": TABLE}).all()
    out = []
    for name, schema, bound, tuples in rows:
        lo = hi = None
        if bound and "FROM" in bound:
            parts = bound.split("'")
            lo, hi = dt.date.fromisoformat(parts[1][:10]), dt.date.fromisoformat(parts[3][:10])
        out.append({"name": name, "schema": schema, "from": lo, "to": hi,
                    "rows": max(int(tuples), 0)})
    return out


def create_month(conn: Connection, month: dt.date, parts_schema: str) -> int | None:
    """Create the partition of ``month`` (if missing); return rows moved from the default
    partition into it, or None if it already existed."""
    name = partition_name(month)
    if conn.execute(text("SELECT to_regclass(:n)"), {"n": f"{parts_schema}.{name}"}).scalar():
        return None
    lo, hi = month.isoformat(), add_months(month, 1).isoformat()
    target = qualified(parts_schema, name)
    default = qualified(parts_schema, DEFAULT)
    waiting = conn.execute(text(
        f"SELECT count(*) FROM {default} WHERE occurred_at >= :lo AND occurred_at < :hi"),  # noqa: S608
        {"lo": lo, "hi": hi}).scalar() if _exists(conn, parts_schema, DEFAULT) else 0
    # A standalone table, then ATTACH: ATTACH takes SHARE UPDATE EXCLUSIVE on movements (reads
    # and imports go on), where CREATE TABLE … PARTITION OF would take ACCESS EXCLUSIVE.
    conn.execute(text(f"CREATE TABLE {target} (LIKE {TABLE} INCLUDING DEFAULTS)"))
    if waiting:  # rows of this month already sit in the default partition: move them
        conn.execute(text(
            f"WITH moved AS (DELETE FROM {default} WHERE occurred_at >= :lo "  # noqa: S608
            f"AND occurred_at < :hi RETURNING *) INSERT INTO {target} SELECT * FROM moved"),
            {"lo": lo, "hi": hi})
    conn.execute(text(f"ALTER TABLE {target} ADD CONSTRAINT {_q(name + '_range')} CHECK "
                      f"(occurred_at >= '{lo}' AND occurred_at < '{hi}')"))
    conn.execute(text(f"ALTER TABLE {TABLE} ATTACH PARTITION {target} "
                      f"FOR VALUES FROM ('{lo}') TO ('{hi}')"))
    conn.execute(text(f"ALTER TABLE {target} DROP CONSTRAINT {_q(name + '_range')}"))
    return int(waiting)


def _exists(conn: Connection, schema: str, name: str) -> bool:
    return conn.execute(text("SELECT to_regclass(:n)"), {"n": f"{schema}.{name}"}).scalar() \
        is not None


def maintain(conn: Connection, ahead: int | None = None, now: dt.datetime | None = None,
             retention_months: int | None = None, archive: bool | None = None,
             since: dt.date | None = None) -> Maintenance:
    """Create the months up to ``ahead`` months from now (from ``since``, before a backfill,
    and the months of rows waiting in the default partition); apply the retention setting.
    No-op off PostgreSQL partitions."""
    from centinela.config import get_settings

    s = get_settings()
    done = Maintenance()
    if not is_partitioned(conn):
        return done
    ahead = s.partition_ahead_months if ahead is None else ahead
    retention = s.partition_retention_months if retention_months is None else retention_months
    archive = s.partition_archive if archive is None else archive
    _app, parts_schema, archive_schema = schemas(conn)
    # Never queue readers behind this job while a long import holds the table: give up after
    # LOCK_TIMEOUT (the transaction fails; the next turn of the job retries).
    conn.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
    this = month_start(now or dt.datetime.now(dt.UTC))
    months = {add_months(this, k) for k in range(0, ahead + 1)}
    month = month_start(since) if since else this
    while month < this:
        months.add(month)
        month = add_months(month, 1)
    if _exists(conn, parts_schema, DEFAULT):
        months |= {month_start(m) for m in conn.execute(text(
            "SELECT DISTINCT date_trunc('month', occurred_at) FROM "  # noqa: S608
            f"{qualified(parts_schema, DEFAULT)}")).scalars()}
    if retention:
        oldest = add_months(this, -retention)
        months = {m for m in months if m >= oldest}
    for month in sorted(months):
        moved = create_month(conn, month, parts_schema)
        if moved is not None:
            done.created.append(partition_name(month))
            if moved:
                done.moved[partition_name(month)] = moved
    if retention:
        _retire(conn, add_months(this, -retention), archive, archive_schema, done)
    _analyze_stale(conn, parts_schema, done)
    _sweep_loaders(conn, parts_schema, done)
    return done


def _sweep_loaders(conn: Connection, parts_schema: str, done: Maintenance) -> None:
    """Drop the loaders (with their month tables) of bulk imports whose process died.

    A bulk import commits its loader apart (``centinela.ingest.writer.MonthLoader``), named
    ``_load_<pid>_…`` after the backend that copies into it; an import that fails drops it
    itself. One whose backend no longer exists was left by a process that died: never
    attached, invisible to every reader, only disk to give back."""
    rows = conn.execute(text(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = :s AND c.relkind = 'p' AND c.relname ~ '^_load_[0-9]+_[0-9]+_[0-9]+$' "
        "AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a "
        "WHERE a.pid = split_part(c.relname, '_', 3)::int) ORDER BY c.relname"),
        {"s": parts_schema}).scalars().all()
    for name in rows:
        conn.execute(text(f"DROP TABLE IF EXISTS {qualified(parts_schema, name)}"))
        done.swept.append(name)


# A partition is re-analyzed when never analyzed, or when rows changed since its last
# statistics exceed this share of its rows (autovacuum's own default is 10 % + 50 rows).
STALE_SHARE = 0.2
# A month a bulk import loaded gets a first, small sample (``ingest.writer``: statistics
# target 10, a histogram of 10 buckets): cheap on the import's critical path. Maintenance
# refines it: a month of at least ``COARSE_MIN_ROWS`` rows whose ``occurred_at`` histogram
# has no more bounds than that target gives is analyzed again at the server's own target.
BULK_STATISTICS_TARGET = 10
COARSE_MIN_ROWS = 10_000


def _analyze_stale(conn: Connection, parts_schema: str, done: Maintenance) -> None:
    """ANALYZE the partitions whose planner statistics are missing, stale or coarse (the
    small first sample of a bulk-loaded month, ``BULK_STATISTICS_TARGET``).

    Autovacuum analyzes partitions too, when it runs: this covers a server where it is off, and
    months loaded by the import's bulk path, whose statistics the import takes with a small
    sample. Without statistics the planner estimates one row per partition and picks nested
    loops: the map's yearly aggregate took 3.3 s instead of 0.4 s on a national year."""
    # Never analyzed: no statistics yet (pg_stats, readable without superuser; the activity
    # counters below may lag by a second).
    rows = conn.execute(text(
        "SELECT c.relname, NOT EXISTS (SELECT 1 FROM pg_stats st WHERE st.schemaname = n.nspname "
        "AND st.tablename = c.relname), "
        "coalesce(t.n_mod_since_analyze > :share * greatest(t.n_live_tup, 1), false) "
        "OR (c.reltuples >= :rows AND coalesce((SELECT array_length(st.histogram_bounds, 1) "
        "FROM pg_stats st WHERE st.schemaname = n.nspname AND st.tablename = c.relname "
        "AND st.attname = 'occurred_at'), :bounds + 1) <= :bounds) "
        "FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "LEFT JOIN pg_stat_user_tables t ON t.relid = c.oid "
        "WHERE i.inhparent = to_regclass(:t) AND n.nspname = :s ORDER BY c.relname"),
        {"s": parts_schema, "t": TABLE, "share": STALE_SHARE, "rows": COARSE_MIN_ROWS,
         "bounds": BULK_STATISTICS_TARGET + 1}).all()
    for name, never, stale in rows:
        target = qualified(parts_schema, name)
        if not (stale or (never and conn.execute(text(
                f"SELECT EXISTS (SELECT 1 FROM {target})")).scalar())):  # noqa: S608
            continue
        conn.execute(text(f"ANALYZE {target}"))
        done.analyzed.append(name)


def _retire(conn: Connection, before: dt.date, archive: bool, archive_schema: str,
            done: Maintenance) -> None:
    """Detach every monthly partition that ends on or before ``before``."""
    for p in partitions(conn):
        if p["to"] is None or p["to"] > before:
            continue
        name = qualified(p['schema'], p['name'])
        conn.execute(text(f"ALTER TABLE {TABLE} DETACH PARTITION {name}"))
        if archive:
            conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {_q(archive_schema)}"))
            conn.execute(text(f"ALTER TABLE {name} SET SCHEMA {_q(archive_schema)}"))
            done.archived.append(p["name"])
        else:
            conn.execute(text(f"DROP TABLE {name}"))
            done.dropped.append(p["name"])


def maintain_engine(engine: Engine, **kw) -> Maintenance:
    """``maintain`` in its own transaction."""
    with engine.begin() as conn:
        return maintain(conn, **kw)


def start_maintenance(engine: Engine, every_s: float = 6 * 3600) -> Callable[[], None] | None:
    """For ``centinela serve``: run ``maintain`` now and every ``every_s`` (PostgreSQL only)."""
    if engine.dialect.name != "postgresql":
        return None
    stop = threading.Event()

    def loop() -> None:
        while True:
            try:
                done = maintain_engine(engine)
                if done.created or done.archived or done.dropped:
                    log.info("partitions: %s", done.as_dict())
            except Exception:  # noqa: BLE001 - logged; retried at the next turn
                log.exception("partition maintenance failed")
            if stop.wait(every_s):
                return

    threading.Thread(target=loop, name="centinela-partitions", daemon=True).start()
    return stop.set


def intentional_drift(diff: list) -> list:
    """The model/migration differences that partitioning makes on purpose (PostgreSQL).

    The models describe the portable table (SQLite, and PostgreSQL before 0012): the unique
    (establishment_id, event_id) constraint cannot exist on a partitioned table, where the
    unique key holds occurred_at too. Return ``diff`` without those entries.
    """

    def about_movements(entry) -> bool:
        if isinstance(entry, list):
            return all(about_movements(e) for e in entry)
        for obj in entry[1:]:
            table = getattr(obj, "table", None)
            if getattr(table, "name", None) == TABLE or getattr(obj, "name", None) == TABLE:
                return True
        return False

    return [d for d in diff if not about_movements(d)]
