"""Numbered special prescription forms: blocks issued to prescribers, and form numbers.

Narcotics in Peru are prescribed on numbered special prescription forms issued to each
prescriber. ``prescription_forms.csv`` (an extension file, ``docs/intake.md``) lists the blocks
issued; a dispense cites its form in ``prescription_id`` as series + number.
"""

from __future__ import annotations

import bisect
import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from centinela.ingest.extra import import_file
from centinela.ingest.fields import RecordSpec
from centinela.ingest.values import Invalid, parse_date, parse_int, show
from centinela.registry.models import PrescriptionFormBlock, Professional

FORMS = RecordSpec(
    name="prescription_forms",
    fields=("series", "first_number", "last_number", "prescriber_id", "issued_on", "issuer"),
    required=frozenset({"first_number", "last_number", "prescriber_id", "issued_on"}),
    key="first_number",
    max_len={"series": 30, "prescriber_id": 40, "issuer": 80},
)
MAX_BLOCK = 100_000
_NUMBER = re.compile(r"^(.*?)(\d+)$")


def import_forms_file(session: Session, path: Path, import_id: int | None) -> dict:
    """Import ``prescription_forms.csv``/``.jsonl`` inside the caller's transaction."""
    prescribers = dict(session.execute(select(Professional.professional_id,
                                              Professional.role)).all())

    def check(rec: dict) -> dict:
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


def split_number(prescription_id: str) -> tuple[str, int] | None:
    """``RE-2025-000123`` → (``RE-2025-``, 123); ``None`` when it ends in no digits."""
    m = _NUMBER.match(prescription_id.strip())
    if not m or len(m.group(2)) > 12:
        return None
    return m.group(1), int(m.group(2))


@dataclass(frozen=True)
class Block:
    series: str
    first: int
    last: int
    prescriber_id: str
    issued_on: object


class FormBook:
    """Find the issued block that holds a form number."""

    def __init__(self, blocks: list[PrescriptionFormBlock]) -> None:
        self._by_series: dict[str, list[Block]] = {}
        for b in blocks:
            self._by_series.setdefault(b.series, []).append(
                Block(b.series, b.first_number, b.last_number, b.prescriber_id, b.issued_on))
        for lst in self._by_series.values():
            lst.sort(key=lambda x: x.first)
        self._starts = {s: [b.first for b in lst] for s, lst in self._by_series.items()}

    def __bool__(self) -> bool:
        return bool(self._by_series)

    @classmethod
    def load(cls, session: Session) -> FormBook:
        return cls(list(session.scalars(select(PrescriptionFormBlock))))

    def has_series(self, series: str) -> bool:
        return series in self._by_series

    def find(self, prescription_id: str) -> Block | None:
        parts = split_number(prescription_id)
        if parts is None:
            return None
        series, number = parts
        lst = self._by_series.get(series)
        if not lst:
            return None
        i = bisect.bisect_right(self._starts[series], number) - 1
        if i >= 0 and lst[i].first <= number <= lst[i].last:
            return lst[i]
        return None


def forms_from_ledger(session: Session) -> list[dict]:
    """The form blocks that the dispenses imply: each prescriber's consecutive numbers of one
    series as one block, issued on the day of its first use (export, round trip)."""
    from centinela.ledger.records import Movement

    used: dict[tuple[str, int], tuple[str, object]] = {}
    for form, prescriber, when in session.execute(
            select(Movement.prescription_id, Movement.prescriber_id, Movement.occurred_at)
            .where(Movement.event_type == "dispense", Movement.prescription_id.is_not(None),
                   Movement.prescriber_id.is_not(None))):
        parts = split_number(form)
        if parts is None:
            continue
        day = (when - dt.timedelta(hours=5)).date()
        old = used.get(parts)
        if old is None or day < old[1]:
            used[parts] = (prescriber, day)
    out: list[dict] = []
    for (series, number), (prescriber, day) in sorted(used.items()):
        last = out[-1] if out else None
        if (last is not None and last["series"] == series
                and last["prescriber_id"] == prescriber and last["last_number"] == number - 1
                and number - last["first_number"] < MAX_BLOCK):
            last["last_number"] = number
            last["issued_on"] = min(last["issued_on"], day)
            continue
        out.append({"series": series, "first_number": number, "last_number": number,
                    "prescriber_id": prescriber, "issued_on": day, "issuer": "export"})
    for block in out:
        block["issued_on"] = block["issued_on"].isoformat()
    return out
