"""Peru's regions at three levels (district, province, department) with INEI population and the
hospital beds of the shipped IPRESS registry extract (the covariates of ``regional_outlier``)."""

from __future__ import annotations

import csv
from functools import lru_cache

from centinela.reference.ubigeo import data_path, districts

LEVELS = {6: "district", 4: "province", 2: "department"}
# Typical beds by IPRESS category when the extract leaves CAMAS empty (MINSA norms).
BEDS_BY_CATEGORY = {"II-1": 40, "II-2": 120, "II-E": 80, "III-1": 300, "III-2": 300, "III-E": 200}


@lru_cache(maxsize=4)
def population(level: int) -> dict[str, int]:
    """Return region code (``level`` digits of the ubigeo) → INEI 2025 population."""
    out: dict[str, int] = {}
    for code, d in districts().items():
        out[code[:level]] = out.get(code[:level], 0) + d.population
    return out


@lru_cache(maxsize=1)
def _hospitals() -> list[tuple[str, float, bool]]:
    rows = []
    with data_path("hospitals_ipress_operational.csv").open(encoding="utf-8", errors="replace") as fh:
        for r in csv.DictReader(fh):
            ub = (r.get("UBIGEO") or "").strip().zfill(6)
            cat = (r.get("Categoría") or "").strip()
            try:
                beds = float(r.get("CAMAS") or "")
            except ValueError:
                beds = float(BEDS_BY_CATEGORY.get(cat, 30))
            rows.append((ub, beds, cat.startswith("III")))
    return rows


@lru_cache(maxsize=4)
def beds(level: int) -> dict[str, tuple[float, bool]]:
    """Return region code → (hospital beds, has a level-III referral hospital)."""
    out: dict[str, tuple[float, bool]] = {}
    for ub, b, referral in _hospitals():
        k = ub[:level]
        prev = out.get(k, (0.0, False))
        out[k] = (prev[0] + b, prev[1] or referral)
    return out


def region_name(code: str) -> str:
    """Return a readable name of a district, province or department code."""
    ds = districts()
    for ub, d in ds.items():
        if ub.startswith(code):
            if len(code) == 6:
                return f"{d.district} ({d.province}, {d.department})"
            if len(code) == 4:
                return f"{d.province} ({d.department})"
            return d.department
    return code


REFERRAL_WORDS = ("neoplas", "oncolog", "cancer", "instituto nacional", "paliativ")


@lru_cache(maxsize=1)
def _referral_names() -> frozenset[tuple[str, str]]:
    """Return (department code, folded name) of IPRESS level-III and specialized hospitals."""
    from centinela.lib.text import fold

    out = set()
    with data_path("hospitals_ipress_operational.csv").open(encoding="utf-8", errors="replace") as fh:
        for r in csv.DictReader(fh):
            cat = (r.get("Categoría") or "").strip()
            if cat.startswith("III") or cat.endswith("-E"):
                ub = (r.get("UBIGEO") or "").strip().zfill(6)
                out.add((ub[:2], fold(r.get("Nombre del establecimiento") or "")))
    return frozenset(out)


# National hospitals and institutes (and the armed forces' and police's central hospitals)
# take patients referred from the whole country.
NATIONAL_WORDS = ("nacional", "militar central", "fuerza aerea", "naval", "central fap")


def is_national_referral(name: str | None) -> bool:
    """Return True for a hospital or institute that serves the whole country by its name
    (``Hospital Nacional …``, ``Instituto Nacional …``, the central military, air-force, naval
    and police hospitals)."""
    from centinela.lib.text import fold

    folded = fold(name or "")
    return any(w in folded for w in NATIONAL_WORDS)


def is_referral(name: str | None, ubigeo: str | None) -> bool:
    """Return True for a referral hospital that serves other districts: an IPRESS level-III or
    specialized (``-E``) hospital of the same name in the department, or a cancer, palliative or
    national institute by its name."""
    from centinela.lib.text import fold

    if not name:
        return False
    folded = fold(name)
    if any(w in folded for w in REFERRAL_WORDS):
        return True
    return ((ubigeo or "")[:2], folded) in _referral_names()
