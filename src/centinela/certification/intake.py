"""Import certificates: the ``certificates.csv``/``.jsonl`` extension file and API batches.

Fields: ``certificate_id`` (required), ``professional_id`` (required, registered), ``issuer``
(required), ``issued_on`` (required date), ``expires_on`` (date on or after ``issued_on``; empty =
``issued_on`` + ``certification_valid_days``), ``course`` (optional). Re-sent certificates are
duplicates; the same id with different content is a conflict, kept in ``rejections``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from centinela.certification.models import Certificate
from centinela.config import get_settings
from centinela.ingest.files import content_hash, read_records
from centinela.ledger.records import Rejection
from centinela.privacy import redact
from centinela.registry.models import Professional

FIELDS = ("certificate_id", "professional_id", "issuer", "issued_on", "expires_on", "course")
_LIMITS = {"certificate_id": 60, "professional_id": 40, "issuer": 200, "course": 200}


class CertificateError(ValueError):
    """A certificate record is invalid: ``field`` and ``reason`` say where and why."""

    def __init__(self, field: str | None, reason: str) -> None:
        super().__init__(f"{field}: {reason}" if field else reason)
        self.field = field
        self.reason = reason


def _date(field: str, value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CertificateError(field, f"fecha no válida / not a YYYY-MM-DD date: {value[:40]!r}") from None


def validate_certificate(raw: dict, valid_days: int) -> dict:
    """Return the cleaned record or raise ``CertificateError``."""
    unknown = sorted(str(k) for k in raw if k not in FIELDS)
    if unknown:
        raise CertificateError(unknown[0], "campo desconocido / unknown field")
    rec: dict = {}
    for f in FIELDS:
        v = raw.get(f)
        rec[f] = "" if v is None else str(v).strip()
    for f in ("certificate_id", "professional_id", "issuer", "issued_on"):
        if not rec[f]:
            raise CertificateError(f, "obligatorio / required")
    for f, n in _LIMITS.items():
        if len(rec[f]) > n:
            raise CertificateError(f, f"más de {n} caracteres / longer than {n} characters")
    issued = _date("issued_on", rec["issued_on"])
    derived = not rec["expires_on"]
    expires = issued + dt.timedelta(days=valid_days) if derived else _date("expires_on", rec["expires_on"])
    if expires < issued:
        raise CertificateError("expires_on", "anterior a issued_on / before issued_on")
    return {"certificate_id": rec["certificate_id"], "professional_id": rec["professional_id"],
            "issuer": rec["issuer"], "issued_on": issued, "expires_on": expires,
            "expiry_derived": derived, "course": rec["course"] or None}


def import_certificate_records(session: Session, items: Iterable[tuple[int, dict]], source: str,
                               import_id: int | None, now: dt.datetime | None = None) -> dict:
    """Import (line, raw record) pairs inside the caller's transaction; return the counts."""
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    valid_days = get_settings().certification_valid_days
    counts = {"accepted": 0, "duplicates": 0, "conflicts": 0, "rejected": 0}
    known = set(session.scalars(select(Professional.professional_id)))
    existing = {(c.professional_id, c.certificate_id): c for c in session.scalars(select(Certificate))}

    def reject(line: int, raw: dict, field: str | None, reason: str, kind: str = "invalid",
               key: str | None = None) -> None:
        safe = {str(k)[:60]: redact(str(v))[:300] for k, v in raw.items() if k != "__error__"}
        session.add(Rejection(import_id=import_id, source=source[:500], line=line,
                              record_type="certificate", record_key=key, field=field, kind=kind,
                              reason=redact(reason), record=safe, created_at=now))
        counts["conflicts" if kind == "conflict" else "rejected"] += 1

    for line, raw in items:
        if not isinstance(raw, dict):
            reject(line, {}, None, "el registro no es un objeto / record is not an object")
            continue
        if "__error__" in raw:
            reject(line, raw, None, raw["__error__"])
            continue
        key = f"{raw.get('professional_id', '')}:{raw.get('certificate_id', '')}"[:120]
        try:
            rec = validate_certificate(raw, valid_days)
        except CertificateError as exc:
            reject(line, raw, exc.field, exc.reason, key=redact(key))
            continue
        if rec["professional_id"] not in known:
            reject(line, raw, "professional_id",
                   "profesional no registrado / professional not registered", key=key)
            continue
        digest = content_hash({k: v for k, v in rec.items() if k != "expiry_derived"})
        old = existing.get((rec["professional_id"], rec["certificate_id"]))
        if old is not None:
            if old.content_hash == digest:
                counts["duplicates"] += 1
            else:
                reject(line, raw, None, "certificate_id ya recibido con otro contenido / already "
                       "received with different content", kind="conflict", key=key)
            continue
        cert = Certificate(content_hash=digest, import_id=import_id, created_at=now, **rec)
        session.add(cert)
        existing[(cert.professional_id, cert.certificate_id)] = cert
        counts["accepted"] += 1
    session.flush()
    return counts


def import_certificates_file(session: Session, path, import_id: int | None) -> dict:
    """Extension-point entry: import one ``certificates`` file inside the import's transaction."""
    path = Path(path)
    return import_certificate_records(session, read_records(path), str(path), import_id)
