"""Outpatient therapy courses: who gets which opioid, how much, how often, from whom."""

from __future__ import annotations

from dataclasses import dataclass, field

from centinela.generate.catalog import FastRandom

# Product mix of a new course by the prescriber's specialty: keys and cumulative weights.
_MIX = {
    "palliative_care": (("p12", "p25", "p50", "p75", "p100", "mort", "meth"),
                        (0.10, 0.45, 0.76, 0.86, 0.90, 0.96, 1.0)),
    "oncology": (("p12", "p25", "p50", "p75", "p100", "mort", "meth"),
                 (0.12, 0.50, 0.78, 0.86, 0.89, 0.97, 1.0)),
    "general_medicine": (("p12", "p25", "p50", "mort", "meth"),
                         (0.15, 0.45, 0.55, 0.85, 1.0)),
}
_DAYS = (10, 14, 15, 20, 28, 30)
_DAYS_CW = (0.05, 0.15, 0.30, 0.45, 0.60, 1.0)
# Mean number of fills of a course by specialty (cancer pain courses end sooner).
_MEAN_FILLS = {"palliative_care": 4.5, "oncology": 5.5, "general_medicine": 7.0}
MEAN_INTERVAL = 24.0


@dataclass(slots=True)
class Course:
    patient_id: str
    sex: str
    birth_year: int
    ubigeo: str
    outlet: int
    prescribers: list[int]
    key: str
    qty: int
    days_supply: int
    fills_left: int
    alt_outlet: int = -1
    early: int = 2  # refills come up to this many days before the supply runs out
    interval: int = 0  # fixed days between fills (planted behaviours), 0: follow the supply
    plan: list[tuple[int, int]] = field(default_factory=list)  # fixed (outlet, prescriber)
    extra: list[tuple[str, int]] = field(default_factory=list)  # co-dispensed (key, qty)
    retries: int = 0
    fill_no: int = 0


def patient_document(rng: FastRandom) -> str:
    """Return a synthetic patient document: mostly DNI, some CE, a few PSN tokens."""
    r = rng.random()
    if r < 0.93:
        return f"DNI:{(10_000_000 + rng.below(69_999_999))}"
    if r < 0.98:
        return f"CE:{(1_000_000 + rng.below(3_000_000)):09d}"
    return f"PSN:{rng.getrandbits(96):024x}"


def quantity_for(key: str, days: int, rng: FastRandom) -> int:
    """Return the units a prescription of ``days`` covers at an ordinary dose."""
    if key.startswith("p"):
        return -(-days // 3)  # one patch every 72 h
    if key == "mort":
        return 2 * days
    return rng.pick((2, 3)) * days


def daily_units(key: str) -> float:
    """Return the mean units per day an ordinary course of ``key`` uses."""
    return 1 / 3 if key.startswith("p") else (2.0 if key == "mort" else 2.5)


def new_course(rng: FastRandom, outlet: int, ubigeo_code: str, prescriber: int,
               specialty: str, team: list[int], alt_outlet: int) -> Course:
    """Draw an ordinary course for a patient of ``outlet`` prescribed by ``prescriber``."""
    keys, cw = _MIX.get(specialty, _MIX["general_medicine"])
    key = rng.pick_cw(keys, cw)
    days = rng.pick_cw(_DAYS, _DAYS_CW)
    mean = _MEAN_FILLS.get(specialty, 6.0)
    fills = 1
    while rng.random() > 1 / mean:
        fills += 1
    prescribers = [prescriber]
    if team and rng.random() < 0.2:
        other = rng.pick(team)
        if other != prescriber:
            prescribers.append(other)
    female = rng.random() < 0.52
    return Course(patient_document(rng), "F" if female else "M",
                  rng.randint(1935, 1995), ubigeo_code, outlet, prescribers, key,
                  quantity_for(key, days, rng), days, fills,
                  alt_outlet if rng.random() < 0.15 else -1)


def mean_fills(specialty: str) -> float:
    """Return the mean fills of a course prescribed by ``specialty``."""
    return _MEAN_FILLS.get(specialty, 6.0)


def mix(specialty: str) -> tuple[tuple[str, ...], tuple[float, ...]]:
    """Return the product keys and cumulative weights of a specialty's courses."""
    return _MIX.get(specialty, _MIX["general_medicine"])
