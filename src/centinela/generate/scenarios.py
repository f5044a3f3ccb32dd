"""Planted diversion scenarios and legitimate look-alikes, with their truth rows.

Each scenario picks its subject, magnitude, window and dates from the seed, changes the
simulation through :class:`~centinela.generate.sim.Mods`, and yields one truth row. Behaviours
follow real diversion cases (inflated orders, skimmed residues, forged serials, phantom
shipments), not any detector's rules.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from centinela.config import Settings
from centinela.generate.catalog import FastRandom
from centinela.generate.patients import Course, new_course, patient_document
from centinela.generate.seizures import seizure_row
from centinela.generate.sim import Mods, Sim
from centinela.generate.world import ONCOLOGY_INSTITUTE, World
from centinela.privacy import pseudonymize

PLANTED = (
    "prescriber_volume_outlier", "doctor_shopping", "high_mme", "suspicious_orders",
    "inventory_shrinkage", "waste_diversion", "self_witnessed_waste", "repeated_loss",
    "serial_duplicate", "shipment_not_received", "unauthorized_receipt",
    "expired_licence_receipt", "seized_lot_trace", "seized_serial_trace", "regional_surge",
    "uncertified_handler", "prescription_mill",
)
LOOKALIKES = (
    "palliative_high_volume", "oncology_institute_orders", "icu_expansion", "seasonal_spike",
    "care_team_patient", "icu_nurse_high_volume", "breakage_loss", "licence_renewed",
    "certified_before_deadline", "oncology_pharmacy", "discharge_pharmacy", "tourist_pharmacy",
)

# Detector families a planted scenario should trip (named by what they look at).
DETECTORS = {
    "seized_lot_trace": ["seizure_trace"],
    "seized_serial_trace": ["seizure_trace"],
    "repeated_loss": ["repeated_loss"],
    "serial_duplicate": ["serial_reuse"],
    "shipment_not_received": ["unreceived_transfer"],
}


@dataclass
class Plan:
    """The scenarios chosen for one world; ``finish`` turns them into truth rows."""

    world: World
    rng: FastRandom
    mods: Mods
    settings: Settings
    rows: list[dict] = field(default_factory=list)
    later: list[Callable[[Sim, list[tuple]], list[dict]]] = field(default_factory=list)
    used_est: set[int] = field(default_factory=set)
    used_prof: set[int] = field(default_factory=set)
    notes: dict[str, str] = field(default_factory=dict)
    side: list = field(default_factory=list)  # fills written beside the simulation (plant_mill)

    # ---- helpers -----------------------------------------------------------------------
    @property
    def days(self) -> int:
        return (self.world.end - self.world.start).days + 1

    def date(self, d: int) -> str:
        return (self.world.start + dt.timedelta(days=d)).isoformat()

    def day(self, after_start: int, before_end: int) -> int:
        """Draw a day at least ``after_start`` in and ``before_end`` before the end (shrunk to
        fit short periods)."""
        lo = min(after_start, self.days // 3)
        hi = max(lo, self.days - 1 - min(before_end, self.days // 3))
        return self.rng.randint(lo, hi)

    def window(self, lo_len: int, hi_len: int, earliest: int = 30) -> tuple[int, int]:
        """Draw a window of ``lo_len``..``hi_len`` days (shrunk to fit short periods)."""
        n = min(self.rng.randint(lo_len, hi_len), max(7, self.days // 2))
        earliest = min(earliest, self.days // 4)
        d0 = self.rng.randint(earliest, max(earliest, self.days - n - 1))
        return d0, min(self.days - 1, d0 + n - 1)

    def truth(self, scenario: str, kind: str, subject_kind: str, subject_id: str, d0: int,
              d1: int, detectors: list[str], description: str, **extra: object) -> dict:
        row = {"scenario": scenario, "kind": kind, "subject_kind": subject_kind,
               "subject_id": subject_id, "window_start": self.date(d0),
               "window_end": self.date(d1), "expected_detectors": detectors,
               "description": description, **extra}
        self.rows.append(row)
        return row

    def row(self, scenario: str, subject_kind: str, subject_id: str, d0: int, d1: int,
            description: str, kind: str = "planted", detectors: list[str] | None = None,
            **extra: object) -> dict:
        """Return a truth row known only after the simulation (not yet recorded)."""
        return {"scenario": scenario, "kind": kind, "subject_kind": subject_kind,
                "subject_id": subject_id, "window_start": self.date(d0),
                "window_end": self.date(d1),
                "expected_detectors": detectors or DETECTORS.get(scenario, []),
                "description": description, **extra}

    def pick_est(self, pool: list[int], cond: Callable[[int], bool] = lambda i: True) -> int:
        cands = [i for i in pool if i not in self.used_est and cond(i)]
        if not cands:
            cands = [i for i in pool if cond(i)] or pool
        i = self.rng.choice(sorted(cands))
        self.used_est.add(i)
        return i

    def pick_prof(self, pool: list[int]) -> int:
        cands = [p for p in pool if p not in self.used_prof] or pool
        p = self.rng.choice(sorted(cands))
        self.used_prof.add(p)
        return p

    def psn(self, doc: str) -> str:
        return pseudonymize(doc, key=self.settings.pseudonym_key)

    def outlets(self, dept: str) -> list[int]:
        return self.world.dept_outlets.get(dept, [])

    def busiest_dept(self, need_outlets: int, need_presc: int) -> str:
        w = self.world
        ok = [d for d in sorted(w.dept_outlets)
              if len(w.dept_outlets[d]) >= need_outlets
              and len(w.dept_prescribers.get(d, [])) >= need_presc]
        if ok:
            return self.rng.choice(ok)
        return max(sorted(w.dept_outlets), key=lambda d: len(w.dept_outlets[d]))

    def course(self, start: int, c: Course) -> None:
        self.mods.courses.append((start, c))

    def finish(self, sim: Sim, seized: list[tuple]) -> list[dict]:
        """Return the truth rows once the simulation has run (some ids are known only then)."""
        rows = list(self.rows)
        for fn in self.later:
            rows.extend(fn(sim, seized))
        order = {name: i for i, name in enumerate(PLANTED + LOOKALIKES)}
        rows.sort(key=lambda r: (r["kind"] != "planted", order.get(r["scenario"], 99),
                                 r["subject_id"]))
        return rows

    def baseline_fills_per_prescriber(self) -> float:
        w = self.world
        rate = sum(w.ests[i].course_rate for i in w.hospitals + w.clinics + w.pharmacies)
        n = sum(len(v) for v in w.dept_prescribers.values()) or 1
        return rate * 5.5 / n


__all__ = ["LOOKALIKES", "ONCOLOGY_INSTITUTE", "PLANTED", "Course", "Plan", "new_course",
           "patient_document", "seizure_row"]
