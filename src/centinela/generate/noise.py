"""Realistic-noise mode: the quirks that honest, well-run reporting produces.

The simulation writes a perfectly consistent year; real national systems never receive one.
``Noise`` sits between the simulation and the movements file and applies, at documented rates
(``RATES``, listed in ``docs/generator.md``), what a hospital or pharmacy that does nothing
wrong still sends: counts stamped at the end of the shift or the next morning, counts a day or
two late, a ward where nurses sign as their own witness, night wastes with no second nurse,
reports sent weeks late, files re-sent whole, transfers received days later or in two
receipts, a sender's transfer_out booked after the receiver's receipt, a receipt recorded in
packs instead of units. None of them is a diversion: the physical stock never changes, only
how and when it is recorded. The planted scenarios and look-alikes are untouched (their
establishments keep their witness habits and count times).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from centinela.generate import catalog
from centinela.generate.world import World

# Rates of each quirk (per row of that kind, or per establishment for habits).
RATES = {
    "count_stamped_early_hospitals": 0.25,  # establishments whose counts carry the shift start
    "count_stamped_next_morning": 0.15,  # establishments that stamp counts the next morning
    "count_late_days": 0.05,  # counts stamped 1–2 days after they were made
    "self_witness_habit_hospitals": 0.08,  # hospitals where the handler signs as witness
    "self_witness_habit_share": 0.7,  # of their wastes
    "night_waste_without_witness": 0.2,  # wastes 22:00–06:00 with no witness recorded
    "late_reported_days": 0.03,  # a day's rows written 5–30 days later in the file
    "resent_days": 0.01,  # a day's rows written twice (a file re-sent whole)
    "receipt_days_later": 0.05,  # receipts / transfer_in stamped 1–4 days after arrival
    "receipt_split": 0.03,  # receipts recorded as two rows (second one a day later)
    "transfer_out_after_receipt": 0.02,  # sender books its transfer_out the next day
    "receipt_in_packs": 0.002,  # receipt quantity recorded in packs instead of units
}
# Movement row positions (see writer.MOVEMENT_FIELDS).
EID, ETYPE, AT, EST, PROD, QTY, SERIAL, PROF, WIT = 0, 1, 2, 3, 4, 5, 9, 12, 18


class Noise:
    """Apply the quirks to each day's rows and pass them on to ``sink``."""

    def __init__(self, world: World, rng: catalog.FastRandom, sink: Callable[[list[tuple]], None],
                 protected: set[int] | None = None) -> None:
        self.sink, self.rng = sink, rng
        self.held: dict[int, list[list[tuple]]] = {}
        self.day = 0
        self.counts: dict[str, int] = {k: 0 for k in RATES}
        protected = protected or set()
        ids = {e.id: i for i, e in enumerate(world.ests)}
        self.idx = ids
        self.stamp_early = {e.id for e in world.ests
                            if rng.random() < RATES["count_stamped_early_hospitals"]}
        self.stamp_morning = {e.id for e in world.ests if e.id not in self.stamp_early
                              and rng.random() < RATES["count_stamped_next_morning"]}
        self.habit = {world.ests[h].id for h in world.hospitals + world.clinics
                      if h not in protected
                      and rng.random() < RATES["self_witness_habit_hospitals"]}
        self.packs = {p.code: p.units_per_pack for p in catalog.PRODUCTS}
        self.counts["self_witness_habit_hospitals"] = len(self.habit)
        self.establishments = {"count_stamped_early": len(self.stamp_early),
                               "count_stamped_next_morning": len(self.stamp_morning)}

    def day_rows(self, rows: list[tuple]) -> None:
        """Receive one simulated day, in time order."""
        rng, out = self.rng, []
        for row in rows:
            out.extend(self._row(list(row)))
        self.day += 1
        if out and rng.random() < RATES["late_reported_days"]:
            self.held.setdefault(self.day + 5 + rng.below(26), []).append(out)
            self.counts["late_reported_days"] += 1
        elif out:
            self.sink(out)
            if rng.random() < RATES["resent_days"]:
                self.sink(out)
                self.counts["resent_days"] += 1
        for batch in self.held.pop(self.day, ()):
            self.sink(batch)

    def flush(self) -> None:
        """Write what is still held back (reports that arrive after the year's end)."""
        for day in sorted(self.held):
            for batch in self.held[day]:
                self.sink(batch)
        self.held = {}

    def _row(self, r: list) -> list[tuple]:
        rng, et = self.rng, r[ETYPE]
        if et == "count":
            if r[EST] in self.stamp_early:
                r[AT] = _shift(r[AT], hours=-(4 + rng.below(5)))
                self.counts["count_stamped_early_hospitals"] += 1
            elif r[EST] in self.stamp_morning:
                r[AT] = _at_next_morning(r[AT], rng)
                self.counts["count_stamped_next_morning"] += 1
            elif rng.random() < RATES["count_late_days"]:
                r[AT] = _shift(r[AT], days=1 + rng.below(2))
                self.counts["count_late_days"] += 1
        elif et == "waste" and r[PROF]:
            if r[EST] in self.habit and rng.random() < RATES["self_witness_habit_share"]:
                r[WIT] = r[PROF]
                self.counts["self_witness_habit_share"] += 1
            elif r[WIT] and _night(r[AT]) and rng.random() < RATES["night_waste_without_witness"]:
                r[WIT] = ""
                self.counts["night_waste_without_witness"] += 1
        elif et in ("receipt", "transfer_in") and not r[SERIAL]:
            qty = int(float(r[QTY]))
            pack = self.packs.get(r[PROD], 1)
            if pack > 1 and qty % pack == 0 and qty >= pack and \
                    rng.random() < RATES["receipt_in_packs"]:
                r[QTY] = str(qty // pack)
                self.counts["receipt_in_packs"] += 1
            elif qty >= 2 and rng.random() < RATES["receipt_split"]:
                first = max(1, qty // 2)
                second = list(r)
                r[QTY], second[QTY] = str(first), str(qty - first)
                second[EID] = r[EID] + "-2"
                second[AT] = _shift(r[AT], days=1)
                self.counts["receipt_split"] += 1
                return [tuple(r), tuple(second)]
            elif rng.random() < RATES["receipt_days_later"]:
                r[AT] = _shift(r[AT], days=1 + rng.below(4))
                self.counts["receipt_days_later"] += 1
        elif et == "transfer_out" and rng.random() < RATES["transfer_out_after_receipt"]:
            r[AT] = _shift(r[AT], days=1)
            self.counts["transfer_out_after_receipt"] += 1
        return [tuple(r)]


def _parse(at: str) -> dt.datetime:
    return dt.datetime.fromisoformat(at)


def _shift(at: str, days: int = 0, hours: int = 0) -> str:
    return (_parse(at) + dt.timedelta(days=days, hours=hours)).isoformat()


def _at_next_morning(at: str, rng: catalog.FastRandom) -> str:
    d = _parse(at)
    nxt = (d + dt.timedelta(days=1)).replace(hour=7, minute=rng.below(60), second=0)
    return nxt.isoformat()


def _night(at: str) -> bool:
    hour = int(at[11:13])
    return hour >= 22 or hour < 6
