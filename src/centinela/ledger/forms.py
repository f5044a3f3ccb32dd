"""Numbered special prescription forms: blocks issued to prescribers, and form numbers.

Narcotics in Peru are prescribed on numbered special prescription forms issued to each
prescriber. ``prescription_forms.csv`` (an extension file, ``docs/intake.md``, read by
``centinela.ingest.forms``) lists the blocks
issued; a dispense cites its form in ``prescription_id`` as series + number.
"""

from __future__ import annotations

import bisect
import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from centinela.lib import clock
from centinela.registry.models import PrescriptionFormBlock

MAX_BLOCK = 100_000
_NUMBER = re.compile(r"^(.*?)(\d+)$")


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


def forms_from_ledger(session: Session) -> list[dict[str, Any]]:
    """The form blocks that the dispenses imply: each prescriber's consecutive numbers of one
    series as one block, issued on the day of its first use (export, round trip)."""
    from centinela.ledger.records import Movement

    used: dict[tuple[str, int], tuple[str, dt.date]] = {}
    for form, prescriber, when in session.execute(
            select(Movement.prescription_id, Movement.prescriber_id, Movement.occurred_at)
            .where(Movement.event_type == "dispense", Movement.prescription_id.is_not(None),
                   Movement.prescriber_id.is_not(None))):
        parts = split_number(form) if form else None
        if parts is None or prescriber is None:
            continue
        day = clock.lima_day(when)
        old = used.get(parts)
        if old is None or day < old[1]:
            used[parts] = (prescriber, day)
    out: list[dict[str, Any]] = []
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
