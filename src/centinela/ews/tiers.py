"""Law 32250 quantity tiers for fentanyl and its analogues (a reference, not legal advice)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources


class TierError(ValueError):
    """Not enough (or contradictory) data to compute a mass."""


@lru_cache(maxsize=1)
def law() -> dict:
    """Return the shipped thresholds with their legal citations (``ews/data/law32250.json``)."""
    path = resources.files("centinela.ews") / "data" / "law32250.json"
    return json.loads(path.read_text(encoding="utf-8"))


@dataclass
class TierResult:
    mass_mg: float
    mass_basis: str
    tier: str
    label_es: str
    label_en: str
    article: str
    penalty_years: tuple[int, int]
    applies: bool
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        data = law()
        return {
            "mass_mg": round(self.mass_mg, 6), "mass_basis": self.mass_basis, "tier": self.tier,
            "label_es": self.label_es, "label_en": self.label_en, "article": self.article,
            "penalty_years": list(self.penalty_years), "applies": self.applies,
            "law": data["law"], "notes": list(self.notes),
            "disclaimer_es": data["disclaimer_es"], "disclaimer_en": data["disclaimer_en"],
        }


def mass_for(net_mass_mg: float | None = None, purity_percent: float | None = None,
             units: float | None = None, strength_mg_per_unit: float | None = None
             ) -> tuple[float, str]:
    """Return (mass in mg, how it was obtained): lab mass × purity, lab mass, or units × strength."""
    if net_mass_mg is not None:
        if net_mass_mg < 0:
            raise TierError("net_mass_mg must be zero or more")
        if purity_percent is not None:
            if not 0 < purity_percent <= 100:
                raise TierError("purity_percent must be in (0, 100]")
            return net_mass_mg * purity_percent / 100.0, (
                f"laboratory net mass {net_mass_mg:g} mg × purity {purity_percent:g}% "
                "(pure substance)")
        return net_mass_mg, (f"laboratory net mass {net_mass_mg:g} mg, purity not reported "
                             "(mass of the preparation, not of the pure substance)")
    if units is not None and strength_mg_per_unit is not None:
        if units < 0 or strength_mg_per_unit < 0:
            raise TierError("units and strength_mg_per_unit must be zero or more")
        return units * strength_mg_per_unit, (
            f"{units:g} units × {strength_mg_per_unit:g} mg per unit (registry product strength, "
            "as labelled)")
    raise TierError("need net_mass_mg (optionally with purity_percent) or units with "
                    "strength_mg_per_unit of a registry product")


def tier_for_mass(mass_mg: float) -> dict:
    """Return the tier entry of the law file that contains ``mass_mg``."""
    for t in law()["tiers"]:
        lo, hi = t["min_mg_exclusive"], t["max_mg_inclusive"]
        if (lo is None or mass_mg > lo) and (hi is None or mass_mg <= hi):
            return t
    raise TierError(f"no tier for {mass_mg} mg")  # pragma: no cover - tiers cover [0, inf)


def tier(net_mass_mg: float | None = None, purity_percent: float | None = None,
         units: float | None = None, strength_mg_per_unit: float | None = None,
         fentanyl_class: bool = True) -> TierResult:
    """Compute the Law 32250 tier for a quantity of fentanyl or an analogue."""
    mass, basis = mass_for(net_mass_mg, purity_percent, units, strength_mg_per_unit)
    t = tier_for_mass(mass)
    res = TierResult(mass_mg=mass, mass_basis=basis, tier=t["tier"], label_es=t["label_es"],
                     label_en=t["label_en"], article=t["article"],
                     penalty_years=tuple(t["penalty_years"]), applies=fentanyl_class)
    if not fentanyl_class:
        res.notes.append("the substance is not fentanyl nor an analogue: these tiers do not apply")
    if net_mass_mg is not None and purity_percent is None:
        res.notes.append("purity unknown: the pure mass may be lower than the figure used")
    return res
