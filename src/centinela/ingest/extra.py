"""One intake routine for the extension record files (balances, prescription forms, …).

Each extension file gets the discipline of the spec's files: a fixed header (unknown or missing
columns refuse the file, kept as a rejection at line 1), one reason per rejected line with its
field, idempotent re-sends (same key and content: a duplicate; other content: a conflict, the
stored version stays) — all inside the import's one transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from centinela.ingest.fields import RecordSpec
from centinela.ingest.readers import FileRefused, count_lines, read_records
from centinela.ingest.validate import content_hash
from centinela.ingest.values import Invalid
from centinela.privacy import redact

Check = Callable[[dict], dict]


def import_file(session: Session, path: Path, import_id: int | None, spec: RecordSpec,
                model: type, key: tuple[str, ...], check: Check) -> dict:
    """Validate and insert the records of one extension file; return the report counts.

    ``check`` turns a record (field → text) into the row's column values or raises ``Invalid``.
    """
    from centinela.ledger.records import Rejection

    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    counts = {"read": 0, "accepted": 0, "duplicates": 0, "conflicts": 0, "rejected": 0}
    cols = [getattr(model, k) for k in key]
    existing = {tuple(r[:-1]): r[-1] for r in session.execute(select(*cols, model.content_hash))}
    new: list[dict] = []

    def reject(line: int, raw: dict | None, err: Invalid, kind: str = "invalid",
               rkey: str | None = None) -> None:
        safe = {str(k)[:60]: redact(str(v))[:300] for k, v in (raw or {}).items()}
        session.add(Rejection(import_id=import_id, source=path.name, line=line,
                              record_type=spec.name, record_key=rkey, field=err.field,
                              kind=kind, reason=redact(err.reason)[:1000], record=safe,
                              created_at=now))
        counts["conflicts" if kind == "conflict" else "rejected"] += 1

    try:
        items = read_records(path, spec)
        for line, vals, err, raw in items:
            counts["read"] += 1
            if vals is None:
                reject(line, raw, err)
                continue
            record = dict(zip(spec.fields, vals, strict=True))
            try:
                row = check(record)
            except Invalid as exc:
                reject(line, record, exc)
                continue
            k = tuple(row[c] for c in key)
            digest = content_hash(tuple(sorted((c, str(v)) for c, v in row.items())))
            old = existing.get(k)
            rkey = redact(":".join(map(str, k)))[:120]
            if old is not None:
                if old == digest:
                    counts["duplicates"] += 1
                else:
                    reject(line, record, Invalid(None, "ya recibido con otro contenido / already "
                                                       "received with different content"),
                           kind="conflict", rkey=rkey)
                continue
            existing[k] = digest
            new.append({**row, "content_hash": digest, "import_id": import_id})
            counts["accepted"] += 1
    except FileRefused as exc:
        n = max(count_lines(path) - 1, 0)
        reject(1, {"file": path.name, "records": n},
               Invalid(exc.field, f"{exc.reason} ({n} registros no importados / records not "
                                  "imported)"))
        return {"read": n, "rejected": n, "accepted": 0, "error": exc.reason}
    for i in range(0, len(new), 5000):
        session.execute(insert(model), new[i:i + 5000])
    session.flush()
    return counts
