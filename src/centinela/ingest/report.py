"""What an import did: counts per file and the first rejection reasons (text and JSON twin)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

MAX_SAMPLES = 20


@dataclass
class Sample:
    """One rejected record, as shown to the user."""

    source: str
    line: int | None
    field: str | None
    kind: str
    reason: str

    def as_text(self) -> str:
        where = f"{self.source}:{self.line}" if self.line is not None else self.source
        what = f" {self.field}" if self.field else ""
        tag = " [conflicto/conflict]" if self.kind == "conflict" else ""
        return f"{where}{what}: {self.reason}{tag}"


@dataclass
class FileReport:
    """Counts for one file (or one API batch)."""

    name: str
    record_type: str
    status: str = "imported"  # imported | refused
    read: int = 0
    accepted: int = 0
    updated: int = 0
    duplicates: int = 0
    conflicts: int = 0
    rejected: int = 0
    error: str | None = None
    samples: list[Sample] = field(default_factory=list)
    # Registry records updated: (key, the fields that changed), the first MAX_SAMPLES.
    changes: list[tuple[str, list[str]]] = field(default_factory=list)

    def add_sample(self, sample: Sample) -> None:
        if len(self.samples) < MAX_SAMPLES:
            self.samples.append(sample)

    def add_change(self, key: str, fields: list[str]) -> None:
        if len(self.changes) < MAX_SAMPLES:
            self.changes.append((key, fields))

    @property
    def stored_rejections(self) -> int:
        """Rejection rows this file left: one for a refused file, else one per record."""
        return 1 if self.status == "refused" else self.rejected + self.conflicts

    def as_dict(self) -> dict:
        return {
            "file": self.name, "record_type": self.record_type, "status": self.status,
            "read": self.read, "accepted": self.accepted, "updated": self.updated,
            "duplicates": self.duplicates, "conflicts": self.conflicts,
            "rejected": self.rejected, "error": self.error,
            "rejections": [s.__dict__ for s in self.samples],
            "updates": [{"key": k, "fields": f} for k, f in self.changes],
        }


@dataclass
class ImportReport:
    """The whole import: one transaction over every file."""

    import_id: int | None
    source: str
    channel: str
    started_at: dt.datetime
    finished_at: dt.datetime | None = None
    status: str = "running"  # running | completed | failed
    files: list[FileReport] = field(default_factory=list)
    error: str | None = None
    realtime: dict | None = None  # result of the real-time rules hook, when installed
    ignored: list[str] = field(default_factory=list)  # files not named as in the spec
    # Data-quality warnings on accepted records (``ingest.quality``): nothing was rejected.
    warnings: list[dict] = field(default_factory=list)

    def total(self, name: str) -> int:
        return sum(getattr(f, name) for f in self.files)

    def samples(self) -> list[Sample]:
        out: list[Sample] = []
        for f in self.files:
            out.extend(f.samples)
        return out[:MAX_SAMPLES]

    def as_dict(self) -> dict:
        """Return the JSON twin of the report."""
        return {
            "import_id": self.import_id, "source": self.source, "channel": self.channel,
            "status": self.status,
            "started_at": self.started_at.isoformat() + "Z",
            "finished_at": self.finished_at.isoformat() + "Z" if self.finished_at else None,
            "totals": {k: self.total(k) for k in
                       ("read", "accepted", "updated", "duplicates", "conflicts", "rejected")},
            "files": [f.as_dict() for f in self.files],
            "ignored_files": list(self.ignored),
            "error": self.error,
            "realtime": self.realtime,
            "warnings": list(self.warnings),
        }

    def as_text(self) -> str:
        """Return the human summary printed by ``centinela import``."""
        status = self.status
        if status == "completed" and self.files and all(f.status == "refused"
                                                        for f in self.files):
            status = "completed: every file refused / todos los archivos rechazados"
        lines = [f"Importación / import #{self.import_id} ({self.source}): {status}"]
        if self.error:
            lines.append(f"  error: {self.error}")
        for f in self.files:
            if f.status == "refused":
                lines.append(f"  {f.name}: RECHAZADO / REFUSED — {f.error}")
                continue
            upd = f", {f.updated} actualizados/updated" if f.record_type in (
                "establishments", "professionals", "products") else ""
            lines.append(
                f"  {f.name}: {f.read} leídos/read, {f.accepted} aceptados/accepted{upd}, "
                f"{f.duplicates} duplicados/duplicates (sin cambios/no-op), "
                f"{f.conflicts} conflictos/conflicts, {f.rejected} rechazados/rejected")
        if self.ignored:
            lines.append("  ignorados (nombre fuera del formato) / ignored (not a reporting-format "
                         "file name): " + ", ".join(self.ignored))
        for w in self.warnings:
            lines.append(f"Aviso / warning: {w['message']}")
            lines.extend(f"  {x['establishment_id']} {x['event_id']}: {x['occurred_at']}"
                         for x in w.get("samples") or [])
            more = int(w.get("count") or 0) - len(w.get("samples") or [])
            if more > 0:
                lines.append(f"  … {more} más / more")
        changes = [(f.name, k, fields) for f in self.files for k, fields in f.changes]
        if changes:
            shown = changes[:MAX_SAMPLES]
            lines.append("Registros actualizados (campos cambiados) / records updated (fields "
                         "changed):")
            lines.extend(f"  {name}: {k} ({', '.join(fields)})" for name, k, fields in shown)
            more = sum(f.updated for f in self.files) - len(shown)
            if more > 0:
                lines.append(f"  … {more} más / more")
        samples = self.samples()
        if samples:
            shown = len(samples)
            lines.append(f"Primeros {shown} rechazos / first {shown} rejections:")
            lines.extend("  " + s.as_text() for s in samples)
            total = sum(f.stored_rejections for f in self.files)
            if total > shown and self.import_id is not None:
                lines.append(f"  … {total - shown} más / more: centinela rejections --import "
                             f"{self.import_id}")
        if self.realtime is not None:
            rt = self.realtime
            if rt.get("error"):
                lines.append(f"Reglas en tiempo real / real-time rules: ERROR {rt['error']}")
            else:
                n = rt.get("result")
                lines.append(f"Reglas en tiempo real / real-time rules: {n} alertas sobre los "
                             "hechos de los últimos días / alerts on the events of the last days "
                             "(lo anterior lo juzga `centinela detect` / older events are "
                             "judged by `centinela detect`)" if isinstance(n, int) else
                             f"Reglas en tiempo real / real-time rules: {n}")
        return "\n".join(lines)
