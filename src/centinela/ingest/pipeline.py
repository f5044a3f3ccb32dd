"""The per-file loop: read → validate → batch → bulk insert, every rejection kept.

One ``IntakeContext`` lives for one import (one transaction); it holds the precompiled lookups,
the bulk writer and the buffer of rejections.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from centinela.config import get_settings
from centinela.ingest.fields import SEIZURES, RecordSpec
from centinela.ingest.readers import Item
from centinela.ingest.report import FileReport, Sample
from centinela.ingest.validate import (
    MOVEMENT_COLUMNS,
    SEIZURE_COLUMNS,
    Known,
    make_movement_checker,
    make_seizure_checker,
)
from centinela.ingest.values import Invalid, safe_patient, unforeseen
from centinela.ingest.worker import Chunk, Worker, chunks
from centinela.ingest.writer import (
    Bulk,
    MonthLoader,
    larger_cache,
    movement_watermark,
    restore_indexes,
    stored_movements,
    suspend_indexes,
)
from centinela.ledger.records import Rejection, Seizure
from centinela.partitions import is_partitioned
from centinela.privacy import redact, safe_name
from centinela.registry.models import Establishment, Product, Professional

_MAX_VALUE = 500
BULK_MIN_ROWS = 50_000  # movements expected in one file before indexes are rebuilt, not updated
BULK_CACHE_KIB = 32 * 1024  # SQLite page cache while such a file is inserted (fixed size)


@dataclass
class IntakeContext:
    """State of one import: session, lookups, writer and pending rejections."""

    session: Session
    import_id: int
    now: dt.datetime
    known: Known
    est_departments: dict[str, str]
    batch_size: int = field(default_factory=lambda: get_settings().import_batch_size)
    bulk: Bulk | None = None
    pending: list[dict] = field(default_factory=list)
    registry_cache: dict[str, dict] = field(default_factory=dict)
    progress: Callable[[int], None] | None = None  # called with the records read so far
    batch_lines: list[int] = field(default_factory=list)  # line numbers of the batch written

    @classmethod
    def open(cls, session: Session, import_id: int, now: dt.datetime) -> IntakeContext:
        """Load the known ids once (the registry is small next to the movements)."""
        deps = dict(session.execute(select(Establishment.establishment_id,
                                           Establishment.department)).all())
        known = Known(
            establishments=set(deps),
            professionals=set(session.scalars(select(Professional.professional_id))),
            products=set(session.scalars(select(Product.product_code))),
            gtins=dict(session.execute(select(Product.product_code, Product.gtin)
                                       .where(Product.gtin.is_not(None))).all()),
        )
        ctx = cls(session=session, import_id=import_id, now=now, known=known,
                  est_departments=deps)
        ctx.bulk = Bulk(session)
        return ctx

    def reject(self, fr: FileReport, line: int | None, record_type: str, key: str | None,
               error: Invalid, raw: dict | None, kind: str = "invalid") -> None:
        """Keep a rejected record (patient document pseudonymized) and count it."""
        if kind == "conflict":
            fr.conflicts += 1
        else:
            fr.rejected += 1
        fr.add_sample(Sample(fr.name, line, error.field, kind, error.reason))
        self.pending.append({
            "import_id": self.import_id, "source": fr.name, "line": line,
            "record_type": record_type, "record_key": redact(key)[:120] if key else None,
            "field": (error.field or "")[:60] or None, "kind": kind, "reason": error.reason,
            "record": sanitize(raw or {}), "created_at": self.now,
        })
        if len(self.pending) >= self.batch_size:
            self.flush_rejections()

    def flush_rejections(self) -> None:
        if self.pending:
            self.session.execute(insert(Rejection), self.pending)
            self.pending = []


def sanitize(raw: dict) -> dict:
    """Return a storable copy of a raw record: no patient document, nothing document-like."""
    out: dict[str, object] = {}
    for k, v in raw.items():
        # NUL characters cannot be stored in PostgreSQL text or JSON: dropped from what is kept.
        k = str(k).replace("\x00", "")
        if isinstance(v, str):
            v = v.replace("\x00", "")
        key = safe_name(str(k))[:60]
        if key == "patient_id":
            out[key] = safe_patient(str(v).strip()) if v not in (None, "") else v
        elif v is None or isinstance(v, bool | int | float):
            out[key] = v
        else:
            out[key] = redact(str(v))[:_MAX_VALUE]
    return out


def process_movements(ctx: IntakeContext, items: Iterable[Item] | Worker, fr: FileReport,
                      expected_rows: int = 0) -> None:
    """Validate and store movements; duplicates are no-ops, conflicts kept as rejections.

    ``items`` are a reader's records (validated here) or a ``Worker`` that validates the file in
    a second process and hands over ready batches; either way the batches are written here, in
    file order, inside the import's one transaction.

    On SQLite, a load that is large next to what is stored (the first national year, a
    backfill) drops the secondary indexes and rebuilds them at the end: sorting once beats a
    million random B-tree insertions, and WAL readers keep their snapshot meanwhile. Not on
    PostgreSQL, where DROP INDEX would lock every reader out until the commit. A large load on
    SQLite also gets a bigger (fixed-size) page cache while it inserts: the unique
    (establishment_id, event_id) index is updated in random order, one hot leaf per reporter.
    """
    if isinstance(items, Worker):
        batches: Iterable[Chunk] = items
    else:
        batches = chunks(items, make_movement_checker(ctx.known, ctx.import_id), ctx.batch_size)
    suspended = []
    large = expected_rows >= BULK_MIN_ROWS
    if (ctx.bulk.dialect == "sqlite" and large
            and expected_rows >= movement_watermark(ctx.session) // 2):
        suspended = suspend_indexes(ctx.session)
    staged = ctx.bulk.dialect == "postgresql"
    if ctx.bulk.stage is None and ((isinstance(items, Worker) and items.copy_text)
                                   or direct_load(ctx, expected_rows)):
        # A backfill-sized file: COPY straight into month tables (``writer.MonthLoader``).
        ctx.bulk.stage = MonthLoader(ctx.bulk, "movements", MOVEMENT_COLUMNS,
                                     ("establishment_id", "event_id"))
    with larger_cache(ctx.bulk, BULK_CACHE_KIB if large else 0):
        for rows, lines, rejects, read in batches:
            fr.read += read
            for line, key, name, reason, raw in rejects:
                ctx.reject(fr, line, "movements", key, Invalid(name, reason), raw)
            if rows:
                ctx.batch_lines = lines
                done = _insert_movements(ctx, rows)
                if done is not None:
                    _account(ctx, fr, rows, lines, *done)
            if ctx.progress is not None:
                ctx.progress(fr.read)
    if staged and ctx.bulk.stage is not None:
        _merge_staged(ctx, fr)
    ctx.flush_rejections()
    if suspended:
        restore_indexes(ctx.session, suspended)


def direct_load(ctx: IntakeContext, expected_rows: int) -> bool:
    """True when a movements file goes straight into month tables (``writer.MonthLoader``):
    PostgreSQL, movements partitioned, at least ``BULK_MIN_ROWS`` rows expected. The
    validating child then writes the rows as COPY text (``worker.CopyBatch``)."""
    return (ctx.bulk is not None and ctx.bulk.dialect == "postgresql"
            and expected_rows >= BULK_MIN_ROWS and is_partitioned(ctx.session.connection()))


def _insert_movements(ctx: IntakeContext, batch: list[tuple]) -> tuple | None:
    """Insert a batch; look up the keys that were already stored, if any.

    PostgreSQL: COPY the batch into the file's staging table and return None (the file is
    merged at once by ``_merge_staged``)."""
    if ctx.bulk.dialect == "postgresql":
        ctx.bulk.insert_ignore("movements", MOVEMENT_COLUMNS, batch,
                               ("establishment_id", "event_id"), lines=ctx.batch_lines)
        return None
    mark = movement_watermark(ctx.session)
    inserted = ctx.bulk.insert_ignore("movements", MOVEMENT_COLUMNS, batch,
                                      ("establishment_id", "event_id"))
    stored = None
    if inserted < len(batch):
        # Some keys already existed (earlier import, earlier batch, or earlier in this batch).
        stored = stored_movements(ctx.bulk, [(r[3], r[0]) for r in batch])
    return mark, inserted, stored


def _merge_staged(ctx: IntakeContext, fr: FileReport) -> None:
    """PostgreSQL: merge the staged file set-based; count duplicates, keep conflicts."""
    inserted, others = ctx.bulk.stage.merge(ctx.import_id)
    fr.accepted += inserted
    fr.duplicates += ctx.bulk.duplicates
    ctx.bulk.duplicates = 0
    for line, same, imp, row in others:
        if same:
            fr.duplicates += 1
            continue
        ctx.reject(fr, line, "movements", row[0], Invalid("event_id", _conflict_reason(ctx, imp)),
                   dict(zip(MOVEMENT_COLUMNS[:19], row[:19], strict=True)), kind="conflict")


def _conflict_reason(ctx: IntakeContext, imp: int | None) -> str:
    return ("event_id ya registrado por este establecimiento con otro contenido / "
            "event_id already stored for this establishment with different content"
            + (f" (import #{imp})" if imp and imp != ctx.import_id else ""))


def _account(ctx: IntakeContext, fr: FileReport, batch: list[tuple], lines: list[int],
             mark: int, inserted: int, stored: dict | None) -> None:
    """Count accepted rows; tell duplicates (no-ops) from conflicts (kept as rejections)."""
    fr.accepted += inserted
    if stored is None:
        return
    first_seen: set[tuple[str, str]] = set()
    for row, line in zip(batch, lines, strict=True):
        key = (row[3], row[0])
        h, mid, imp = stored[key]
        if imp == ctx.import_id and mid > mark and key not in first_seen:
            first_seen.add(key)  # the occurrence this batch inserted
            continue
        if h == row[19]:
            fr.duplicates += 1
            continue
        ctx.reject(fr, line, "movements", row[0], Invalid("event_id", _conflict_reason(ctx, imp)),
                   dict(zip(MOVEMENT_COLUMNS[:19], row[:19], strict=True)), kind="conflict")


def process_seizures(ctx: IntakeContext, items: Iterable[Item], fr: FileReport) -> None:
    """Validate and store seizures (keyed by seizure_id); same idempotency as movements."""
    check = make_seizure_checker(ctx.known, ctx.import_id)
    fields = SEIZURES.fields
    batch: list[tuple[int, tuple]] = []
    for line, vals, err, raw in items:
        fr.read += 1
        if vals is None:
            ctx.reject(fr, line, "seizures", None, err, raw)
            continue
        try:
            row = check(vals)
        except Invalid as exc:
            ctx.reject(fr, line, "seizures", vals[0], exc, dict(zip(fields, vals, strict=True)))
            continue
        except (ValueError, ArithmeticError, TypeError) as exc:
            ctx.reject(fr, line, "seizures", vals[0], Invalid(None, unforeseen(exc)),
                       dict(zip(fields, vals, strict=True)))
            continue
        batch.append((line, row))
        if len(batch) >= ctx.batch_size:
            _write_seizures(ctx, batch, fr)
            batch = []
    if batch:
        _write_seizures(ctx, batch, fr)


def _write_seizures(ctx: IntakeContext, batch: list[tuple[int, tuple]], fr: FileReport) -> None:
    ids = sorted({row[0] for _, row in batch})
    stored: dict[str, tuple[str, int | None]] = {}
    for i in range(0, len(ids), 500):
        q = select(Seizure.seizure_id, Seizure.content_hash, Seizure.import_id).where(
            Seizure.seizure_id.in_(ids[i:i + 500]))
        stored.update({sid: (h, imp) for sid, h, imp in ctx.session.execute(q)})
    new: list[tuple] = []
    for line, row in batch:
        sid, h = row[0], row[14]
        if sid in stored:
            if stored[sid][0] == h:
                fr.duplicates += 1
            else:
                imp = stored[sid][1]
                reason = ("seizure_id ya registrado con otro contenido / seizure_id already stored "
                          "with different content"
                          + (f" (import #{imp})" if imp and imp != ctx.import_id else ""))
                ctx.reject(fr, line, "seizures", sid, Invalid("seizure_id", reason),
                           dict(zip(SEIZURE_COLUMNS[:14], row[:14], strict=True)), kind="conflict")
            continue
        stored[sid] = (h, ctx.import_id)
        new.append(row)
    if new:
        fr.accepted += ctx.bulk.insert_ignore("seizures", SEIZURE_COLUMNS, new, ("seizure_id",))


def process(ctx: IntakeContext, spec: RecordSpec, items: Iterable[Item], fr: FileReport,
            expected_rows: int = 0) -> None:
    """Dispatch a file's records to the processor of its record type."""
    if spec.name == "movements":
        process_movements(ctx, items, fr, expected_rows)
    elif spec.name == "seizures":
        process_seizures(ctx, items, fr)
    else:
        from centinela.ingest.registry import process_registry

        process_registry(ctx, spec, items, fr)
