"""Read ``prescription_forms.csv``/``.jsonl`` (an intake extension file, ``docs/intake.md``):
the numbered special prescription form blocks issued to prescribers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from centinela.ingest.extra import import_file
from centinela.ingest.fields import RecordSpec
from centinela.ingest.values import Invalid, parse_date, parse_int, show
from centinela.ledger.forms import MAX_BLOCK
from centinela.registry.models import PrescriptionFormBlock, Professional

FORMS = RecordSpec(
    name="prescription_forms",
    fields=("series", "first_number", "last_number", "prescriber_id", "issued_on", "issuer"),
    required=frozenset({"first_number", "last_number", "prescriber_id", "issued_on"}),
    key="first_number",
    max_len={"series": 30, "prescriber_id": 40, "issuer": 80},
)

def import_forms_file(session: Session, path: Path, import_id: int | None) -> dict[str, Any]:
    """Import ``prescription_forms.csv``/``.jsonl`` inside the caller's transaction."""
    prescribers = dict(session.execute(select(Professional.professional_id,
                                              Professional.role)).all())

    def check(rec: dict[str, Any]) -> dict[str, Any]:
        pid = rec["prescriber_id"]
        role = prescribers.get(pid)
        if role is None:
            raise Invalid("prescriber_id", f"profesional no registrado / unknown professional "
                                           f"{show(pid)}")
        if role != "prescriber":
            raise Invalid("prescriber_id", f"{show(pid)} no es prescriptor / is not a prescriber")
        first = parse_int("first_number", rec["first_number"], 0, 10**12)
        last = parse_int("last_number", rec["last_number"], 0, 10**12)
        if last < first or last - first >= MAX_BLOCK:
            raise Invalid("last_number", f"bloque inválido / a block runs from first_number to "
                                         f"last_number, at most {MAX_BLOCK:,} forms")
        return {"series": rec["series"], "first_number": first, "last_number": last,
                "prescriber_id": pid, "issued_on": parse_date("issued_on", rec["issued_on"]),
                "issuer": rec["issuer"] or None}

    return import_file(session, path, import_id, FORMS, PrescriptionFormBlock,
                       ("series", "first_number"), check)
