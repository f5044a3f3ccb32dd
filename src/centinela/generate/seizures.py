"""Seizures and forensic identifications: street opioids, analogues, nitazenes."""

from __future__ import annotations

import datetime as dt
import random

from centinela.generate import catalog
from centinela.reference import ubigeo

AGENCIES = (("PNP-DIRANDRO", 0.6), ("SUNAT", 0.25), ("DIGEMID", 0.15))
# Departments where seizures concentrate: the capital, ports, airports and border crossings.
_DEPT_W = {"15": 10, "07": 5, "24": 2, "21": 2, "23": 2, "17": 1.5, "16": 1.5, "20": 1,
           "13": 1, "04": 1, "08": 1, "25": 1}
_CONTEXTS = {"PNP-DIRANDRO": ("street", "street", "online", "parcel", "pharmacy"),
             "SUNAT": ("airport", "port", "parcel", "border"),
             "DIGEMID": ("pharmacy", "online", "pharmacy")}


def seizure_row(sid: str, when: str, code: str, agency: str, context: str, substance: str,
                smiles: str = "", form: str = "", units: str = "", mass: str = "",
                purity: str = "", product: str = "", lot: str = "", serial: str = "") -> tuple:
    """Return a seizures.csv row in field order."""
    return (sid, when, code, agency, context, substance, smiles, form, units, mass, purity,
            product, lot, serial)


def background(rng: random.Random, start: dt.date, days: int, scale: float) -> list[tuple]:
    """Draw the year's ordinary seizures (none traced to the registry)."""
    n = max(6, round(36 * scale))
    depts = list(_DEPT_W)
    cw, acc = [], 0.0
    for d in depts:
        acc += _DEPT_W[d]
        cw.append(acc)
    by_dept: dict[str, list[str]] = {}
    for code, dist in ubigeo.districts().items():
        if dist.population > 20_000:
            by_dept.setdefault(code[:2], []).append(code)
    rows = []
    for i in range(n):
        day = start + dt.timedelta(days=rng.randrange(days))
        when = f"{day.isoformat()}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00-05:00"
        dept = rng.choices(depts, cum_weights=cw)[0]
        code = rng.choice(sorted(by_dept[dept]))
        agency = rng.choices([a for a, _ in AGENCIES], [w for _, w in AGENCIES])[0]
        context = rng.choice(_CONTEXTS[agency])
        sid = f"INC-{day.year}-{i + 1:05d}"
        if rng.random() < 0.12:
            rows.append(seizure_row(sid, when, code, agency, context, "unknown white powder",
                                    form="powder", mass=f"{rng.uniform(0.5, 900):.1f}"))
            continue
        name, smiles, form = rng.choice(catalog.SEIZED_SUBSTANCES)
        reported = name if rng.random() < 0.7 else "unknown"
        units = str(rng.randint(5, 400)) if form == "pill" else ""
        mass = f"{rng.lognormvariate(3.5, 1.6):.1f}"
        purity = f"{rng.uniform(2, 85):.1f}" if rng.random() < 0.6 else ""
        rows.append(seizure_row(sid, when, code, agency, context, reported, smiles, form, units,
                                mass, purity))
    return rows
