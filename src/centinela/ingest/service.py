"""Import service: the one code path behind ``centinela import``, the upload and the API.

An import is one transaction: registry files first, then movements, seizures and the extra files
of ``ingest.hooks``; a failure anywhere rolls everything back. After the commit the
real-time rules (``centinela.detect.realtime.after_import``, when installed) run in their own
transaction; their failure is reported but does not undo the import.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from centinela.config import get_settings
from centinela.db import session_scope
from centinela.ingest import hooks, quality, worker
from centinela.ingest.fields import EXTENSIONS, ORDER, SPECS
from centinela.ingest.pipeline import IntakeContext, direct_load, process
from centinela.ingest.progress import ImportProgress
from centinela.ingest.readers import (
    FileRefused,
    Item,
    count_lines,
    read_records,
    records_from_objects,
)
from centinela.ingest.report import FileReport, ImportReport, Sample
from centinela.ingest.values import Invalid
from centinela.ledger.records import ImportRun
from centinela.lib.clock import utcnow
from centinela.privacy import redact

log = logging.getLogger("centinela.ingest")
MAX_UNZIPPED_BYTES = 8 << 30  # refuse zip bombs


class IntakeError(Exception):
    """A fatal problem before anything was imported (no directory, no readable file)."""


class ImportFailed(Exception):
    """The import raised and was rolled back; ``report`` says where it stopped."""

    def __init__(self, report: ImportReport) -> None:
        super().__init__(report.error)
        self.report = report


@dataclass
class Source:
    """One input: a file of the spec, an extra (extension) file, an API batch, or items
    already read and mapped by an adapter (``prepared``: FHIR)."""

    name: str
    record_type: str
    path: Path | None = None
    objects: list | None = None
    prepared: list[Item] | None = None

    def expected_rows(self) -> int:
        """Estimate the records of this source (~120 bytes a CSV/JSONL movement)."""
        if self.prepared is not None:
            return len(self.prepared)
        if self.objects is not None:
            return len(self.objects)
        return self.path.stat().st_size // 120 if self.path is not None else 0

    def items(self) -> Iterable[Item]:
        if self.prepared is not None:
            return iter(self.prepared)
        if self.objects is not None:
            return records_from_objects(self.objects, SPECS[self.record_type])
        return read_records(self.path, SPECS[self.record_type])


def find_sources(folder: Path) -> tuple[list[Source], list[str]]:
    """Return the importable files of ``folder`` in import order, and the names ignored."""
    by_name = {p.name: p for p in folder.iterdir() if p.is_file()}
    sources: list[Source] = []
    for stem in (*ORDER, *hooks.EXTRA_FILES):
        for ext in EXTENSIONS:
            path = by_name.pop(stem + ext, None)
            if path is not None:
                sources.append(Source(path.name, stem, path))
    ignored = sorted(n for n in by_name if not n.startswith("."))
    return sources, ignored


def import_directory(engine: Engine, path: str | Path, channel: str = "cli",
                     submitted_by: str | None = None, now: dt.datetime | None = None,
                     realtime: bool = True,
                     progress: Callable[[int, int], None] | None = None) -> ImportReport:
    """Import the reporting-format files found in a directory (then the real-time rules).

    ``progress(done, total)`` is called as records are read (``total`` is an estimate)."""
    folder = Path(path)
    if not folder.is_dir():
        raise IntakeError(f"no existe el directorio / directory not found: {folder}")
    sources, ignored = find_sources(folder)
    if not sources:
        expected = ", ".join(f"{s}.csv|.jsonl" for s in ORDER)
        raise IntakeError(f"no hay archivos del formato en {folder} / no reporting-format files "
                          f"in {folder} (expected {expected})")
    return run_import(engine, str(folder), channel, sources, submitted_by, now, ignored,
                      realtime, progress)


def import_uploaded_files(engine: Engine, files: list[tuple[str, bytes | BinaryIO]],
                          channel: str = "upload", submitted_by: str | None = None,
                          now: dt.datetime | None = None) -> ImportReport:
    """Import uploaded CSV/JSONL files (or .zip archives of them), named as in the spec."""
    base = get_settings().data_dir or None
    with tempfile.TemporaryDirectory(prefix="centinela-upload-", dir=base) as tmp:
        folder = Path(tmp)
        names: list[str] = []
        for name, content in files:
            clean = Path(name or "").name
            if clean.lower().endswith(".zip"):
                names.extend(_unzip(content, folder))
            else:
                names.append(_save(clean, content, folder))
        if len(set(names)) != len(names):
            raise IntakeError("archivo repetido en la carga / the same file name was uploaded twice")
        sources, ignored = find_sources(folder)
        if not sources:
            raise IntakeError("ningún archivo del formato / no reporting-format file in the upload "
                              f"(got: {', '.join(names) or 'nothing'})")
        label = "upload: " + ", ".join(s.name for s in sources)
        return run_import(engine, label, channel, sources, submitted_by, now, ignored)


def _save(name: str, content: bytes | BinaryIO, folder: Path) -> str:
    if not name:
        raise IntakeError("archivo sin nombre / uploaded file without a name")
    with (folder / name).open("wb") as out:
        if isinstance(content, bytes | bytearray):
            out.write(content)
        else:
            shutil.copyfileobj(content, out, 1 << 20)
    return name


def _unzip(content: bytes | BinaryIO, folder: Path) -> list[str]:
    import io

    fh = io.BytesIO(content) if isinstance(content, bytes | bytearray) else content
    try:
        archive = zipfile.ZipFile(fh)
    except zipfile.BadZipFile:
        raise IntakeError("el .zip no es válido / not a valid .zip archive") from None
    names, total = [], 0
    with archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            total += info.file_size
            if total > MAX_UNZIPPED_BYTES:
                raise IntakeError("el .zip descomprimido es demasiado grande / .zip too large")
            name = Path(info.filename).name
            if not name or name.startswith("."):
                continue
            with archive.open(info) as src:
                names.append(_save(name, src, folder))
    return names


def import_records(engine: Engine, record_type: str, records: list, channel: str = "api",
                   submitted_by: str | None = None, now: dt.datetime | None = None) -> ImportReport:
    """Import one API batch of records of one type (JSON objects with the spec's fields)."""
    if record_type not in SPECS:
        raise IntakeError(f"tipo de registro desconocido / unknown record type {record_type!r}")
    if not isinstance(records, list) or not records:
        raise IntakeError("'records' debe ser una lista no vacía / 'records' must be a non-empty "
                          "list")
    source = Source(f"api:{record_type}", record_type, objects=records)
    return run_import(engine, f"api:{record_type}", channel, [source], submitted_by, now, [])


def check_pseudonym_key(session: Session, now: dt.datetime) -> None:
    """Refuse an import made with another pseudonym key than the stored patients' (each patient
    would get a new pseudonym, cut from their history); the first import records the key's
    digest (``ledger.models.KeyCheck``: an HMAC of a fixed text, never the key)."""
    from sqlalchemy import select
    from sqlalchemy.exc import IntegrityError

    from centinela.ledger.models import KeyCheck
    from centinela.privacy import key_digest

    digest = key_digest()
    stored = session.scalar(select(KeyCheck.digest).where(KeyCheck.name == "pseudonym"))
    if stored is None:
        try:
            with session.begin_nested():  # two first imports at once: one row, no failure
                session.add(KeyCheck(name="pseudonym", digest=digest, created_at=now))
            return
        except IntegrityError:
            stored = session.scalar(select(KeyCheck.digest).where(KeyCheck.name == "pseudonym"))
    if stored is not None and stored != digest:
        raise IntakeError(
            "la clave de seudónimos no es la que usó esta base de datos: cada paciente quedaría "
            "con otro seudónimo, separado de su historia; use la misma clave "
            "(CENTINELA_PSEUDONYM_KEY, o el archivo pseudonym.key junto a la base) / the "
            "pseudonym key is not the one this database was built with: every patient would get "
            "another pseudonym, cut from their history; use the same key "
            "(CENTINELA_PSEUDONYM_KEY, or the pseudonym.key file beside the database)")


def run_import(engine: Engine, label: str, channel: str, sources: list[Source],
               submitted_by: str | None, now: dt.datetime | None,
               ignored: list[str], realtime: bool = True,
               progress: Callable[[int, int], None] | None = None) -> ImportReport:
    """Run every source in one transaction; then the real-time rules in another."""
    now = now or utcnow()
    report = ImportReport(None, label, channel, started_at=now, ignored=ignored)
    shown = ImportProgress(label, channel, sum(s.expected_rows() for s in sources), progress)
    with session_scope(engine) as session:
        check_pseudonym_key(session, now)
    spare = _spawn_ahead(sources)
    ctx: IntakeContext | None = None
    try:
        with session_scope(engine) as session:
            run = ImportRun(source=label[:500], channel=channel, started_at=now, status="running",
                            submitted_by=submitted_by, summary={})
            session.add(run)
            session.flush()
            report.import_id = shown.import_id = run.id
            ctx = IntakeContext.open(session, run.id, now)
            done = 0
            for src in sources:
                fr = FileReport(src.name, src.record_type)
                report.files.append(fr)
                ctx.progress = lambda read, base=done: shown.update(base + read)
                if src.record_type in SPECS:
                    _process_source(ctx, src, fr, spare)
                else:
                    _run_extension(session, src, fr, run.id)
                ctx.flush_rejections()
                done += fr.read
                shown.update(done, force=True)
            if any(f.record_type == "movements" and f.accepted for f in report.files):
                warning = quality.future_dated(session, run.id, now)
                if warning is not None:
                    report.warnings.append(warning)
            report.status = "completed"
            report.finished_at = utcnow()
            run.finished_at = report.finished_at
            run.status = report.status
            run.accepted = report.total("accepted") + report.total("updated")
            run.duplicates = report.total("duplicates")
            run.conflicts = report.total("conflicts")
            run.rejected = report.total("rejected")
            run.summary = report.as_dict()
    except Exception as exc:
        report.status = "failed"
        report.finished_at = utcnow()
        report.error = describe(exc)
        log.error("import %s failed and was rolled back: %s", report.import_id, report.error)
        if ctx is not None and ctx.bulk is not None:
            ctx.bulk.discard()  # tables a bulk load committed apart (``writer.MonthLoader``)
        raise ImportFailed(report) from exc
    finally:
        worker.discard(spare)  # unused (or already finished): never left running
        shown.close()
    log.info("import %s: %s", report.import_id, report.as_dict()["totals"])
    if realtime:
        report.realtime = run_realtime(engine, report.import_id, now)
    return report


def describe(exc: BaseException) -> str:
    """Describe an exception without SQL parameters or document numbers."""
    inner = getattr(exc, "orig", None) or exc
    return redact(f"{type(inner).__name__}: {inner}".splitlines()[0])[:500]


def _parallel(src: Source) -> bool:
    """True when ``src`` is validated in a second process (a large movements file)."""
    return (src.record_type == "movements" and src.path is not None
            and src.expected_rows() >= worker.PARALLEL_MIN_ROWS and worker.parallel_possible())


def _spawn_ahead(sources: list[Source]):
    """Start the validating child before the registry files are imported, if one will be
    needed: its start overlaps them. None if none is needed or none could start."""
    if not any(_parallel(s) for s in sources):
        return None
    try:
        return worker.spawn()
    except OSError:
        return None  # _start_worker tries again, then validates in this process


def _process_source(ctx: IntakeContext, src: Source, fr: FileReport, spare=None) -> None:
    spec = SPECS[src.record_type]
    expected = src.expected_rows()
    items = None
    try:
        if _parallel(src):
            items = _start_worker(ctx, src, spare)  # None if no second process could start
        if items is None:
            items = src.items()
            if src.path is not None and src.path.suffix.lower() == ".csv":
                items = _Primed(items)  # reads the header now: a refusal comes before any row
    except FileRefused as exc:
        _refuse(ctx, src, fr, exc)
        return
    try:
        process(ctx, spec, items, fr, expected)
    finally:
        if isinstance(items, worker.Worker):
            items.close()


def _start_worker(ctx: IntakeContext, src: Source, spare=None) -> worker.Worker | None:
    """Start validating ``src`` in a second process (FileRefused on a bad header); ``spare``
    is a child started ahead (``worker.spawn``), used if it is still waiting."""
    try:
        return worker.Worker(src.path, ctx.known, ctx.import_id, get_settings().pseudonym_key,
                             ctx.batch_size, proc=spare,
                             copy_text=direct_load(ctx, src.expected_rows()))
    except (OSError, worker.WorkerFailed) as exc:
        log.warning("no second process for %s (%s); validating in this one", src.name,
                    describe(exc))
        return None


class _Primed:
    """Run a generator up to its header check, keeping the first record for iteration."""

    def __init__(self, gen) -> None:
        self._gen = gen
        self._first: list = []
        try:
            self._first.append(next(gen))
        except StopIteration:
            pass

    def __iter__(self):
        yield from self._first
        yield from self._gen


def _refuse(ctx: IntakeContext, src: Source, fr: FileReport, exc: FileRefused) -> None:
    fr.status = "refused"
    fr.error = exc.reason
    lines = count_lines(src.path) if src.path is not None else 0
    fr.read = max(lines - 1, 0)
    fr.rejected = fr.read
    err = Invalid(exc.field, exc.reason + f" ({fr.read} registros no importados / records not "
                                          "imported)")
    fr.samples.append(Sample(fr.name, 1, err.field, "invalid", err.reason))
    ctx.pending.append({
        "import_id": ctx.import_id, "source": fr.name, "line": 1, "record_type": src.record_type,
        "record_key": None, "field": (exc.field or "")[:60] or None, "kind": "invalid",
        "reason": err.reason, "record": {"file": fr.name, "records": fr.read},
        "created_at": ctx.now,
    })


def _run_extension(session, src: Source, fr: FileReport, import_id: int) -> None:
    fn = hooks.load(src.record_type)
    counts = fn(session, src.path, import_id) or {}
    for name in ("read", "accepted", "updated", "duplicates", "conflicts", "rejected"):
        setattr(fr, name, int(counts.get(name, 0)))
    if not counts.get("read"):
        fr.read = fr.accepted + fr.updated + fr.duplicates + fr.conflicts + fr.rejected
    if counts.get("error"):
        fr.error = redact(str(counts["error"]))


def run_realtime(engine: Engine, import_id: int | None, now: dt.datetime) -> dict | None:
    """Call the after-import rules (``hooks.AFTER_IMPORT``) once for this import, if any."""
    if not hooks.AFTER_IMPORT or import_id is None:
        return None
    results = []
    try:
        for fn in hooks.AFTER_IMPORT:
            with session_scope(engine) as session:
                results.append(fn(session, import_id, now))
        return {"ran": True, "result": _jsonable(results[0] if len(results) == 1 else results)}
    except Exception as exc:  # reported, never undoes the import
        log.exception("real-time rules failed after import %s", import_id)
        return {"ran": False, "error": describe(exc)}


def _jsonable(value: object) -> object:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return str(value)
